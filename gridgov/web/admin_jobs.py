"""/admin/jobs: failed rq jobs (rq's FailedJobRegistry) and stuck outbox rows, with re-run buttons."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from gridgov.i18n import bilingual
from gridgov.jobs import queueing, status
from gridgov.services import jobs_admin

bp = Blueprint("admin_jobs", __name__, url_prefix="/admin/jobs")


@bp.before_request
@login_required
def admins_only():
    if current_user.role != "admin":
        abort(403)


def _failed_registry() -> FailedJobRegistry | None:
    if not current_app.config.get("REDIS_URL"):
        return None
    return FailedJobRegistry(queue=queueing.queue_for(current_app))


@bp.route("")
def index():
    failed, redis_error = [], None
    registry = _failed_registry()
    if registry is not None:
        try:
            ids = registry.get_job_ids(0, 199)
            for job in Job.fetch_many(ids, connection=registry.connection):
                if job is not None:
                    result = job.latest_result()
                    error = (result.exc_string or "") if result else ""
                    failed.append({"id": job.id, "description": job.description, "ended_at": job.ended_at,
                                   "error": (error.strip().splitlines() or [""])[-1]})
        except Exception as exc:  # Redis down: the page still shows the outbox side
            redis_error = type(exc).__name__
    figures = status.health_figures()["jobs"]
    return render_template("admin/jobs.html", failed=failed, figures=figures, redis_error=redis_error,
                           stuck=jobs_admin.stuck_outbox_rows())


@bp.route("/<job_id>/requeue", methods=["POST"])
def requeue(job_id: str):
    registry = _failed_registry()
    if registry is None:
        abort(404)
    try:
        jobs_admin.requeue_failed_job(registry, job_id, actor=current_user)
        flash(bilingual(f"已重新排队：{job_id}", f"Requeued: {job_id}"))
    except (NoSuchJobError, ValueError, KeyError):
        flash(bilingual(f"找不到失败任务：{job_id}", f"No failed job {job_id}"))
    return redirect(url_for("admin_jobs.index"))


@bp.route("/outbox/<int:outbox_id>/retry", methods=["POST"])
def retry_outbox(outbox_id: int):
    jobs_admin.retry_outbox_row(outbox_id, actor=current_user)
    flash(bilingual(f"已重新发送第 {outbox_id} 条", f"Outbox row {outbox_id} sent again"))
    return redirect(url_for("admin_jobs.index"))

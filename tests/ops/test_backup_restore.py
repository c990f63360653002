"""The documented backup (pg_dump custom format) restores into a fresh database that passes `audit verify`."""
import subprocess

import psycopg

from gridgov.extensions import db
from gridgov.models import User
from gridgov.services.workflow import fire_action
from tests.conftest import build_app, create_pg_database, drop_pg_database, upgrade_schema
from tests.integration.test_workflow_service import new_event


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_pg_dump_restore_then_audit_verify(tmp_path):
    # Own databases and no outer app context: the CLI must run against the app it is given.
    source, target = create_pg_database("gridgov_backup"), create_pg_database("gridgov_restore")
    try:
        app = build_app(source, tmp_path / "source")
        upgrade_schema(app)
        with app.app_context():
            from gridgov.demo.load import load_demo

            load_demo(seed=3, password="demo-pass-123", event_count=0)
            event = new_event(app)
            dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
            fire_action(event.id, "register", user=dispatcher)
            fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": "330521-CG"})
            db.session.remove()
            db.engine.dispose()

        dump = tmp_path / "gridgov.dump"
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _plain(source)], check=True)
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_plain(target)}", str(dump)],
                       check=True)

        restored = build_app(target, tmp_path / "restored")
        result = restored.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 0 and "ok: 3 log rows" in result.output, result.output
        with psycopg.connect(_plain(target), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
            # A row edited behind the app's back after the restore is caught by the same command.
            conn.execute("UPDATE event_log SET comment = 'tampered' WHERE seq = 2")
        broken = restored.test_cli_runner().invoke(args=["audit", "verify"])
        assert broken.exit_code == 1 and "seq 2" in broken.output, broken.output
        with restored.app_context():
            db.engine.dispose()
    finally:
        drop_pg_database(source)
        drop_pg_database(target)

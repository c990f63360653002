"""Photos on workflow actions and reports: the services' side of gridgov.media.

gridgov.media checks uploads by content and stores GPS-free copies under content-addressed names;
this module turns checked candidates into Photo rows inside the caller's transaction and undoes
the file writes when that transaction fails, so a rejected request leaves nothing behind.
"""
from __future__ import annotations

from flask import current_app

from gridgov.extensions import db
from gridgov.media import InvalidPhoto, PhotoCandidate, inspect_photos, remove_files, store_photos
from gridgov.models import Photo

__all__ = ["InvalidPhoto", "PhotoCandidate", "attach_photos", "discard_unreferenced", "inspect_photo",
           "inspect_uploads"]


def inspect_uploads(files) -> list[PhotoCandidate]:
    """Check every upload before anything is written (raises InvalidPhoto naming the bad file)."""
    files = [f for f in files if f is not None and getattr(f, "filename", None)]
    return inspect_photos(files, current_app.config) if files else []


def inspect_photo(stream, filename: str = "photo.jpg") -> PhotoCandidate:
    return inspect_photos([(stream, filename)], current_app.config)[0]


def attach_photos(event, candidates, *, kind: str, user=None, task=None) -> list[Photo]:
    """Write the files (once per content) and add their rows to the session; no commit."""
    stored = store_photos(candidates)
    rows = []
    for item in stored:
        row = Photo(event_id=event.id, task_id=task.id if task is not None else None, kind=kind,
                    uploaded_by=getattr(user, "id", None), **item.photo_fields())
        row.stored_file = item  # kept for the undo below; not a column
        db.session.add(row)
        rows.append(row)
    return rows


def discard_unreferenced(rows) -> None:
    """After a rolled-back transaction: remove the files it wrote that no committed row refers to."""
    remove_files([r.stored_file for r in rows if getattr(r, "stored_file", None) is not None])

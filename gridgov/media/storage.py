"""Content-addressed photo files under UPLOAD_DIR: ab/cd/<sha256>.<ext> and thumb/ab/cd/<sha256>.webp.

The name is the SHA-256 of the stored public bytes, so a retried or repeated upload lands on the
same file and is written once. Writes go through a temporary file and an atomic rename, so a
reader never sees half a photo. A use case that attaches photos follows one order — validate
every upload, write the files, commit the rows, undo the files if the commit fails:

    with staged_photos(request.files.getlist("photos")) as stored:
        db.session.add_all(Photo(event=event, **s.photo_fields()) for s in stored)
        db.session.commit()
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from flask import current_app
from sqlalchemy import select

from gridgov.extensions import db
from gridgov.media.intake import THUMB_EXT, PhotoCandidate, inspect_photos
from gridgov.models import Photo

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    mime: str
    ext: str
    width: int
    height: int
    size_bytes: int
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: datetime | None
    path: Path
    thumb_path: Path
    # True when this call created a file (public copy or thumbnail); only those are undone.
    written: bool

    def photo_fields(self) -> dict:
        """The keyword arguments a `Photo` row needs from the file."""
        return {
            "sha256": self.sha256, "mime": self.mime, "width": self.width, "height": self.height,
            "size_bytes": self.size_bytes, "exif_lon": self.exif_lon, "exif_lat": self.exif_lat,
            "exif_taken_at": self.exif_taken_at,
        }


def upload_root(upload_dir: str | os.PathLike | None = None) -> Path:
    return Path(upload_dir if upload_dir is not None else current_app.config["UPLOAD_DIR"])


def _shard(sha256: str) -> Path:
    if not SHA256_RE.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return Path(sha256[:2], sha256[2:4])


def public_path(root: Path, sha256: str, ext: str) -> Path:
    return root / _shard(sha256) / f"{sha256}.{ext}"


def thumb_path(root: Path, sha256: str) -> Path:
    return root / "thumb" / _shard(sha256) / f"{sha256}.{THUMB_EXT}"


def _write_once(path: Path, data: bytes) -> bool:
    """Write `data` at `path` unless a file is already there; True when this call wrote it."""
    if path.is_file() and path.stat().st_size == len(data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # photos are evidence: on disk before the row that points at them
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def store_photos(candidates: Iterable[PhotoCandidate], upload_dir: str | os.PathLike | None = None) -> list[StoredFile]:
    """Write each candidate's public copy and thumbnail; idempotent for identical content.

    If a write fails midway, the files this call already created are removed before re-raising.
    """
    root = upload_root(upload_dir)
    stored: list[StoredFile] = []
    try:
        for c in candidates:
            path, thumb = public_path(root, c.sha256, c.ext), thumb_path(root, c.sha256)
            wrote_thumb = _write_once(thumb, c.thumb_bytes)
            wrote_public = _write_once(path, c.public_bytes)
            stored.append(StoredFile(
                sha256=c.sha256, mime=c.mime, ext=c.ext, width=c.width, height=c.height,
                size_bytes=c.size_bytes, exif_lon=c.exif_lon, exif_lat=c.exif_lat,
                exif_taken_at=c.exif_taken_at, path=path, thumb_path=thumb,
                written=wrote_public or wrote_thumb,
            ))
    except BaseException:
        _unlink([s for s in stored if s.written])
        raise
    return stored


def _unlink(stored: Iterable[StoredFile]) -> None:
    for s in stored:
        s.path.unlink(missing_ok=True)
        s.thumb_path.unlink(missing_ok=True)


def remove_files(stored: Iterable[StoredFile]) -> list[StoredFile]:
    """Undo `store_photos` after the database transaction failed (call after the rollback).

    Removes the files this request created, unless a committed Photo row already refers to the
    same content. Checked on a separate connection, so a failed session does not matter and only
    committed rows count. Returns what was removed.

    A concurrent request that stored the same bytes a moment later and has not committed yet
    may lose its file here; that window is as short as one failed transaction and the report
    can be resent (the same bytes land on the same name again).
    """
    candidates = {s.sha256: s for s in stored if s.written}
    if not candidates:
        return []
    with db.engine.connect() as conn:
        referenced = set(conn.scalars(select(Photo.sha256).where(Photo.sha256.in_(candidates))).all())
    removed = [s for sha, s in candidates.items() if sha not in referenced]
    _unlink(removed)
    return removed


@contextmanager
def staged_photos(uploads, config: Mapping[str, Any] | None = None,
                  upload_dir: str | os.PathLike | None = None) -> Iterator[list[StoredFile]]:
    """Validate all uploads (InvalidPhoto before any write), store them, and yield the files.

    If the block raises — typically the commit of the rows — the session is rolled back and the
    files this call created are removed, so a refused request leaves neither rows nor files.
    """
    config = current_app.config if config is None else config
    stored = store_photos(inspect_photos(uploads, config), upload_dir)
    try:
        yield stored
    except BaseException:
        db.session.rollback()
        remove_files(stored)
        raise

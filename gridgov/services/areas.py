"""Storing areas and telling every process when they changed (the geofence rebuilds on that)."""
from __future__ import annotations

import hashlib
import secrets
import shutil
import time
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

import shapely
from flask import current_app

from gridgov.errors import AppError
from gridgov.extensions import database_key, db
from gridgov.models import Area, Setting
from gridgov.services import admin_audit
from gridgov.timeutil import utcnow

AREA_VERSION_KEY = "area_version"
LEVEL_ORDER = {"county": 0, "township": 1, "village": 2, "grid": 3}


def area_version() -> int:
    value = db.session.scalar(db.select(Setting.value).where(Setting.key == AREA_VERSION_KEY))
    return int(value) if value else 0


# engine URL → (monotonic time read, version): the geofence asks on every report, the answer
# changes only when areas are imported, so each process re-reads it at most every few seconds.
_version_seen: dict[str, tuple[float, int]] = {}
DEFAULT_VERSION_TTL_SECONDS = 2.0


def recent_area_version() -> int:
    """`area_version()`, re-read at most every AREA_VERSION_TTL_SECONDS per process. Another
    process's import is seen within that time; this process's own import at once (see bump)."""
    key = database_key()
    ttl = current_app.config.get("AREA_VERSION_TTL_SECONDS", DEFAULT_VERSION_TTL_SECONDS)
    seen = _version_seen.get(key)
    now = time.monotonic()
    if seen is not None and now - seen[0] < ttl:
        return seen[1]
    version = area_version()
    _version_seen[key] = (now, version)
    return version


def bump_area_version() -> int:
    setting = db.session.get(Setting, AREA_VERSION_KEY)
    if setting is None:
        setting = Setting(key=AREA_VERSION_KEY, value="0")
        db.session.add(setting)
    setting.value = str(int(setting.value or 0) + 1)
    setting.updated_at = utcnow()
    _version_seen.pop(database_key(), None)
    return int(setting.value)


def store_records(records: Iterable, *, commit: bool = True) -> int:
    """Insert or replace areas, parents first. Each record has code, name, level, parent_code, geometry."""
    ordered = sorted(records, key=lambda r: (LEVEL_ORDER[r.level], r.code))
    for record in ordered:
        geometry = record.geometry
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        area = db.session.get(Area, record.code) or Area(code=record.code)
        area.level = record.level
        area.name = record.name
        area.parent_code = record.parent_code
        area.geometry = shapely.to_wkb(geometry)
        area.min_lon, area.min_lat, area.max_lon, area.max_lat = min_lon, min_lat, max_lon, max_lat
        db.session.add(area)
    bump_area_version()
    if commit:
        db.session.commit()
    return len(ordered)


def load_geometry(area: Area):
    return shapely.from_wkb(area.geometry) if area.geometry is not None else None


def stored_records(level: str | None = None) -> list:
    """Areas from the database as geo.areas.AreaRecord, parents before children."""
    from geo.areas import AreaRecord

    query = db.select(Area).order_by(Area.code)
    if level:
        query = query.where(Area.level == level)
    rows = db.session.scalars(query).all()
    records = [AreaRecord(a.code, a.name, a.level, a.parent_code, load_geometry(a)) for a in rows if a.geometry]
    return sorted(records, key=lambda r: (LEVEL_ORDER[r.level], r.code))


def import_file(source, *, commit: bool = True, actor=None, file_name: str | None = None, **options):
    """Validate the whole file, then store it all or nothing, with its admin audit row; returns (records, report).

    Raises geo.importer.ImportRejected (with the full report) when anything is wrong; nothing is written then.
    """
    from geo.importer import ImportRejected, read_areas

    known = set(db.session.scalars(db.select(Area.code)))
    records, report = read_areas(source, known_codes=known, **options)
    if not report.ok:
        raise ImportRejected(report)
    store_records(records, commit=False)
    _audit_import(source, records, known, actor=actor, file_name=file_name, level=options.get("level"))
    if commit:
        db.session.commit()
    return records, report


def _audit_import(source, records, known: set, *, actor, file_name: str | None, level: str | None) -> None:
    path = Path(source) if isinstance(source, (str, Path)) else None
    sha256 = None
    if path is not None and path.is_file():
        digest = hashlib.sha256()
        with open(path, "rb") as handle:  # which file it was, beyond doubt
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sha256 = digest.hexdigest()
    codes = sorted(r.code for r in records)
    by_level: dict[str, int] = {}
    for r in records:
        by_level[r.level] = by_level.get(r.level, 0) + 1
    admin_audit.record("areas.import", actor=actor, target_type="areas", target_id=level or "",
                       data={"file": file_name or (path.name if path else ""), "sha256": sha256, "count": len(records),
                             "by_level": by_level, "new": sum(1 for c in codes if c not in known),
                             "replaced": sum(1 for c in codes if c in known), "first_codes": codes[:20]})


STAGING_DIR = "imports"
ORIGINAL_NAME = "original-name.txt"  # the uploaded file's name, for the audit row


def _staging_root() -> Path:
    root = Path(current_app.config["INSTANCE_DIR"]) / STAGING_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


# What a zipped Shapefile may unpack to: a few times the upload limit, not a zip bomb's gigabytes.
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
# Reading a zip the client sent can fail in all these ways; each means "not a zip we can read".
UNREADABLE_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error)


class UnreadableUpload(AppError):
    status, code = 400, "unreadable_upload"


def stage_upload(file_storage) -> str:
    """Keep an uploaded GeoJSON, or a zipped Shapefile, until the admin confirms; returns its token.

    Raises UnreadableUpload (and keeps nothing) for a zip that cannot be read or unpacks too large."""
    token = secrets.token_hex(16)
    name = (file_storage.filename or "").lower()
    folder = _staging_root() / token
    folder.mkdir()
    (folder / ORIGINAL_NAME).write_text(Path(file_storage.filename or "").name[:200], encoding="utf-8")
    if name.endswith(".zip"):
        archive = folder / "upload.zip"
        file_storage.save(archive)
        try:
            _unzip_flat(archive, folder)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)  # nothing half-staged stays behind
            raise
    else:
        file_storage.save(folder / "upload.geojson")
    return token


def _unzip_flat(archive: Path, folder: Path) -> None:
    """Every file of the archive into `folder` under its base name; directories, paths that climb out, and
    names that would replace the staging's own files are left out."""
    own = {ORIGINAL_NAME, archive.name, "upload.geojson"}
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [info for info in zipped.infolist() if not info.is_dir()]
            if sum(info.file_size for info in members) > MAX_UNZIPPED_BYTES:
                raise UnreadableUpload("压缩包解压后过大", "The zip archive unpacks to too much data")
            for info in members:
                base = Path(info.filename).name
                if ".." in info.filename or info.filename.startswith("/") or not base or base in own:
                    continue
                (folder / base).write_bytes(zipped.read(info))
    except UNREADABLE_ZIP as exc:
        raise UnreadableUpload("无法读取该 zip 压缩包", f"The zip archive cannot be read ({type(exc).__name__})") \
            from None


def staged_source(token: str) -> Path | None:
    if not token or not all(c in "0123456789abcdef" for c in token):
        return None
    folder = _staging_root() / token
    if not folder.is_dir():
        return None
    shapefiles = sorted(folder.glob("*.shp"))
    if shapefiles:
        return shapefiles[0]
    geojson = folder / "upload.geojson"
    return geojson if geojson.exists() else None


def discard_staged(token: str) -> None:
    source = staged_source(token)
    if source is not None:
        shutil.rmtree(source.parent, ignore_errors=True)


def preview_import(token: str, *, level: str | None = "grid") -> dict:
    """Validate a staged upload with geo.importer and report what an import would do; writes nothing."""
    from geo.importer import read_areas

    source = staged_source(token)
    if source is None:
        return {"ok": False, "level": level, "features": 0, "problems": ["找不到上传的文件 / the upload was not found"],
                "can_commit": False, "token": token}
    known = set(db.session.scalars(db.select(Area.code)))
    try:
        records, report = read_areas(str(source), level=level or None, known_codes=known)
    except Exception as exc:  # an unreadable file is a report line, not a 500
        return {"ok": False, "level": level, "features": 0, "can_commit": False, "token": token,
                "problems": [f"无法读取文件 / could not read the file: {type(exc).__name__}: {exc}"]}
    problems = [f"#{p.index if p.index is not None else '-'} {p.code or ''} {p.kind}: {p.message_zh} / {p.message_en}"
                for p in report.problems]
    return {"ok": report.ok, "level": level, "features": len(records) + len({p.index for p in report.problems}),
            "problems": problems, "can_commit": report.ok and bool(records), "token": token,
            "codes": sorted(r.code for r in records)[:20]}


def commit_import(token: str, *, level: str | None = "grid", actor=None) -> int:
    """Import a staged upload that passed its preview: all or nothing, then forget the upload."""
    source = staged_source(token)
    if source is None:
        raise AppError("找不到上传的文件，请重新上传", "The upload was not found; upload it again", status=404,
                       code="upload_not_found")
    original = source.parent / ORIGINAL_NAME
    file_name = original.read_text(encoding="utf-8") if original.exists() else None
    records, _ = import_file(str(source), level=level or None, actor=actor, file_name=file_name)
    discard_staged(token)
    return len(records)

"""Photo storage and the /media route, on SQLite and PostgreSQL, with real files in a scratch UPLOAD_DIR."""
from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from gridgov.extensions import db
from gridgov.media import InvalidPhoto, inspect_photo, remove_files, staged_photos, store_photos
from gridgov.media import samples
from gridgov.models import Area, Event, Photo, User
from tests.conftest import login


@pytest.fixture
def uploads(app_ctx, tmp_path, monkeypatch) -> Path:
    """A fresh, empty UPLOAD_DIR for this test (the app is shared by the session)."""
    root = tmp_path / "uploads"
    root.mkdir()
    monkeypatch.setitem(app_ctx.config, "UPLOAD_DIR", str(root))
    return root


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def user(username: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == username))


def make_event(*, village: str | None = None, township: str | None = None, reporter: User | None = None) -> Event:
    village = village or user("demo_worker").area_code
    event = Event(number=f"M-{uuid.uuid4().hex[:10]}", category_code="0102", lon=120.05, lat=30.62,
                  county_code="330521", township_code=township or village[:9], village_code=village,
                  state="reported", reporter_id=reporter.id if reporter else None)
    db.session.add(event)
    db.session.flush()
    return event


def attach(event: Event, data: bytes, name: str = "a.jpg"):
    with staged_photos([(io.BytesIO(data), name)]) as stored:
        db.session.add_all(Photo(event_id=event.id, **s.photo_fields()) for s in stored)
        db.session.commit()
    return stored[0]


# --- storage -------------------------------------------------------------------------------------

def test_photo_is_stored_under_its_content_hash_with_a_thumbnail(uploads):
    candidate = inspect_photo(samples.jpeg_with_gps(), "a.jpg", {})
    [stored] = store_photos([candidate])
    sha = stored.sha256
    assert stored.path == uploads / sha[:2] / sha[2:4] / f"{sha}.jpg"
    assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == sha
    assert stored.thumb_path == uploads / "thumb" / sha[:2] / sha[2:4] / f"{sha}.webp"
    assert stored.thumb_path.read_bytes() == candidate.thumb_bytes
    assert files_in(uploads) == sorted([stored.path, stored.thumb_path])  # no original, no temp files
    assert stored.photo_fields()["exif_lat"] == pytest.approx(samples.DEMO_LAT, abs=1e-6)
    assert b"GPS" not in stored.path.read_bytes() and b"Exif" not in stored.path.read_bytes()


def test_same_photo_twice_is_one_file_written_once(uploads):
    first = store_photos([inspect_photo(samples.jpeg_with_gps(seed=3), "a.jpg", {})])[0]
    mtime = first.path.stat().st_mtime_ns
    second = store_photos([inspect_photo(samples.jpeg_with_gps(seed=3), "again.jpg", {})])[0]
    assert first.sha256 == second.sha256
    assert first.written and not second.written
    assert first.path.stat().st_mtime_ns == mtime
    assert len(files_in(uploads)) == 2


@pytest.mark.parametrize("filename, make, code", samples.BAD_UPLOADS, ids=[row[0] for row in samples.BAD_UPLOADS])
def test_request_with_a_bad_photo_stores_nothing(uploads, filename, make, code):
    event = make_event()
    db.session.commit()
    photos = [(io.BytesIO(samples.jpeg_bytes(seed=11)), "good.jpg"), (io.BytesIO(make()), filename)]
    with pytest.raises(InvalidPhoto) as caught:
        with staged_photos(photos) as stored:
            db.session.add_all(Photo(event_id=event.id, **s.photo_fields()) for s in stored)
            db.session.commit()
    assert caught.value.code == code
    assert caught.value.message_zh and caught.value.message_en
    assert files_in(uploads) == []
    assert db.session.scalar(db.select(db.func.count(Photo.id))) == 0


def test_oversized_photo_in_a_request_stores_nothing(uploads, app_ctx, monkeypatch):
    data = samples.jpeg_bytes(size=(800, 600))
    monkeypatch.setitem(app_ctx.config, "MAX_PHOTO_BYTES", len(data) - 1)
    with pytest.raises(InvalidPhoto) as caught:
        with staged_photos([(io.BytesIO(samples.png_bytes()), "ok.png"), (io.BytesIO(data), "big.jpg")]):
            pass
    assert caught.value.status == 413
    assert files_in(uploads) == []


def test_failed_commit_removes_the_files_it_wrote(uploads):
    with pytest.raises(IntegrityError):
        with staged_photos([(io.BytesIO(samples.jpeg_bytes(seed=12)), "a.jpg")]) as stored:
            assert files_in(uploads)  # written before the rows
            db.session.add_all(Photo(event_id=987654321, **s.photo_fields()) for s in stored)  # no such event
            db.session.commit()
    assert files_in(uploads) == []


def test_failed_commit_keeps_files_that_a_committed_photo_uses(uploads):
    event = make_event()
    kept = attach(event, samples.jpeg_bytes(seed=13))
    kept.path.unlink()  # as if this request had been the one to (re)write it
    kept.thumb_path.unlink()
    with pytest.raises(IntegrityError):
        with staged_photos([(io.BytesIO(samples.jpeg_bytes(seed=13)), "again.jpg")]) as stored:
            assert stored[0].written
            db.session.add(Photo(event_id=987654321, **stored[0].photo_fields()))
            db.session.commit()
    assert kept.path.is_file() and kept.thumb_path.is_file()


def test_remove_files_leaves_files_it_did_not_write(uploads):
    [first] = store_photos([inspect_photo(samples.png_bytes(seed=14), "a.png", {})])
    [again] = store_photos([inspect_photo(samples.png_bytes(seed=14), "a.png", {})])
    assert remove_files([again]) == []
    assert first.path.is_file()
    assert remove_files([first]) == [first]
    assert files_in(uploads) == []


# --- the /media route ----------------------------------------------------------------------------

class UserClient:
    """A test client whose every request runs in its own app context.

    Requests made inside `app_ctx` reuse its app context, and Flask-Login caches the user in `g`,
    which lives there: a second client in the same test would be served as the first one's user.
    """

    def __init__(self, app, username: str | None):
        self.app, self.client = app, app.test_client()
        if username:
            assert self._in_own_context(login, self.client, username).status_code == 302

    def _in_own_context(self, call, *args, **kwargs):
        with self.app.app_context():
            return call(*args, **kwargs)

    def get(self, url: str, **kwargs):
        return self._in_own_context(self.client.get, url, **kwargs)


def client_for(app, username: str | None) -> UserClient:
    return UserClient(app, username)


def media_url(stored, thumb: bool = False) -> str:
    return f"/media/thumb/{stored.sha256}.webp" if thumb else f"/media/{stored.sha256}.{stored.ext}"


@pytest.fixture
def photo_in_first_village(uploads):
    event = make_event()
    return attach(event, samples.jpeg_with_gps(seed=20))


@pytest.mark.parametrize("username, visible", [
    ("demo_worker", True),        # the event's village
    ("demo_dispatcher", True),    # its township
    ("demo_supervisor", True),    # the county
    ("demo_admin", True),
    ("demo_handler", False),      # a department that never held a task for it
])
def test_media_route_follows_jurisdiction(app_ctx, photo_in_first_village, username, visible):
    client = client_for(app_ctx, username)
    for thumb in (False, True):
        response = client.get(media_url(photo_in_first_village, thumb))
        assert response.status_code == (200 if visible else 404)
        if visible:
            path = photo_in_first_village.thumb_path if thumb else photo_in_first_village.path
            assert response.data == path.read_bytes()
            assert response.mimetype == ("image/webp" if thumb else "image/jpeg")


def test_media_route_headers_are_private_immutable_and_nosniff(app_ctx, photo_in_first_village):
    response = client_for(app_ctx, "demo_worker").get(media_url(photo_in_first_village))
    cache = response.cache_control
    assert cache.private and not cache.public and cache.immutable and cache.max_age >= 30 * 24 * 3600
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["ETag"].strip('"') == photo_in_first_village.sha256


def test_media_route_answers_304_to_a_matching_etag(app_ctx, photo_in_first_village):
    client = client_for(app_ctx, "demo_worker")
    response = client.get(media_url(photo_in_first_village),
                          headers={"If-None-Match": f'"{photo_in_first_village.sha256}"'})
    assert response.status_code == 304


def test_anonymous_visitor_gets_no_photo(app_ctx, photo_in_first_village):
    response = client_for(app_ctx, None).get(media_url(photo_in_first_village))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_photo_of_another_township_is_hidden_from_the_dispatcher(app_ctx, uploads):
    townships = db.session.scalars(db.select(Area.code).where(Area.level == "township").order_by(Area.code)).all()
    other_village = db.session.scalar(
        db.select(Area.code).where(Area.parent_code == townships[1], Area.level == "village").limit(1))
    stored = attach(make_event(village=other_village), samples.png_bytes(seed=21), "b.png")
    assert client_for(app_ctx, "demo_dispatcher").get(media_url(stored)).status_code == 404
    assert client_for(app_ctx, "demo_supervisor").get(media_url(stored)).status_code == 200


def test_grid_worker_sees_photos_of_events_they_reported_elsewhere(app_ctx, uploads):
    worker = user("demo_worker")
    other_village = db.session.scalar(
        db.select(Area.code).where(Area.level == "village", Area.code != worker.area_code).order_by(Area.code.desc()).limit(1))
    stored = attach(make_event(village=other_village, reporter=worker), samples.webp_bytes(seed=22), "c.webp")
    assert client_for(app_ctx, "demo_worker").get(media_url(stored)).status_code == 200


def test_same_content_on_a_visible_and_a_hidden_event_is_served(app_ctx, uploads):
    townships = db.session.scalars(db.select(Area.code).where(Area.level == "township").order_by(Area.code)).all()
    far_village = db.session.scalar(
        db.select(Area.code).where(Area.parent_code == townships[-1], Area.level == "village").limit(1))
    hidden = attach(make_event(village=far_village), samples.jpeg_bytes(seed=23))
    client = client_for(app_ctx, "demo_dispatcher")
    assert client.get(media_url(hidden)).status_code == 404
    visible = attach(make_event(), samples.jpeg_bytes(seed=23))
    assert visible.sha256 == hidden.sha256
    assert client.get(media_url(hidden)).status_code == 200


@pytest.mark.parametrize("path", [
    "/media/{sha}.png",             # right hash, wrong extension
    "/media/thumb/{sha}.jpg",       # thumbnails are WebP
    "/media/{other}.jpg",           # unknown content
    "/media/{short}.jpg",           # not a hash at all
    "/media/..%2F..%2Fetc%2Fpasswd.jpg",
])
def test_media_route_404s_on_anything_but_a_known_name(app_ctx, photo_in_first_village, path):
    sha = photo_in_first_village.sha256
    url = path.format(sha=sha, other="0" * 64, short=sha[:10])
    assert client_for(app_ctx, "demo_admin").get(url).status_code == 404


def test_photo_row_with_a_missing_file_is_a_404_not_a_crash(app_ctx, photo_in_first_village):
    photo_in_first_village.path.unlink()
    assert client_for(app_ctx, "demo_admin").get(media_url(photo_in_first_village)).status_code == 404

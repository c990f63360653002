"""A logged-in browser shows a stored photo and its thumbnail from /media (real decoding, real cookies)."""
from __future__ import annotations

import io
import uuid

import pytest

from gridgov.extensions import db
from gridgov.media import samples, staged_photos
from gridgov.models import Event, Photo, User
from tests.browser.conftest import login_as

pytestmark = pytest.mark.browser


@pytest.fixture
def stored_photo(live_server):
    with live_server.app.app_context():
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        event = Event(number=f"B-{uuid.uuid4().hex[:10]}", category_code="0102", lon=120.05, lat=30.62,
                      county_code="330521", township_code=worker.area_code[:9], village_code=worker.area_code,
                      state="reported", reporter_id=worker.id)
        db.session.add(event)
        db.session.flush()
        with staged_photos([(io.BytesIO(samples.jpeg_with_gps(seed=30, size=(800, 600))), "a.jpg")]) as stored:
            db.session.add(Photo(event_id=event.id, **stored[0].photo_fields()))
            db.session.commit()
        db.session.remove()
    return stored[0]


def test_photo_and_thumbnail_render_for_the_reporter(page, stored_photo):
    login_as(page, "demo_worker")
    sizes = page.evaluate("""async (urls) => Promise.all(urls.map(src => new Promise((ok, fail) => {
        const img = new Image(); img.onload = () => ok([img.naturalWidth, img.naturalHeight]);
        img.onerror = () => fail(new Error('could not load ' + src)); img.src = src; })))""",
        [f"/media/{stored_photo.sha256}.jpg", f"/media/thumb/{stored_photo.sha256}.webp"])
    assert sizes == [[800, 600], [320, 240]]


def test_photo_is_not_served_to_a_handler_without_the_task(page, stored_photo):
    login_as(page, "demo_handler")
    response = page.request.get(f"/media/{stored_photo.sha256}.jpg")
    assert response.status == 404

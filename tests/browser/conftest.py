"""Browser fixtures: the app served on a real socket, and headless Chromium pages that record
console errors and leave a screenshot in test-artifacts/ for every test.

`live_server` serves a fresh SQLite file database holding the demo county (with a history of past
events for the dashboards), through werkzeug's threaded server on 127.0.0.1 and a random port.
`browser_page` opens a page; `login_page(page, username)` signs in through the real form.
Debian's chromium is used (never `playwright install`); tests are marked `@pytest.mark.browser`.
"""
from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import DEMO_PASSWORD, build_app, make_database, upgrade_schema

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class LiveServer:
    url: str
    app: object


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from werkzeug.serving import make_server

    tmp_dir = tmp_path_factory.mktemp("live")
    app = build_app(make_database("sqlite", tmp_dir), tmp_dir)
    upgrade_schema(app)
    with app.app_context():
        from gridgov.demo.history import seed_history
        from gridgov.demo.load import load_demo

        load_demo(seed=7, password=DEMO_PASSWORD, event_count=0)
        seed_history(seed=5, count=400, days=90)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        from gridgov.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class PageRecord:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.failed_requests.clear()

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors + self.failed_requests


@pytest.fixture
def browser_page(browser, live_server, request):
    """A fresh context and page; `page.record` collects console errors, uncaught exceptions and
    failed requests. A screenshot goes to test-artifacts/<test name>.png after the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    record = PageRecord()
    page.on("console", lambda msg: msg.type == "error" and record.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: record.page_errors.append(str(exc)))
    page.on("requestfailed", lambda req: record.failed_requests.append(f"{req.method} {req.url}: {req.failure}"))
    page.record = record
    page.base_url = live_server.url
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


def login_page(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(page.base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")

"""Browser test harness: the real app on a live server, driven by Debian's headless Chromium.

- `live_server` (session): a fresh SQLite file with the demo county (no events), served by werkzeug
  on 127.0.0.1 and a free port in a daemon thread; `.base_url`, `.app`, `.url(path)`.
- `browser` (session): Playwright's sync API on /usr/bin/chromium (never `playwright install`).
- `page`: a phone-sized page (360×640, touch) on the live server; `make_page(width=…, height=…)`
  for other sizes. Every page fails its test on any console error, uncaught exception or request
  to another origin (tests never touch the internet), and leaves a screenshot in
  test-artifacts/<test name>.png.
- `login_as(page, username)` and `check_accessibility(page)` (vendored axe-core; serious and
  critical violations fail).

Every test under tests/browser is marked `browser`; deselect with `-m "not browser"`.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import DEMO_PASSWORD, build_app, make_database, upgrade_schema

CHROMIUM = os.environ.get("GRIDGOV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
PHONE = {"width": 360, "height": 640}
AXE_JS = Path(__file__).resolve().parents[2] / "gridgov" / "static" / "vendor" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    base_url: str
    app: object

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from werkzeug.serving import make_server

    from gridgov.demo.load import load_demo

    tmp_dir = tmp_path_factory.mktemp("live-server")
    # CSRF stays on: the browser submits the real forms with their tokens.
    app = build_app(make_database("sqlite", tmp_dir), tmp_dir, WTF_CSRF_ENABLED=True)
    upgrade_schema(app)
    with app.app_context():
        from gridgov.demo.history import seed_history

        load_demo(seed=7, password=DEMO_PASSWORD, event_count=0)
        seed_history(seed=5, count=400, days=90)  # the dashboard needs a past to chart
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        from gridgov.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (Debian: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageProblems:
    errors: list[str] = field(default_factory=list)


def _artifact_path(config, test_name: str, suffix: str = "") -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")
    folder = Path(config.rootpath) / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder / f"{safe}{suffix}.png"


@pytest.fixture
def make_page(browser, live_server, request):
    """Factory for pages on the live server; all are checked and photographed at teardown."""
    opened = []

    def _make(width: int = PHONE["width"], height: int = PHONE["height"], *, mobile: bool | None = None, **options):
        mobile = width < 600 if mobile is None else mobile
        context = browser.new_context(
            base_url=live_server.base_url, viewport={"width": width, "height": height},
            is_mobile=mobile, has_touch=mobile, locale="zh-CN", timezone_id="Asia/Shanghai", **options,
        )
        problems = PageProblems()
        origin = live_server.base_url

        def _only_our_origin(route):
            url = route.request.url
            if url.startswith(origin) or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                problems.errors.append(f"request to another origin blocked: {url}")
                route.abort()

        context.route("**/*", _only_our_origin)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda msg: msg.type == "error" and problems.errors.append(
            f"console error: {msg.text} ({msg.location.get('url', '')}:{msg.location.get('lineNumber', '')})"))
        page.on("pageerror", lambda exc: problems.errors.append(f"uncaught exception: {exc}"))
        opened.append((page, context, problems))
        return page

    yield _make

    failures = []
    for index, (page, context, problems) in enumerate(opened):
        suffix = f"-{index + 1}" if len(opened) > 1 else ""
        try:
            page.screenshot(path=str(_artifact_path(request.config, request.node.name, suffix)), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own result
            failures.append(f"screenshot failed: {exc}")
        context.close()
        failures.extend(problems.errors)
    if failures:
        pytest.fail("browser reported problems:\n  " + "\n  ".join(failures), pytrace=False)


@pytest.fixture
def desktop_page(make_page):
    """A console-sized page (1280×900) on the live server."""
    return make_page(1280, 900)


@pytest.fixture
def page(make_page):
    """A phone-sized page (360×640) on the live server."""
    return make_page()


def login_as(page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real form and land on the page it redirects to."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # the header has forms too (logout, language)
    if "/login" in page.url:
        alert = page.locator("[role=alert]")
        raise AssertionError(f"login as {username} failed: {alert.inner_text() if alert.count() else page.url}")


def check_accessibility(page, *, impacts=FAILING_IMPACTS, disable: tuple[str, ...] = ()) -> dict:
    """Run axe-core on the current page; fail on violations of the given impacts. Returns axe's result."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol rather than as a <script> tag, so a page's
        # Content-Security-Policy (rightly) refusing inline scripts does not stop the check.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
        assert page.evaluate("() => typeof window.axe?.run") == "function", "axe-core did not load"
    options = {"resultTypes": ["violations"]}
    if disable:
        options["rules"] = {rule: {"enabled": False} for rule in disable}
    result = page.evaluate("async (options) => await axe.run(document, options)", options)
    bad = [v for v in result["violations"] if v.get("impact") in impacts]
    if bad:
        lines = []
        for v in bad:
            targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            lines.append(f"[{v['impact']}] {v['id']}: {v['help']} — {targets} ({v['helpUrl']})")
        pytest.fail(f"accessibility violations on {page.url}:\n  " + "\n  ".join(lines), pytrace=False)
    return result

"""The supervisor dashboard in headless Chromium: charts and map render, no console errors."""
import pytest

from tests.browser.conftest import login_as

pytestmark = pytest.mark.browser

CANVAS_INKED = """(sel) => {
  const canvas = document.querySelector(sel + ' canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const ctx = canvas.getContext('2d');
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked++;
  return inked;
}"""


def test_supervisor_dashboard_renders_charts_and_map(desktop_page):
    page = desktop_page
    login_as(page, "demo_supervisor")
    page.goto("/dashboard?period=last_30_days")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("统计看板")
    for chart in ("#chart-trend", "#chart-children", "#chart-categories"):
        page.wait_for_selector(chart + " canvas")
        assert page.evaluate(CANVAS_INKED, chart) > 500, chart
    # Leaflet draws polygons and grid bins on one canvas (preferCanvas) once the GeoJSON arrived.
    page.wait_for_function("!!document.querySelector('#map .leaflet-overlay-pane canvas')")
    page.wait_for_function(f"({CANVAS_INKED})('#map .leaflet-overlay-pane') > 1000")
    assert page.locator(".kpi").count() >= 10


def test_drill_down_from_a_township_to_its_event_list(desktop_page):
    page = desktop_page
    login_as(page, "demo_supervisor")
    page.goto("/dashboard?period=last_30_days")
    first = page.locator("table.ranking[data-grouping=township] tbody tr").first
    expected = first.locator("td").nth(5).inner_text()
    first.locator("td").nth(5).locator("a").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith(f"结案数：{expected}")
    assert page.locator("#event-list tbody tr").count() == min(int(expected), 50)

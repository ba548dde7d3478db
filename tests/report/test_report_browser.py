"""The report in a real headless Chromium (Debian `chromium`, installed by .ci/run; never downloaded)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import NOW
from tests.report.seed import seed_everything
from turbomode.context import Context
from turbomode.report import write_report

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not found:  # a missing browser is a failure, never a skip
        pytest.fail("Chromium is not installed: run .ci/run (it apt-installs `chromium`) or install it yourself")
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A loaded report page, with what the browser said while loading it."""

    def __init__(self, browser, path: Path, at=NOW, width: int = 1280):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        # The page judges staleness by the browser's clock when it is opened: open it at ``at``.
        self.page.clock.install(time=at)
        self.console: list[str] = []  # errors only: what a broken page reports
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def visible_rows(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#signals tbody tr.signal:not([hidden])",
            """rows => rows.map(r => ({symbol: r.querySelector('td[data-key=symbol]').textContent,
                 type: r.dataset.type, sector: r.dataset.sector,
                 confidence: parseFloat(r.querySelector('td[data-key=confidence]').dataset.v)}))""")


def make_report(home: Path, signal_age_hours: float) -> Path:
    ctx = Context.load(home)
    seed_everything(ctx.connect(), NOW, signal_age_hours)
    path = write_report(ctx, NOW)
    ctx.close()
    return path


@pytest.fixture
def fresh_page(browser, home):
    p = Page(browser, make_report(home, signal_age_hours=2))
    yield p
    p.page.close()


def test_the_page_loads_with_no_console_errors_and_no_network(fresh_page):
    assert fresh_page.console == []
    assert all(u.startswith("file://") for u in fresh_page.requests), fresh_page.requests
    assert fresh_page.page.title().startswith("TurboMode signals")
    assert len(fresh_page.visible_rows()) == 24
    assert fresh_page.page.locator("svg.chart path").count() == 2


def test_rows_start_by_confidence_descending_and_a_click_reverses_them(fresh_page):
    before = [r["confidence"] for r in fresh_page.visible_rows()]
    assert before == sorted(before, reverse=True)

    fresh_page.page.click("#signals th[data-key=confidence] button")

    after = [r["confidence"] for r in fresh_page.visible_rows()]
    assert after == sorted(before) and after != before
    assert fresh_page.page.get_attribute("#signals th[data-key=confidence]", "aria-sort") == "ascending"


def test_clicking_symbol_sorts_alphabetically(fresh_page):
    fresh_page.page.click("#signals th[data-key=symbol] button")
    symbols = [r["symbol"] for r in fresh_page.visible_rows()]
    assert symbols == sorted(symbols)


def test_the_text_and_select_filters_hide_rows(fresh_page):
    page = fresh_page.page
    page.fill("#filter-text", "s1")
    shown = fresh_page.visible_rows()
    assert 0 < len(shown) < 24 and all(r["symbol"].lower().startswith("s1") for r in shown)
    assert page.text_content("#signal-count") == f"{len(shown)} of 24 signals"

    page.fill("#filter-text", "")
    page.select_option("#filter-type", "SELL")
    shown = fresh_page.visible_rows()
    assert len(shown) == 8 and {r["type"] for r in shown} == {"SELL"}

    page.select_option("#filter-sector", "Energy")
    assert {(r["type"], r["sector"]) for r in fresh_page.visible_rows()} == {("SELL", "Energy")}

    page.fill("#filter-text", "no such symbol")
    assert fresh_page.visible_rows() == [] and page.is_visible("#no-match")


def test_fresh_signals_show_no_stale_banner_but_sample_data_is_labelled(fresh_page):
    assert fresh_page.page.locator("#stale-banner").count() == 0
    assert fresh_page.page.is_visible("#sample-banner")


def test_the_stale_banner_shows_for_old_signals(browser, home):
    p = Page(browser, make_report(home, signal_age_hours=72))
    try:
        assert p.page.is_visible("#stale-banner")
        assert "STALE" in p.page.text_content("#stale-banner")
        assert "24 h freshness limit" in p.page.text_content("#stale-banner")
        assert p.console == []
    finally:
        p.page.close()


def test_a_page_written_by_the_cli_for_an_empty_home_loads_cleanly(browser, cli, tmp_path, fresh_db):
    # an empty database (a new install after its first command): nothing has run yet
    out = tmp_path / "out" / "page.html"
    result = cli("report", "--out", str(out))
    assert result.exit_code == 0, result.output
    p = Page(browser, out)
    try:
        assert p.console == []
        assert p.visible_rows() == []
        assert p.page.is_visible("#stale-banner")  # no scan ever ran
        assert "No backtest yet" in p.page.text_content("#backtest-section")
    finally:
        p.page.close()


# --- issue 10 item 18: "Last updated ... ago" and STALE are computed when the page is opened -------

def test_last_updated_and_stale_are_judged_when_the_page_is_opened_not_when_it_was_written(browser, home):
    path = make_report(home, signal_age_hours=17 / 60)  # written at NOW, signals 17 minutes old
    p = Page(browser, path, at=NOW)
    try:
        assert p.page.text_content("#last-updated").endswith("(17 min ago)")
        assert p.page.locator("#stale-banner").count() == 0
    finally:
        p.page.close()
    # the same file, opened five days later (Wednesday: two NYSE sessions have closed since)
    p = Page(browser, path, at=NOW + timedelta(days=5))
    try:
        assert p.page.text_content("#last-updated").endswith("(5 days ago)")
        assert p.page.text_content("#age-last-updated") == "5 days ago"
        assert p.page.is_visible("#stale-banner")
        assert "older than the 24 h freshness limit" in p.page.text_content("#stale-banner")
        assert p.console == [] and all(u.startswith("file://") for u in p.requests)
    finally:
        p.page.close()


def test_a_page_written_stale_stays_stale_and_its_age_keeps_growing(browser, home):
    path = make_report(home, signal_age_hours=72)
    p = Page(browser, path, at=NOW + timedelta(hours=30))
    try:
        assert p.page.is_visible("#stale-banner")
        assert p.page.text_content("#last-updated").endswith("(4 days ago)")  # 72 h + 30 h
    finally:
        p.page.close()


@pytest.mark.parametrize("later", [timedelta(0), timedelta(hours=20), timedelta(days=1, hours=9),
                                   timedelta(days=3), timedelta(days=4, hours=10), timedelta(days=12)],
                         ids=lambda d: f"+{d}")
def test_the_page_and_status_agree_on_staleness_at_any_later_time(browser, home, later):
    from turbomode.store.state import signal_freshness

    path = make_report(home, signal_age_hours=2)
    ctx = Context.load(home)
    try:
        stale_by_status = not signal_freshness(ctx.connect(), NOW + later, 24).fresh
    finally:
        ctx.close()
    p = Page(browser, path, at=NOW + later)
    try:
        assert p.page.locator("#stale-banner").count() == int(stale_by_status)
    finally:
        p.page.close()


# --- issue 10 item 21: the report reads on a phone -------------------------------------------------

def test_the_report_reads_on_a_390_pixel_phone_screen(browser, home, tmp_path):
    p = Page(browser, make_report(home, signal_age_hours=2), width=390)
    try:
        page = p.page
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        # every cell of every table is on screen, the backtest's ten columns included
        off = page.evaluate("""() => Array.from(document.querySelectorAll('table td'))
            .filter(td => td.offsetParent !== null)
            .map(td => td.getBoundingClientRect())
            .filter(r => r.left < 0 || r.right > 390.5).length""")
        assert off == 0
        sharpe = page.locator("#backtest-metrics td[data-label='Sharpe']").first
        assert sharpe.is_visible() and sharpe.bounding_box()["x"] + sharpe.bounding_box()["width"] <= 390
        assert p.console == []
        shot = tmp_path / "report-390.png"
        page.screenshot(path=str(shot), full_page=True)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 390  # IHDR width
        # filtering still works in the phone layout
        page.select_option("#filter-type", "SELL")
        assert {r["type"] for r in p.visible_rows()} == {"SELL"}
    finally:
        p.page.close()

"""Building and writing the report, without a browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import NOW
from tests.report.seed import seed_backtest, seed_everything, seed_models, seed_signals
from turbomode.clock import iso
from turbomode.context import Context
from turbomode.store.db import connect
from turbomode.report import write_report
from turbomode.report.charts import _nice_ticks, equity_svg


@pytest.fixture
def ctx(home):
    c = Context.load(home)
    yield c
    c.close()


def test_it_writes_to_the_home_by_default_and_leaves_no_temporary_file(ctx, home):
    seed_everything(ctx.connect(), NOW)
    (home / "report.html").write_text("old page")
    path = write_report(ctx, NOW)
    assert path == home / "report.html"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "old page" not in text
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []


def test_values_from_the_database_are_escaped(ctx):
    conn = ctx.connect()
    seed_signals(conn, iso(NOW))
    conn.execute("UPDATE active_signals SET symbol = '<script>alert(1)</script>', sector = 'A&B \"x\"' WHERE id = 1")
    text = write_report(ctx, NOW).read_text()
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'data-sector="A&amp;B &quot;x&quot;"' in text


def test_real_data_gets_no_sample_banner(ctx):
    seed_signals(ctx.connect(), iso(NOW - timedelta(hours=1)), source="yfinance")
    text = write_report(ctx, NOW).read_text()
    assert 'id="sample-banner"' not in text and 'id="stale-banner"' not in text


def test_signals_past_the_freshness_limit_and_before_the_last_session_are_stale(ctx):
    # created (and for) Wednesday 2026-01-21; at NOW (Friday noon) the last completed session is Thursday
    seed_signals(ctx.connect(), iso(NOW - timedelta(hours=54)), source="yfinance")
    text = write_report(ctx, NOW).read_text()
    assert 'id="stale-banner"' in text and "2 days ago" in text


def test_the_latest_backtest_is_drawn_with_both_curves(ctx):
    conn = ctx.connect()
    seed_backtest(conn)
    newest = seed_backtest(conn)
    conn.execute("UPDATE backtest_runs SET created_at = '2026-01-20T00:00:00Z', start_date = '2023-03-03'"
                 " WHERE id = ?", (newest,))
    text = write_report(ctx, NOW).read_text()
    assert "test period 2023-03-03" in text and "5 folds" in text
    assert text.count('<path d="M') == 2 and "Buy-and-hold" in text


def test_the_champions_calibration_is_drawn_as_reliability_diagrams_all_sectors_and_each_on_demand(ctx):
    import re

    seed_everything(ctx.connect(), NOW)
    seed_models(ctx.connect(), NOW)
    page = write_report(ctx, NOW).read_text()
    section = page[page.index('id="calibration-section"'):page.index('id="sectors-section"')]
    assert "ECE P(BUY) 0.012, P(SELL) 0.009" in section and "3,420 rows" in section
    assert section.count('<svg class="chart reliability"') == 3  # all sectors, then Energy and Utilities
    assert section.count("<details") == 2 and "<summary>Energy" in section
    dots = re.findall(r"<title>(BUY|SELL): predicted ([0-9.]+), observed ([0-9.]+), ([0-9,]+) rows</title>", section)
    assert ("BUY", "0.430", "0.410", "120") in dots and len(dots) == 3 * 5


def test_an_equity_curve_needs_two_points():
    assert "Not enough" in equity_svg([("2026-01-02", 1.0, 1.0)])
    svg = equity_svg([("2026-01-02", 100.0, 50.0), ("2026-01-05", 110.0, 50.0)])
    assert "Strategy +10%" in svg and "Buy-and-hold +0.0%" in svg


def test_chart_gridlines_use_round_steps():
    assert _nice_ticks(0.95, 1.62, 5) == [1.0, 1.2, 1.4, 1.6]


def test_an_unwritable_out_path_is_a_one_line_error(cli, tmp_path, fresh_db):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = cli("report", "--out", str(blocker / "report.html"))
    assert result.exit_code == 2 and "choose another --out" in result.output
    assert "Traceback" not in result.output


def test_report_help_has_an_example(cli):
    assert "Example:" in cli("report", "--help").output


def test_what_status_calls_unhealthy_is_listed_with_its_fix(ctx):
    seed_everything(ctx.connect(), NOW)
    text = write_report(ctx, NOW).read_text()
    assert 'id="health-banner"' in text
    assert "no champion model; run `turbomode train`" in text
    assert "train&#x27;s last run" in text or "train's last run" in text  # the seeded failed train run


def test_a_scan_rewrites_the_report_when_configured(cli, home, monkeypatch):
    import time_machine

    from tests.tasks import scan_doubles as d
    from tests.tasks.test_scan_task import DAYS, FUTURE
    from turbomode.tasks import scan as scan_task

    d.write_home(home)
    toml = home / "turbomode.toml"
    toml.write_text(toml.read_text().replace("[signals]\n", "[signals]\nrefresh_report = true\n"))
    monkeypatch.setattr(scan_task, "_load_champions", lambda ctx: d.FakeChampions({"AAA": (0.7, 0.1, 0.2)}))
    monkeypatch.setattr(scan_task, "_compute_features", d.fake_features)
    monkeypatch.setattr(scan_task, "_vol_last", d.fake_vol)
    conn = connect(home / "turbomode.db")
    d.add_bars(conn, "AAA", DAYS)
    d.add_sessions(conn, DAYS + FUTURE)
    conn.close()

    with time_machine.travel(NOW, tick=False):
        result = cli("scan", "--no-deps")

    assert result.exit_code == 0, result.output
    page = (home / "report.html").read_text()
    assert '<strong>AAA</strong>' in page and 'id="stale-banner"' not in page


def test_a_report_that_cannot_be_written_does_not_fail_the_scan(home, monkeypatch):
    from turbomode.tasks import scan as scan_task

    def broken(ctx, now, path=None):
        raise PermissionError(13, "Permission denied", str(home / "report.html"))

    monkeypatch.setattr("turbomode.report.write_report", broken)
    warnings: list[str] = []
    assert scan_task._refresh_report(None, NOW, warnings) is None
    assert warnings and "report.html not refreshed" in warnings[0]


def test_open_hands_the_file_to_the_browser_and_says_so_when_there_is_none(cli, home, monkeypatch, fresh_db):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or False)
    result = cli("report", "--open")
    assert result.exit_code == 0
    assert opened == [(home / "report.html").resolve().as_uri()]
    assert "could not start a browser" in result.output


def test_a_one_sided_mix_of_open_signals_is_a_warning_on_the_page(ctx):
    conn = ctx.connect()
    seed_signals(conn, iso(NOW), n=12)
    conn.execute("UPDATE active_signals SET signal_type = 'SELL'")
    text = write_report(ctx, NOW).read_text()
    assert 'id="warning-banner"' in text and "12 of the 12 open signals (100%) are SELL" in text


def test_a_two_sided_mix_of_open_signals_raises_no_warning(ctx):
    seed_signals(ctx.connect(), iso(NOW), n=12)  # a third SELL
    assert "open signals" not in write_report(ctx, NOW).read_text()


def test_the_all_sectors_calibration_is_the_champions_not_the_last_runs_one_sector(ctx):
    from tests.report.seed import RELIABILITY
    from turbomode.store import models

    conn = ctx.connect()
    seed_everything(conn, NOW)
    seed_models(conn, NOW)  # Energy and Utilities champions of v20260118, 3,420 test rows each
    # then `train --sector Energy` promotes a new Energy whose test window was badly calibrated
    energy = {"rows": 1000, "ece_buy": 0.2, "ece_sell": 0.0, "brier_buy": 0.25, "brier_sell": 0.20,
              "reliability": {"BUY": [{"lo": 0.4, "hi": 0.5, "predicted": 0.45, "observed": 0.25, "count": 1000}],
                              "SELL": [{"lo": 0.4, "hi": 0.5, "predicted": 0.45, "observed": 0.45, "count": 1000}]}}
    files = [{"sector": "Energy", "model_type": "ensemble", "path": "v2/Energy/ensemble.json", "sha256": "x",
              "windows": {"test_start": "2025-08-01", "test_end": "2026-01-09"}, "metrics": {"test": energy},
              "feature_names": []}]
    models.record_version(conn, version="v20260125", now=NOW, files=files, promoted=["Energy"],
                          run={"status": "succeeded", "metrics": {"test": energy}})
    page = write_report(ctx, NOW).read_text()
    head = page[page.index('id="calibration-section"'):page.index("<details")]
    # Utilities' v20260118 (3,420 rows) and Energy's v20260125 (1,000), not the subset run's 1,000 alone
    assert "4,420 rows" in head and "v20260118, v20260125" in head
    buy_error = (0.01 * 900 + 0.01 * 2400 + 0.02 * 120 + 0.2 * 1000) / 4420
    assert f"ECE P(BUY) {buy_error:.3f}" in head
    assert sum(b["count"] for b in RELIABILITY["BUY"]) == 3420


def test_a_folder_where_the_home_report_goes_is_a_one_line_error(cli, home, fresh_db):
    (home / "report.html").mkdir()
    result = cli("report")
    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert f"{home / 'report.html'} is a folder" in result.output and "--out" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output

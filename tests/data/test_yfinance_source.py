"""The yfinance source, offline: ``yfinance.download`` replaced by frames shaped exactly as
yfinance 1.7 returns them (columns MultiIndex ['Price', 'Ticker'] sorted by field, index 'Date',
a failed ticker as all-NaN columns with its reason logged on the ``yfinance`` logger)."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import date

import numpy as np
import pandas as pd
import pytest
import time_machine
import yfinance

from tests.conftest import NOW
from turbomode.data.sources import yfinance as yfsource

FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
UNIVERSE = {"AAPL": "Information Technology", "MSFT": "Information Technology", "XOM": "Energy",
            "ZZZZ": "Energy"}
RATE = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
NETWORK = ("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
           "See https://curl.se/libcurl/c/libcurl-errors.html first for more details.")


def yahoo_frame(tickers, start, end, failed=()):
    """What yf.download(..., auto_adjust=False, group_by='column', multi_level_index=True) returns."""
    days = pd.bdate_range(start, pd.Timestamp(end) - pd.Timedelta(days=1))
    tickers = sorted({t.upper() for t in tickers})
    cols = pd.MultiIndex.from_product([FIELDS, tickers], names=["Price", "Ticker"])
    data = np.full((len(days), len(cols)), np.nan)
    for j, (field, t) in enumerate(cols):
        if t in failed:
            continue
        base = 100.0 + (sum(map(ord, t)) % 50) + np.arange(len(days)) * 0.1
        data[:, j] = {"Adj Close": base * 0.98, "Close": base, "High": base + 1, "Low": base - 1,
                      "Open": base - 0.2, "Volume": 1e6}[field]
    idx = pd.DatetimeIndex(days, name="Date").as_unit("s")
    return pd.DataFrame(data, index=idx, columns=cols)


class FakeYahoo:
    """Records calls; ``plan`` maps ticker -> list of outcomes per call ('ok', 'rate', 'network', 'gone')."""

    def __init__(self, plan=None):
        self.plan = {k: list(v) for k, v in (plan or {}).items()}
        self.calls = []

    def __call__(self, tickers, start=None, end=None, **kw):
        self.calls.append({"tickers": list(tickers), "start": start, "end": end, **kw})
        failed, reasons = set(), {}
        for t in tickers:
            outcome = self.plan[t].pop(0) if self.plan.get(t) else "ok"
            if outcome != "ok":
                failed.add(t)
                reasons.setdefault({"rate": RATE, "network": NETWORK,
                                    "gone": "possibly delisted; no timezone found"}[outcome], []).append(t)
        log = logging.getLogger("yfinance")
        if reasons:
            log.error("\n%.f Failed download%s:" % (len(failed), "s" if len(failed) > 1 else ""))
            for err, syms in reasons.items():
                log.error(f"{syms}: " + err)
        return yahoo_frame(tickers, start, end, failed)


@pytest.fixture
def yahoo(home, monkeypatch):
    home.mkdir(parents=True, exist_ok=True)
    uni = home / "universe.csv"
    uni.write_text("symbol,name,sector\n" + "".join(f"{s},{s},{sec}\n" for s, sec in UNIVERSE.items()))
    (home / "turbomode.toml").write_text(
        f'[general]\nuniverse = "{uni.as_posix()}"\n[data]\nsource = "yfinance"\nstart = "2025-10-01"\n'
        "batch_size = 2\nmax_retries = 3\n")
    fake = FakeYahoo()
    monkeypatch.setattr(yfinance, "download", fake)
    sleeps = []
    monkeypatch.setattr(yfsource, "_sleep", sleeps.append)
    cache = []
    monkeypatch.setattr(yfinance, "set_tz_cache_location", cache.append)
    monkeypatch.setattr(yfsource, "_cache_dir_set", None)
    fake.sleeps, fake.cache = sleeps, cache
    return fake


def ingest(cli, *args):
    with time_machine.travel(NOW, tick=False):
        return cli("ingest", "--no-deps", *args)


def stored(home):
    conn = sqlite3.connect(home / "turbomode.db")
    return dict(conn.execute("SELECT symbol, count(*) FROM price_data GROUP BY symbol").fetchall())


def test_a_delisted_ticker_makes_the_run_partial_and_the_others_are_stored(cli, home, yahoo):
    yahoo.plan = {"ZZZZ": ["gone"]}
    r = ingest(cli, "--json")
    assert r.exit_code == 3, r.output
    out = json.loads(r.stdout)
    assert out["status"] == "partial"
    assert out["summary"]["failed"] == {"ZZZZ": "possibly delisted; no timezone found"}
    # Oct 1 2025 .. Jan 22 2026: the live bar of Friday Jan 23 (market not closed at NOW) is not stored
    assert stored(home) == {"AAPL": 82, "MSFT": 82, "XOM": 82}
    conn = sqlite3.connect(home / "turbomode.db")
    assert conn.execute("SELECT max(date) FROM price_data").fetchone()[0] == "2026-01-22"
    assert conn.execute("SELECT status, error FROM symbols WHERE symbol='ZZZZ'").fetchone()[0] == "failed"
    assert conn.execute("SELECT value FROM meta WHERE key='data_source'").fetchone()[0] == "yfinance"


def test_download_is_called_batched_unadjusted_without_its_own_progress_and_caches_in_the_home(cli, home, yahoo):
    ingest(cli, "--symbols", "AAPL,MSFT,XOM")
    assert [sorted(c["tickers"]) for c in yahoo.calls] == [["AAPL", "MSFT"], ["XOM"]]
    c = yahoo.calls[0]
    assert (c["auto_adjust"], c["progress"], c["threads"], c["group_by"], c["multi_level_index"]) == \
        (False, False, True, "column", True)
    assert c["start"] == "2025-10-01" and c["end"] == "2026-01-23"  # end is exclusive
    assert yahoo.cache == [str(home / "cache" / "yfinance")]


def test_an_incremental_run_fetches_from_the_last_bar_minus_the_overlap(cli, home, yahoo):
    ingest(cli, "--symbols", "AAPL")
    yahoo.calls.clear()
    r = ingest(cli, "--symbols", "AAPL", "--json")
    assert r.exit_code == 0
    assert yahoo.calls[0]["start"] == "2026-01-08"  # 10 weekdays before 2026-01-22
    assert json.loads(r.stdout)["summary"]["bars_added"] == 0


def test_rate_limited_tickers_are_retried_with_exponential_backoff(cli, home, yahoo):
    yahoo.plan = {"AAPL": ["rate", "rate", "ok"]}
    r = ingest(cli, "--symbols", "AAPL,MSFT", "--json")
    assert r.exit_code == 0, r.output
    assert yahoo.sleeps == [2.0, 4.0]
    assert [c["tickers"] for c in yahoo.calls] == [["AAPL", "MSFT"], ["AAPL"], ["AAPL"]]
    assert stored(home) == {"AAPL": 82, "MSFT": 82}


def test_a_ticker_still_rate_limited_after_the_retries_fails_alone(cli, home, yahoo):
    yahoo.plan = {"AAPL": ["rate"] * 4}
    r = ingest(cli, "--symbols", "AAPL,MSFT", "--json")
    assert r.exit_code == 3
    assert "Too Many Requests" in json.loads(r.stdout)["summary"]["failed"]["AAPL"]
    assert len(yahoo.sleeps) == 3


def test_an_unreachable_network_is_one_sentence_exit_1_and_nothing_is_lost(cli, home, yahoo):
    assert ingest(cli, "--symbols", "AAPL").exit_code == 0
    before = stored(home)
    yahoo.plan = {t: ["network"] * 10 for t in UNIVERSE}
    r = ingest(cli)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach Yahoo Finance" in lines[0] and "--source sample" in lines[0]
    assert stored(home) == before
    conn = sqlite3.connect(home / "turbomode.db")
    assert conn.execute("SELECT status FROM task_runs ORDER BY id DESC").fetchone()[0] == "failed"


def test_yfinance_lines_do_not_reach_the_terminal(cli, home, yahoo, capfd):
    yahoo.plan = {"ZZZZ": ["gone"]}
    r = ingest(cli)
    assert "Failed download" not in r.output
    assert "Failed download" not in capfd.readouterr().err


def test_to_long_reads_the_multiindex_and_reports_all_nan_tickers():
    frame = yahoo_frame(["AAPL", "ZZZZ"], "2026-01-05", "2026-01-08", failed={"ZZZZ"})
    long, missing = yfsource.to_long(frame, ["AAPL", "ZZZZ"])
    assert missing == {"ZZZZ"}
    assert list(long.columns) == ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert len(long) == 3 and set(long.symbol) == {"AAPL"}
    assert long.iloc[0].close == pytest.approx(long.iloc[0].adj_close / 0.98)


def test_to_long_accepts_a_single_level_frame_for_one_ticker():
    frame = yahoo_frame(["AAPL"], "2026-01-05", "2026-01-07").droplevel(1, axis=1)
    long, missing = yfsource.to_long(frame, ["AAPL"])
    assert missing == set() and len(long) == 2 and set(long.symbol) == {"AAPL"}


@pytest.mark.parametrize("reason, kind", [(RATE, "rate_limit"), (NETWORK, "network"),
                                          ("possibly delisted; no timezone found", "data"),
                                          ("Read timed out. (read timeout=10)", "network")])
def test_failure_reasons_are_classified(reason, kind):
    assert yfsource.classify(reason) == kind


# --- issue 10 item 22: offline, yfinance calls every ticker "possibly delisted" ----------------------

@pytest.fixture
def closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def listening():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def test_every_ticker_possibly_delisted_while_offline_reads_cannot_reach_yahoo(cli, home, yahoo, monkeypatch,
                                                                              closed_port):
    monkeypatch.setattr(yfsource, "YAHOO_HOST", ("127.0.0.1", closed_port))  # no Yahoo out there
    yahoo.plan = {t: ["gone"] for t in UNIVERSE}
    r = ingest(cli)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "possibly delisted" not in r.output
    assert lines[0].startswith("error: cannot reach Yahoo Finance (ConnectionRefusedError")
    assert "Check the network" in lines[0] and "--source sample" in lines[0]


def test_when_yahoo_answers_every_delisted_ticker_is_reported_as_such(cli, home, yahoo, monkeypatch, listening):
    monkeypatch.setattr(yfsource, "YAHOO_HOST", ("127.0.0.1", listening))
    yahoo.plan = {t: ["gone"] for t in UNIVERSE}
    r = ingest(cli, "--json")
    assert r.exit_code == 1  # every symbol failed: the run failed, each with its own reason
    assert set(json.loads(r.stdout)["summary"]["failed"].values()) == {"possibly delisted; no timezone found"}

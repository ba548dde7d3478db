"""`turbomode backtest` end to end on a small sample market written straight into the database.

Small on purpose: 3 sectors x 6 symbols x 5 years, two fast model types with few trees, 3 folds.
The signal threshold is lowered to 0.26 (near the base rate) so that the planted market produces
plenty of trades for the statistics; on the random walk, signals stay too rare to claim anything.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date

import numpy as np
import pytest

from tests.conftest import NOW

MODELS = "logistic,xgboost"
YEARS = (date(2012, 1, 2), date(2017, 1, 2))
CONFIG = """
[general]
universe = "{universe}"
[data]
source = "sample"
[models]
trees = 30
valid_days = 126
calib_days = 126
test_days = 60
min_train_rows = 200
[signals]
min_confidence = 0.26
"""


def _universe():
    from turbomode.data.universe import load_universe

    by_sector: dict[str, list] = {}
    for s in load_universe():
        by_sector.setdefault(s.sector, []).append(s)
    return [s for sector in ("Energy", "Financials", "Utilities") for s in by_sector[sector][:6]]


def _build_home(home, strength: float) -> None:
    from turbomode.data.sample import generate
    from turbomode.store import prices
    from turbomode.store.db import connect

    home.mkdir(parents=True, exist_ok=True)
    secs = _universe()
    (home / "universe.csv").write_text("symbol,name,sector\n" + "".join(
        f"{s.symbol},{s.name.replace(',', ' ')},{s.sector}\n" for s in secs))
    (home / "turbomode.toml").write_text(CONFIG.format(universe=(home / "universe.csv").as_posix()))
    conn = connect(home / "turbomode.db")
    panel = generate(secs, *YEARS, seed=11, strength=strength)
    prices.write_bars(conn, panel, "sample", NOW)
    prices.set_meta(conn, "data_source", "sample", NOW)
    conn.close()


@pytest.fixture(scope="module")
def random_walk_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("rw") / "home"
    _build_home(home, strength=0.0)
    return home


@pytest.fixture(scope="module")
def planted_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("planted") / "home"
    _build_home(home, strength=2.0)
    return home


def _use(prepared, home):
    shutil.copytree(prepared, home)


def _ctx(home):
    from turbomode.context import Context

    return Context.load(home)


def _backtest(cli, *args):
    result = cli("backtest", "--no-deps", "--json", "--models", MODELS, "--folds", "3", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _sessions(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT date FROM price_data ORDER BY date")]


class TestNoEdgeWhereNoneExists:
    def test_a_random_walk_market_gives_almost_no_signals_and_no_statistic_claims_an_edge(self, cli, home,
                                                                                          random_walk_home):
        # Calibrated probabilities of a random walk stay near the base rate (about 0.27), below HOLD's:
        # the signal rule emits almost nothing, and below backtest.min_trades no z, t, Sharpe or
        # profit factor is reported as evidence.
        _use(random_walk_home, home)
        out = _backtest(cli)["summary"]
        m = out["metrics"]
        assert m["trades"] < 30 and m["too_few_trades"] is True, m
        assert m["hit_rate_z"] is None and m["mean_return_t"] is None
        overall = next(r for r in out["results"] if r["slice_kind"] == "overall")
        assert overall["sharpe"] is None and overall["profit_factor"] is None

    def test_a_planted_edge_is_found_by_the_same_measures(self, cli, home, planted_home):
        _use(planted_home, home)
        out = _backtest(cli)["summary"]
        m = out["metrics"]
        # a fixed list of symbols: every result says it carries survivorship bias
        assert out["survivorship_note"].startswith("survivorship bias: fixed universe")
        assert m["survivorship_note"] == out["survivorship_note"]
        text = cli("backtest", "--no-deps", "--models", MODELS, "--folds", "3").output
        assert "Survivorship bias: fixed universe" in text
        from turbomode.report.build import backtest_html, collect

        assert "Survivorship bias: fixed universe" in backtest_html(collect(_ctx(home), NOW))
        assert m["hit_rate"] - m["base_rate"] > 2 * m["hit_rate_se"], m
        assert m["mean_return_t"] > 2.0, m


class TestNoLeakage:
    def test_it_never_trains_on_a_date_inside_its_fold_or_within_the_embargo(self, cli, home, random_walk_home,
                                                                            monkeypatch):
        from turbomode.ml import train

        _use(random_walk_home, home)
        seen: list[tuple[str, str]] = []  # (sector, newest date passed to training)
        real = train.train_sector

        def spy(data, windows, cfg, **kw):
            seen.append((kw.get("sector"), str(data.index.get_level_values("date").max().date())))
            return real(data, windows, cfg, **kw)

        monkeypatch.setattr(train, "train_sector", spy)
        out = _backtest(cli, "--workers", "1")  # the spy sees the fits only when they run in this process
        conn = sqlite3.connect(home / "turbomode.db")
        sessions = _sessions(conn)
        folds = conn.execute("SELECT fold, train_start, train_end, test_start, test_end FROM backtest_folds"
                             " WHERE backtest_id = ? ORDER BY fold", (out["summary"]["backtest_id"],)).fetchall()
        conn.close()
        embargo = 10  # labels.horizon_days
        assert [f[0] for f in folds] == [1, 2, 3]
        calls_per_fold = len(seen) // len(folds)
        assert calls_per_fold == 3 and len(seen) == 9  # every sector of every fold was trained
        for i, (_, train_start, train_end, test_start, test_end) in enumerate(folds):
            assert train_start < train_end < test_start <= test_end
            assert sessions.index(test_start) - sessions.index(train_end) > embargo
            passed = [d for _, d in seen[i * calls_per_fold:(i + 1) * calls_per_fold]]
            assert max(passed) <= train_end, (passed, train_end)
        # consecutive folds tile the test period and the window expands
        assert all(sessions.index(b[3]) == sessions.index(a[4]) + 1 for a, b in zip(folds, folds[1:]))
        assert [f[2] for f in folds] == sorted(f[2] for f in folds)


class TestResults:
    def test_results_are_kept_in_one_run_with_every_slice_and_the_equity_curve(self, cli, home, random_walk_home):
        _use(random_walk_home, home)
        out = _backtest(cli, "--start", "2015-01-02")
        s = out["summary"]
        conn = sqlite3.connect(home / "turbomode.db")
        run = conn.execute("SELECT run_id, start_date, end_date, folds, models, data_source FROM backtest_runs"
                           ).fetchall()
        assert run == [(out["run_id"], "2015-01-02", "2017-01-02", 3,
                        json.dumps(["logistic", "xgboost", "ensemble"]), "sample")]
        kinds = {}
        for kind, name in conn.execute("SELECT slice_kind, slice FROM backtest_results"):
            kinds.setdefault(kind, set()).add(name)
        assert kinds == {"overall": {"ensemble"}, "benchmark": {"buy_hold"},
                         "model": {"logistic", "xgboost", "ensemble"},
                         "sector": {"Energy", "Financials", "Utilities"}, "fold": {"1", "2", "3"}}
        equity = conn.execute("SELECT date, strategy, buy_hold FROM backtest_equity ORDER BY date").fetchall()
        sessions = _sessions(conn)
        trades = conn.execute("SELECT COUNT(*), COUNT(DISTINCT outcome) FROM trades").fetchone()
        conn.close()
        assert [e[0] for e in equity] == sessions[sessions.index("2015-01-02"):]
        assert equity[0][1:] == (1.0, 1.0)
        overall = next(r for r in s["results"] if r["slice_kind"] == "overall")
        assert equity[-1][1] == pytest.approx(1 + overall["total_return"])
        assert trades[0] > 15 * 1000 and trades[1] == 3  # labelled trades regenerated: BUY, SELL, HOLD

    def test_the_table_shows_the_ensemble_against_buy_and_hold_per_model_sector_and_fold(self, cli, home,
                                                                                          random_walk_home):
        _use(random_walk_home, home)
        result = cli("backtest", "--no-deps", "--models", "logistic", "--folds", "2")
        assert result.exit_code == 0, result.output
        for text in ("Ensemble vs buy-and-hold", "buy_hold", "Per model type", "logistic", "Per sector",
                     "Utilities", "Per fold", "SAMPLE DATA"):
            assert text in result.stdout


@pytest.mark.parametrize("args,code,fragment", [
    (["--models", "logistic,nonsense"], 2, "unknown model type"),
    (["--start", "2015-13-45"], 2, "not a date"),
    (["--start", "2030-01-02"], 2, "after the last labelled session"),
    (["--start", "2012-03-01"], 2, "cannot split the backtest into folds"),
    (["--folds", "0"], 2, ""),
])
def test_it_refuses_bad_options_in_one_line_and_writes_nothing(cli, home, random_walk_home, args, code, fragment):
    from tests.helpers_tables import snapshot

    _use(random_walk_home, home)
    conn = sqlite3.connect(home / "turbomode.db")
    conn.execute("INSERT INTO trades (symbol, entry_date, outcome) VALUES ('KEEP', '2015-01-02', 'BUY')")
    conn.commit()
    conn.close()
    before = snapshot(home / "turbomode.db")
    result = cli("backtest", "--no-deps", *args)
    assert result.exit_code == code, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert snapshot(home / "turbomode.db") == before  # the labelled trades were not rewritten


def test_without_prices_it_says_to_ingest(cli, home):
    result = cli("backtest", "--no-deps")
    assert result.exit_code == 4, result.output
    assert "turbomode ingest" in result.output


def test_progress_is_reported_per_fold_and_sector_and_the_run_is_in_the_ledger(home, random_walk_home):
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    _use(random_walk_home, home)
    calls: list[tuple[int, int, str]] = []
    ctx = Context.load(home)
    try:
        out = run_job(ctx, "backtest", {"models": ["logistic"], "folds": 2,
                                        "progress": lambda *a: calls.append(a)}, with_deps=False)
        ledger = ctx.connect().execute("SELECT task, status FROM task_runs WHERE id = ?", (out.run_id,)).fetchone()
    finally:
        ctx.close()
    assert out.status == "succeeded" and tuple(ledger) == ("backtest", "succeeded")
    folds = [c for c in calls if c[2].startswith("fold")]
    assert folds[-1][0] == folds[-1][1] == 2 * 3  # 2 folds x 3 sectors, all done
    assert {c[2].split(" · ")[0] for c in folds} == {"fold 1/2", "fold 2/2"}
    assert [c[0] for c in folds] == sorted(c[0] for c in folds)

"""The same seed gives the same models, metrics, backtest and drift on every backend: one process,
a local pool and a Dask cluster (distributed.LocalCluster with worker processes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.compute.market import copy_home, features_of, rows, stored_metrics, stored_models, write_config, \
    write_market

pytestmark = pytest.mark.slow
BACKENDS = ("inline", "pool", "dask")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, local_cluster):
    """train, then backtest, then drift in one home per backend, all from the same market."""
    from typer.testing import CliRunner

    from turbomode.cli.main import app

    root = tmp_path_factory.mktemp("same")
    base = root / "base"
    write_config(base)
    write_market(base)
    flags = {"inline": ["--workers", "1"], "pool": ["--workers", "2"], "dask": ["--dask", local_cluster.scheduler_address]}
    out = {}
    for name in BACKENDS:
        home = copy_home(base, root / name)
        summaries = {}
        for cmd in (["train"], ["backtest", "--folds", "2"], ["drift"]):
            result = CliRunner().invoke(app, ["--home", str(home), *cmd, "--no-deps", "--json", *flags[name]],
                                        catch_exceptions=False)
            assert result.exit_code == 0, (name, cmd, result.output)
            summaries[cmd[0]] = json.loads(result.stdout)["summary"]
        out[name] = (home, summaries)
    return base, out


def test_each_run_says_where_it_ran(runs):
    _, out = runs
    for cmd, piece in (("train", "fit_piece"), ("backtest", "fold_sector_signals"), ("drift", "sector_feature_check")):
        got = {name: out[name][1][cmd]["compute"] for name in BACKENDS}
        assert (got["inline"]["backend"], got["inline"]["workers"]) == ("local", 1)
        assert (got["pool"]["backend"], got["pool"]["workers"]) == ("local", 2)
        assert (got["dask"]["backend"], got["dask"]["workers"]) == ("dask", 2)
        assert got["dask"]["address"].startswith("tcp://127.0.0.1:")
        counts = {got[n]["pieces"][piece]["count"] for n in BACKENDS}
        assert counts == {4 if cmd != "drift" else 2}  # 2 sectors x 2 types, 2 folds x 2 sectors, 2 sectors


@pytest.mark.parametrize("other", ["pool", "dask"])
def test_the_model_files_predict_the_same_to_1e_9(runs, other):
    base, out = runs
    X = features_of(base)
    mine, theirs = stored_models(out["inline"][0]), stored_models(out[other][0])
    assert sorted(mine) == sorted(theirs) and len(mine) == 4
    for key, model in mine.items():
        assert np.abs(model.predict_proba(X) - theirs[key].predict_proba(X)).max() <= 1e-9, key


@pytest.mark.parametrize("other", ["pool", "dask"])
def test_the_stored_training_metrics_are_identical(runs, other):
    _, out = runs
    assert stored_metrics(out["inline"][0]) == stored_metrics(out[other][0])
    a, b = out["inline"][1]["train"], out[other][1]["train"]
    assert a["sectors"] == b["sectors"] and a["test"] == b["test"]


@pytest.mark.parametrize("other", ["pool", "dask"])
def test_the_stored_backtest_is_identical(runs, other):
    _, out = runs
    queries = ["SELECT slice_kind, slice, trades, hit_rate, mean_return, profit_factor, sharpe, max_drawdown, "
               "exposure, total_return FROM backtest_results ORDER BY rowid",
               "SELECT fold, train_start, train_end, test_start, test_end FROM backtest_folds ORDER BY fold",
               "SELECT date, strategy, buy_hold FROM backtest_equity ORDER BY date",
               "SELECT metrics FROM backtest_runs"]
    for q in queries:
        mine, theirs = rows(out["inline"][0], q), rows(out[other][0], q)
        assert mine and mine == theirs, q


@pytest.mark.parametrize("other", ["pool", "dask"])
def test_the_stored_drift_is_identical(runs, other):
    _, out = runs
    q = "SELECT sector, kind, name, value, level, detail FROM drift_results ORDER BY rowid"

    def stored(home):  # the champion's version id and the outcome window are timestamps; the rest must agree
        return [(*r[:5], {k: v for k, v in json.loads(r[5]).items() if k not in ("version", "closed_since")})
                for r in rows(home, q)]

    mine, theirs = stored(out["inline"][0]), stored(out[other][0])
    assert any(r[1] == "feature" for r in mine) and mine == theirs


@pytest.mark.parametrize("where", ["pool", "dask"])
def test_the_progress_bar_counts_finished_pieces_on_every_backend(tmp_path, local_cluster, where):
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    home = tmp_path / "home"
    write_config(home)
    write_market(home)
    options = {"workers": 2} if where == "pool" else {"dask": local_cluster.scheduler_address}
    calls: list[tuple[int, int, str]] = []
    ctx = Context.load(home)
    try:
        out = run_job(ctx, "train", {**options, "progress": lambda *a: calls.append(a)}, with_deps=False)
    finally:
        ctx.close()
    assert out.status == "succeeded"
    total = calls[0][1]
    assert total == 2 + 2 * 2  # reading and writing, and 2 sectors x 2 model types
    pieces = [c for c in calls if " · " in c[2]]
    assert sorted(c[2] for c in pieces) == sorted(f"{s} · {k}" for s in ("Energy", "Utilities")
                                                   for k in ("lightgbm", "random_forest"))
    assert [c[0] for c in pieces] == [2, 3, 4, 5]  # one more finished piece each time
    assert calls[-1][:2] == (total, total)

"""`turbomode train` end to end through the real CLI, on a few sample-market symbols written directly."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.conftest import NOW
from turbomode.data.sample import generate
from turbomode.data.universe import Security

SECURITIES = [Security(f"E{i}", f"Energy {i}", "Energy") for i in range(4)] + \
             [Security(f"U{i}", f"Utility {i}", "Utilities") for i in range(4)]
TYPES = ["xgboost", "lightgbm", "random_forest", "extra_trees", "logistic", "hist_gb"]
FAST = ["logistic", "lightgbm"]  # most tests need any two models, not all six


def write_home(home, securities=SECURITIES, *, types=FAST, min_rows=200, max_ece=1.0) -> None:
    """Four stocks a sector are far too few for a calibration error under 0.05: the bound is lifted
    (max_ece) except where a test is about it."""
    home.mkdir(parents=True, exist_ok=True)
    uni = home / "universe.csv"
    uni.write_text("symbol,name,sector\n" + "".join(f"{s.symbol},{s.name},{s.sector}\n" for s in securities))
    (home / "turbomode.toml").write_text(
        f'[general]\nuniverse = "{uni.as_posix()}"\n[data]\nsource = "sample"\n'
        f"[models]\ntrees = 5\nn_jobs = 1\nmin_train_rows = {min_rows}\nvalid_days = 120\ncalib_days = 120\n"
        f"test_days = 100\nmax_signal_ece = {max_ece}\ntypes = {json.dumps(types)}\n")


def add_market(home, securities=SECURITIES, start=date(2021, 1, 4), end=date(2025, 12, 31), strength=0.6):
    from turbomode.store.db import connect
    from turbomode.store.prices import write_bars

    conn = connect(home / "turbomode.db")
    bars = generate(securities, start, end, seed=5, strength=strength)
    write_bars(conn, bars, "sample", NOW)
    conn.close()
    return bars


@pytest.fixture
def market(home):
    write_home(home)
    add_market(home)
    return home


def train(cli, *args):
    result = cli("train", "--no-deps", "--json", *args)
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


def db(home):
    from turbomode.store.db import connect

    return connect(home / "turbomode.db")


def test_train_makes_every_sector_champion_and_records_files_windows_and_metrics(cli, home):
    write_home(home, types=TYPES)
    add_market(home)
    market = home
    result, out = train(cli)
    assert result.exit_code == 0, result.output
    s = out["summary"]
    assert sorted(s["promoted"]) == ["Energy", "Utilities"] and s["models"] == 12
    assert s["data_source"] == "sample" and out["message"].endswith("[SAMPLE DATA]")  # SPEC 9a: names its data
    w = s["windows"]
    assert w["train_end"] < w["calib_start"] <= w["calib_end"] < w["valid_start"] <= w["valid_end"]
    conn = db(market)
    rows = conn.execute("SELECT sector, model_type, status, path, sha256, metrics, valid_start FROM model_metadata"
                        ).fetchall()
    assert len(rows) == 2 * (len(TYPES) + 1)
    assert {r["status"] for r in rows} == {"champion"} and all(len(r["sha256"]) == 64 for r in rows)
    assert all((market / "models" / r["path"]).is_file() for r in rows)
    ens = json.loads(next(r["metrics"] for r in rows if r["model_type"] == "ensemble"))
    assert {"log_loss", "brier", "accuracy", "ece", "signals", "class_mix"} <= set(ens)
    run = conn.execute("SELECT version, status, promoted, run_id FROM training_runs").fetchone()
    assert (run["version"], run["status"], run["promoted"]) == (s["version"], "succeeded", 2)
    assert run["run_id"] == out["run_id"]
    counts = dict(conn.execute("SELECT outcome, COUNT(*) FROM trades GROUP BY outcome").fetchall())
    assert set(counts) == {"BUY", "SELL", "HOLD"} and sum(counts.values()) == s["trades_written"]
    conn.close()


def test_the_champions_predict_for_a_scan(cli, market):
    from turbomode.context import Context
    from turbomode.ml.features import compute_features, latest
    from turbomode.ml.predict import load_champions

    train(cli)
    ctx = Context.load(market)
    champs = load_champions(ctx)
    bars = add_market(market)
    feats = latest(compute_features(bars, {s.symbol: s.sector for s in SECURITIES}))
    proba = champs.predict(feats)
    assert proba.notna().all().all() and len(proba) == len(SECURITIES)
    ctx.close()


def test_a_retrain_on_the_same_data_rescores_the_champion_on_the_same_window(cli, market):
    _, first = train(cli)
    _, second = train(cli)
    for sector, d in second["summary"]["sectors"].items():
        assert d["champion_version"] == first["summary"]["version"]
        assert d["champion_log_loss"] == pytest.approx(first["summary"]["sectors"][sector]["log_loss"], abs=1e-6)


def test_a_worse_version_stays_challenger_unless_promote_forces_it(cli, market, monkeypatch):
    from turbomode.tasks import train as train_task

    _, first = train(cli)
    real = train_task._compare_with_champion

    def unbeatable(*a, **k):
        out = real(*a, **k)
        out["champion_log_loss"] = 0.0
        return out

    monkeypatch.setattr(train_task, "_compare_with_champion", unbeatable)
    result, second = train(cli)
    assert result.exit_code == 0
    assert second["summary"]["promoted"] == [] and second["summary"]["challengers"] == ["Energy", "Utilities"]
    assert "challenger" in second["message"]
    conn = db(market)
    champs = {r[0] for r in conn.execute("SELECT version FROM model_metadata WHERE status = 'champion'")}
    assert champs == {first["summary"]["version"]}
    status = json.loads(cli("status", "--json").stdout)
    assert status["models"]["challenger"] == second["summary"]["version"]

    _, third = train(cli, "--promote")
    assert third["summary"]["promoted"] == ["Energy", "Utilities"]
    assert all(d["forced"] for d in third["summary"]["sectors"].values())
    champs = {r[0] for r in conn.execute("SELECT version FROM model_metadata WHERE status = 'champion'")}
    assert champs == {third["summary"]["version"]}
    # for `scan --as-of`: the first was chosen on its validation labels; the forced one by a person
    # who saw everything, its test window's labels too
    ends = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "SELECT version, data_end, decided_end, test_end FROM model_metadata WHERE sector = 'Energy'"
        " AND model_type = 'ensemble'")}
    data_end, decided, test_end = ends[first["summary"]["version"]]
    assert data_end < decided < test_end
    data_end, decided, test_end = ends[third["summary"]["version"]]
    assert decided >= test_end
    conn.close()


def test_training_one_sector_leaves_the_other_sectors_champion_alone(cli, market):
    _, first = train(cli)
    result, second = train(cli, "--sector", "energy")
    assert result.exit_code == 0 and list(second["summary"]["sectors"]) == ["Energy"]
    conn = db(market)
    champs = dict(conn.execute("SELECT sector, version FROM model_metadata WHERE status = 'champion'"
                               " GROUP BY sector").fetchall())
    assert champs == {"Energy": second["summary"]["version"], "Utilities": first["summary"]["version"]}
    # Utilities' labelled trades are kept when only Energy is retrained
    assert conn.execute("SELECT COUNT(*) FROM trades WHERE sector = 'Utilities'").fetchone()[0] > 0
    conn.close()


def test_an_unknown_sector_is_a_usage_error_listing_the_sectors(cli, market):
    result, _ = train(cli, "--sector", "Crypto")
    assert result.exit_code == 2
    assert "unknown --sector 'Crypto'" in result.output and "Utilities" in result.output


def test_a_sector_with_too_little_history_is_skipped_and_listed_as_partial(cli, home):
    short = [Security("M0", "Materials 0", "Materials")]
    write_home(home, SECURITIES + short)
    add_market(home)
    add_market(home, short, start=date(2025, 6, 2))
    result, out = train(cli)
    assert result.exit_code == 3, result.output
    assert list(out["summary"]["skipped_sectors"]) == ["Materials"]
    assert out["summary"]["skipped_symbols"] == ["M0"]
    assert sorted(out["summary"]["promoted"]) == ["Energy", "Utilities"]


def test_without_prices_train_refuses_with_exit_4(cli, home):
    write_home(home)
    result, _ = train(cli)
    assert result.exit_code == 4 and "turbomode ingest" in result.output


def test_an_unknown_model_type_in_the_config_is_a_usage_error(cli, home):
    write_home(home, types=["xgboost", "deep_net"])
    add_market(home)
    result, _ = train(cli)
    assert result.exit_code == 2 and "deep_net" in result.output


def test_a_file_where_the_models_folder_goes_is_named_before_training(cli, market):
    (market / "models").write_text("not a folder")
    before = db(market).execute("SELECT count(*) FROM model_metadata").fetchone()[0]
    result, _ = train(cli)
    assert result.exit_code == 2, result.output
    assert "unexpected" not in result.output and "FileExistsError" not in result.output
    said = json.loads(result.stdout)["error"]  # --json: a path's backslashes are escaped in the text
    assert said.startswith(f"cannot write models into {market / 'models'}: it is a file, not a folder")
    assert db(market).execute("SELECT count(*) FROM model_metadata").fetchone()[0] == before
    assert (market / "models").read_text() == "not a folder"


def test_a_corrupt_champion_is_replaced_and_the_problem_reported(cli, market):
    _, first = train(cli)
    conn = db(market)
    path = conn.execute("SELECT path FROM model_metadata WHERE sector = 'Energy' AND model_type = 'logistic'"
                        ).fetchone()[0]
    conn.close()
    (market / "models" / path).write_bytes(b"garbage")
    result, second = train(cli)
    assert result.exit_code == 0
    assert "Energy" in second["summary"]["promoted"]
    assert any("cannot be re-scored" in w for w in second["summary"]["warnings"])


def test_the_task_reports_progress_by_sector_and_model(market):
    from turbomode.context import Context
    from turbomode.tasks import train as train_task

    seen = []
    ctx = Context.load(market)
    result = train_task.run(ctx, NOW, {"progress": lambda done, total, label: seen.append((done, total, label))})
    ctx.close()
    assert result.status == "succeeded"
    labels = [label for _, _, label in seen]
    assert "Energy · logistic" in labels and "Utilities · lightgbm" in labels
    assert seen[-1][0] == seen[-1][1]
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_a_one_sided_validation_signal_mix_is_a_warning_not_a_result(cli, market, monkeypatch):
    from turbomode.ml import metrics

    monkeypatch.setattr(metrics, "one_sided", lambda buys, sells, **k: "SELL")
    result, out = train(cli)
    assert result.exit_code == 0
    warned = [w for w in out["summary"]["warnings"] if "validation signals are SELL" in w]
    assert len(warned) == 2 and "warning, not a result" in warned[0]


def test_a_model_set_one_sided_over_its_sectors_is_a_warning_though_no_sector_has_ten_signals(cli, market,
                                                                                                monkeypatch):
    import numpy as np

    from turbomode.ml import metrics

    def eight_sells(proba, threshold):  # every window of every sector: 8 SELL signals, too few to judge alone
        out = np.full(len(proba), -1)
        out[:8] = 1
        return out

    monkeypatch.setattr(metrics, "signals", eight_sells)
    result, out = train(cli)
    assert result.exit_code == 0, result.output
    warnings = out["summary"]["warnings"]
    assert not any(w.startswith(("Energy:", "Utilities:")) for w in warnings)  # 8 of 8 is not judged
    assert "model set: 16 of the 2 sectors' 16 validation signals (100%) are SELL" in " ".join(warnings)


def test_a_challenger_beyond_the_signal_calibration_bound_stays_a_challenger_and_says_why(cli, home, monkeypatch):
    from turbomode.tasks import train as train_task

    write_home(home, max_ece=1.0)
    add_market(home)
    _, first = train(cli)
    write_home(home, max_ece=0.0001)  # every ECE is beyond this bound
    real = train_task._compare_with_champion

    def better_calibrated(*a, **k):  # a retrain on the same data is the champion again: make the champion better
        out = real(*a, **k)
        out["champion_signal_ece"] = out["champion_signal_ece"] / 2
        return out

    monkeypatch.setattr(train_task, "_compare_with_champion", better_calibrated)
    result, second = train(cli, "--sector", "energy")
    assert result.exit_code == 0, result.output
    energy = second["summary"]["sectors"]["Energy"]
    assert energy["status"] == "challenger" and "exceeds models.max_signal_ece 0.000" in energy["reason"]
    assert "champion's is" in energy["reason"]
    text = cli("train", "--no-deps", "--sector", "energy").output
    assert "exceeds models.max_signal_ece" in text  # the reason is printed, not only stored


@pytest.mark.parametrize("new_ll, new_ece, champ_ll, champ_ece, promoted, words", [
    (0.90, 0.03, None, None, True, "no champion yet"),
    (0.90, 0.09, None, None, True, "no champion yet"),            # nothing is worse than no model: with a warning
    (0.90, 0.03, 0.95, 0.02, True, "not worse"),
    (0.96, 0.03, 0.95, 0.02, False, "log loss 0.9600 is worse"),
    (0.90, 0.07, 0.95, 0.04, False, "exceeds models.max_signal_ece"),
    (0.90, 0.07, 0.95, 0.08, True, "not worse"),                   # beyond the bound, but the champion is worse
    (0.95, 0.07, 0.95, 0.07, True, "not worse"),                   # a retrain on the same data: the champion again
])
def test_promotion_needs_a_log_loss_not_worse_and_signal_calibration_within_bounds(new_ll, new_ece, champ_ll,
                                                                                   champ_ece, promoted, words):
    from turbomode.tasks.train import decide_promotion

    new = {"log_loss": new_ll, "ece_buy": new_ece * 2, "ece_sell": new_ece / 2, "ece_signal": new_ece}
    out = decide_promotion(new, {"champion_log_loss": champ_ll, "champion_signal_ece": champ_ece}, 0.05, False)
    assert out["promoted"] is promoted and words in out["reason"]
    assert (out["warning"] is not None) == (champ_ll is None and new_ece > 0.05)
    forced = decide_promotion(new, {"champion_log_loss": champ_ll, "champion_signal_ece": champ_ece}, 0.05, True)
    assert forced["promoted"] and forced["forced"] is (not promoted)


def test_a_refused_train_leaves_every_table_as_it_was(cli, home):
    from tests.helpers_tables import snapshot

    write_home(home)
    add_market(home, start=date(2025, 6, 2), end=date(2025, 12, 31))  # far too short to train
    conn = db(home)
    conn.execute("INSERT INTO trades (symbol, entry_date, outcome) VALUES ('KEEP', '2015-01-02', 'BUY')")
    conn.commit()
    conn.close()
    before = snapshot(home / "turbomode.db")
    result, _ = train(cli)
    assert result.exit_code == 4, result.output
    assert snapshot(home / "turbomode.db") == before


def test_champions_fitted_for_another_trade_rule_are_not_used_until_train_replaces_them(cli, market):
    """A champion's probabilities are of the trade its labels described (target, stop, horizon, ATR):
    after [labels] changes, a scan would open other trades under those numbers. Its loader refuses the
    version, naming both rules; the next train does not keep it as a yardstick but replaces it."""
    from turbomode.context import Context
    from turbomode.ml.predict import ModelMissing, load_champions

    _, first = train(cli)
    version = first["summary"]["version"]
    doc = json.loads((market / "models" / version / "energy" / "ensemble.json").read_text())
    assert doc["label_rule"]["target_multiple"] == 2.0 and doc["label_rule"]["horizon_days"] == 10
    with open(market / "turbomode.toml", "a", encoding="utf-8") as fh:
        fh.write("[labels]\ntarget_multiple = 3.0\n")

    with pytest.raises(ModelMissing) as refused:
        load_champions(Context.load(market))
    text = str(refused.value)
    assert "fitted for trades with target 2.0×ATR, where turbomode.toml [labels] now says target 3.0×ATR" in text
    assert "run `turbomode train`" in text

    result, second = train(cli)
    assert result.exit_code == 0, result.output
    assert sorted(second["summary"]["promoted"]) == ["Energy", "Utilities"]
    notes = " ".join(second["summary"]["warnings"])
    assert f"the champion {version} cannot be re-scored (it was fitted for trades with target 2.0×ATR" in notes
    champs = load_champions(Context.load(market))
    assert {s.version for s in champs.sectors.values()} == {second["summary"]["version"]}

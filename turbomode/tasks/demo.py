"""`turbomode demo`: the whole pipeline on the embedded sample market, in a throw-away home.

``prepare`` makes the home (a new temporary folder unless one is given: never the user's real
home) with a config whose data source is the sample market, a universe of the requested size and a
history of the requested length. ``run`` then runs a whole week of jobs — ingest, train, scan, a
short backtest, drift and maintain — through the same run wrapper as the scheduler (so `turbomode
history` shows the runs and `status` ends healthy), and ``quality`` measures the champions on their
test window against the sample market's oracle (the best any model could do there).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from turbomode import config as config_mod
from turbomode.errors import ConfigError, JobFailed

MARKER = ".turbomode-demo"
# 5 years: the features' one-year warm-up, then four years of labelled days split into training,
# calibration, validation and test windows.
DEFAULT_YEARS = 5
DEMO_SETTINGS: dict[str, Any] = {
    "models__min_train_rows": 100,  # so a demo of a few symbols still trains every sector it has
}
# At least 3: the features' year of warm-up leaves ~1 year of labelled dates from 2, and train needs
# ~1.8 (ml.train.split_windows: test, validation and calibration take up to a fifth each, with
# embargoes, and training keeps at least a third), so a 2-year demo always stopped at train.
MIN_YEARS, MAX_YEARS = 3, 15
# A week of jobs, in the order the schedule runs them (maintain, backtest and drift are Saturday's).
STEPS = ("ingest", "train", "scan", "maintain", "backtest", "drift")
# The demo's backtest is short: two folds of the fastest model type (the full one is `turbomode backtest`).
BACKTEST_OPTIONS: dict[str, Any] = {"models": ["logistic"], "folds": 2}
# The scan step scans the last week's sessions in order, oldest first, as the nightly scan would have
# (each earlier one with --as-of): the signals a user sees after a week, not one evening's handful,
# whose side is a coin toss for 3-5 signals.
WEEK_SESSIONS = 5
ORACLE_PATHS = 120  # Monte Carlo paths per symbol-day for the demo's quality line
ORACLE_EVERY = 2  # every 2nd session of the test window


@dataclass
class DemoPlan:
    home: Path
    years: int
    symbols: int
    sectors: int
    start: str
    temporary: bool


@dataclass
class StepReport:
    job: str
    status: str
    seconds: float
    message: str
    run_id: int | None
    warnings: list[str] = field(default_factory=list)


def _years_back(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def pick_universe(securities: list, n: int | None) -> list:
    """``n`` securities spread over the sectors (round robin in file order); all when ``n`` is None."""
    if n is None or n >= len(securities):
        return list(securities)
    by_sector: dict[str, list] = {}
    for s in securities:
        by_sector.setdefault(s.sector, []).append(s)
    queues = list(by_sector.values())
    out: list = []
    i = 0
    while len(out) < n:
        q = queues[i % len(queues)]
        if q:
            out.append(q.pop(0))
        i += 1
    return out


def _check_home(home: Path) -> None:
    """Refuse a folder that holds anything but an earlier demo: the demo never touches real data."""
    real = {config_mod.default_home().resolve()}
    import os

    if os.environ.get("TURBOMODE_HOME"):
        real.add(Path(os.environ["TURBOMODE_HOME"]).expanduser().resolve())
    if home in real:
        raise ConfigError(f"{home} is your TurboMode home; the demo needs a folder of its own: "
                          "give another --home or none (a temporary folder is made)")
    if home.exists() and not home.is_dir():
        raise ConfigError(f"--home {home} is a file; give a new or empty folder")
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise ConfigError(f"--home {home} is not empty and was not made by `turbomode demo`; give a new "
                          "or empty folder so nothing of yours is overwritten")


def prepare(home_arg: str | Path | None, *, years: int = DEFAULT_YEARS, symbols: int | None = None,
            today: date) -> DemoPlan:
    """Create (or reuse an earlier demo's) home with a sample-market config; nothing is run yet."""
    from turbomode.data.universe import load_universe
    from turbomode.store.db import atomic_write_text

    if not MIN_YEARS <= years <= MAX_YEARS:
        raise ConfigError(f"--years must be between {MIN_YEARS} and {MAX_YEARS} (the models need a year of "
                          f"warm-up and two to train, calibrate, validate and test), not {years}")
    securities = load_universe(None)
    if symbols is not None and not 1 <= symbols:
        raise ConfigError(f"--symbols must be at least 1, not {symbols}")
    picked = pick_universe(securities, symbols)
    if home_arg is not None and not str(home_arg).strip():
        raise ConfigError("--home is empty; give a new or empty folder for the demo, or leave --home out for a "
                          "temporary one")
    temporary = home_arg is None
    if temporary:
        home = Path(tempfile.mkdtemp(prefix="turbomode-demo-")).resolve()
    else:
        home = Path(home_arg).expanduser().resolve()
        _check_home(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / MARKER).write_text("made by `turbomode demo`; safe to delete with this folder\n",
                                   encoding="utf-8")
        start = _years_back(today, years).isoformat()
        overrides: dict[str, Any] = {"data__source": "sample", "data__start": start, "data__sample__start": start,
                                     **DEMO_SETTINGS}
        if len(picked) < len(securities):
            universe = home / "universe.csv"
            atomic_write_text(universe, "symbol,name,sector\n" + "".join(
                f"{s.symbol},{s.name.replace(',', ' ')},{s.sector}\n" for s in picked))
            overrides["general__universe"] = str(universe)
        cfg = config_mod.defaults().with_overrides(**overrides)
        atomic_write_text(home / config_mod.CONFIG_NAME, config_mod.render(cfg))
    except OSError as exc:
        raise ConfigError(f"cannot write the demo home {home} ({exc.strerror or exc}); give a writable "
                          "--home") from None
    return DemoPlan(home, years, len(picked), len({s.sector for s in picked}), start, temporary)


def run(ctx, plan: DemoPlan, *, now_fn: Callable[[], datetime],
        report: Callable[[str, int, StepReport | None], None] | None = None,
        step_options: Callable[[str], dict[str, Any]] | None = None) -> list[StepReport]:
    """Ingest the sample market, train, scan — each through the run wrapper, in order.

    ``report(job, index, None)`` is called before a step and ``report(job, index, result)`` after;
    ``step_options(job)`` adds options to a step (the CLI's progress callbacks).
    A step that fails stops the demo (its error is raised as the run wrapper raised it).
    """
    from turbomode.ops.runner import run_job

    out: list[StepReport] = []
    for i, job in enumerate(STEPS, start=1):
        if report:
            report(job, i, None)
        t0 = time.perf_counter()
        # The sample market ends at the last completed weekday, never older than NYSE's last session;
        # allow_stale only spares a demo started a minute before 16:00 New York finishing after it.
        options: dict[str, Any] = {"allow_stale": True} if job == "scan" else {}
        if job == "backtest":
            options.update(BACKTEST_OPTIONS)
        if step_options:
            options.update(step_options(job))
        earlier: list[str] = []
        if job == "scan":
            for session in week_before(ctx):
                night = run_job(ctx, job, {**options, "as_of": session}, trigger="manual", with_deps=False,
                                now_fn=now_fn)
                if night.status not in ("succeeded", "partial"):
                    raise JobFailed(f"the demo's scan of {session} ended {night.status}: "
                                    f"{night.error or 'see the log'}; the demo home {plan.home} is kept for a look")
                earlier.append(session)
        outcome = run_job(ctx, job, options, trigger="manual", with_deps=False, now_fn=now_fn)
        result = outcome.result
        message = result.message if result else (outcome.error or "")
        if earlier:
            message += (f"; the {len(earlier)} sessions before it ({earlier[0]}..{earlier[-1]}) were scanned first, "
                        "as the nightly scan would have")
        step = StepReport(job, outcome.status, time.perf_counter() - t0, message, outcome.run_id,
                          list(result.warnings) if result else [])
        out.append(step)
        if report:
            report(job, i, step)
        if outcome.status not in ("succeeded", "partial"):
            raise JobFailed(f"the demo's {job} step ended {outcome.status}: {step.message or 'see the log'}; "
                            f"the demo home {plan.home} is kept for a look")
    return out


def week_before(ctx) -> list[str]:
    """The WEEK_SESSIONS - 1 sessions with prices before the newest one, oldest first; in an earlier
    demo's home, only those not before the last session already scanned (scan never rewrites history)."""
    from turbomode.tasks.scan import first_scannable

    conn = ctx.connect()
    rows = conn.execute("SELECT DISTINCT date FROM price_data ORDER BY date DESC LIMIT ?",
                        (WEEK_SESSIONS,)).fetchall()
    first = first_scannable(conn)
    return [d for d in sorted(r[0][:10] for r in rows)[:-1] if not first or d >= first]


def quality(ctx, plan: DemoPlan) -> dict[str, Any] | None:
    """The champions on their test window (which chose nothing) against the sample market's oracle:
    ``ml.quality.measure`` of the held-out rows, with the oracle's probabilities of the same rows.

    None when there is no champion with a test window (nothing to measure)."""
    import numpy as np
    import pandas as pd

    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.ml import quality as q
    from turbomode.ml.features import compute_features, usable
    from turbomode.ml.labels import LabelParams, triple_barrier
    from turbomode.ml.predict import load_champions
    from turbomode.store.prices import read_panel

    cfg = ctx.config
    champions = load_champions(ctx)
    windows = [c.document.get("windows") or {} for c in champions.sectors.values()]
    starts = [w["test_start"] for w in windows if w.get("test_start")]
    if not starts:
        return None
    test_start, test_end = min(starts), max(w["test_end"] for w in windows if w.get("test_end"))
    securities = load_universe(cfg["general.universe"] or None)
    sector_of = {s.symbol: s.sector for s in securities}
    panel = read_panel(ctx.connect(), symbols=sorted(sector_of), adjusted=True)
    labels = triple_barrier(panel, LabelParams.from_config(cfg)).set_index(["symbol", "date"])["label_id"]
    feats = compute_features(panel, sector_of)
    feats = feats[usable(feats)].join(labels, how="inner")
    dates = feats.index.get_level_values("date")
    test_days = sorted(set(dates[(dates >= pd.Timestamp(test_start)) & (dates <= pd.Timestamp(test_end))]))
    rows = feats[dates.isin(test_days[::ORACLE_EVERY])]
    proba = champions.predict(rows).to_numpy()
    ok = np.isfinite(proba).all(axis=1)
    rows, proba = rows[ok], proba[ok]
    orc = sample.oracle(securities, date.fromisoformat(cfg["data.sample.start"]), test_days[-1].date(),
                        seed=cfg["data.sample.seed"], strength=cfg["data.sample.strength"],
                        label_params=LabelParams.from_config(cfg), dates=test_days[::ORACLE_EVERY],
                        paths=ORACLE_PATHS)
    o = orc.set_index(["symbol", "date"]).reindex(rows.index)[["p_buy", "p_sell"]].to_numpy()
    out = q.measure(proba, rows["label_id"].to_numpy(), rows.index.get_level_values("date"),
                    rows["sector"].to_numpy(), float(cfg["signals.min_confidence"]), oracle=o)
    out["window"] = [test_start, test_end]
    return out

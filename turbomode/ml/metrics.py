"""Quality measures of class probabilities, and the population-stability bins drift compares with.

Probabilities are arrays of shape (n, 3) in ``labels.CLASSES`` order (BUY, SELL, HOLD); ``y`` holds
class indices 0/1/2. Pure numpy, so the drift job and tests need nothing heavier.
"""

from __future__ import annotations

from typing import Any, Sequence

EPS = 1e-6
ONE_SIDED_WARNING = 0.90  # more than this share of signals in one direction is a warning


def _np():
    import numpy as np

    return np


def log_loss(proba: Any, y: Any) -> float:
    np = _np()
    p = np.clip(proba[np.arange(len(y)), y], EPS, 1.0)
    return float(-np.mean(np.log(p)))


def brier(proba: Any, y: Any) -> float:
    """Multi-class Brier score: mean over rows of the summed squared error against the one-hot truth."""
    np = _np()
    onehot = np.zeros_like(proba, dtype=float)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def accuracy(proba: Any, y: Any) -> float:
    np = _np()
    return float(np.mean(np.argmax(proba, axis=1) == y))


def ece(confidence: Any, correct: Any, bins: int = 10) -> float:
    """Expected calibration error: |accuracy - confidence| per equal-width bin, weighted by bin size."""
    np = _np()
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidence) == 0:
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.sum() * abs(correct[m].mean() - confidence[m].mean())
    return float(total / len(confidence))


def reliability(confidence: Any, correct: Any, bins: int = 10) -> list[dict[str, float]]:
    """The reliability table of a probability: per equal-width bin with rows, the bin's range, the mean
    predicted probability, the observed frequency and the count (what a reliability diagram draws)."""
    np = _np()
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        if m.any():
            out.append({"lo": b / bins, "hi": (b + 1) / bins, "predicted": float(confidence[m].mean()),
                        "observed": float(correct[m].mean()), "count": int(m.sum())})
    return out


def pool_side_calibration(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several windows' side calibration (each: rows, brier_buy, brier_sell and a ``reliability`` table
    per side, as train stores a sector's test window) as one: the same equal-width bins merged
    (count-weighted means), and the ECE and Brier of the union, which those tables determine exactly."""
    out: dict[str, Any] = {"rows": sum(int(p.get("rows") or 0) for p in parts), "reliability": {}}
    for side in ("BUY", "SELL"):
        merged: dict[tuple[float, float], list[float]] = {}
        for p in parts:
            for b in (p.get("reliability") or {}).get(side, []):
                m = merged.setdefault((b["lo"], b["hi"]), [0.0, 0.0, 0])
                m[0] += b["predicted"] * b["count"]
                m[1] += b["observed"] * b["count"]
                m[2] += b["count"]
        table = [{"lo": lo, "hi": hi, "predicted": sp / n, "observed": so / n, "count": n}
                 for (lo, hi), (sp, so, n) in sorted(merged.items()) if n]
        total = sum(b["count"] for b in table)
        out["reliability"][side] = table
        out[f"ece_{side.lower()}"] = (sum(b["count"] * abs(b["observed"] - b["predicted"]) for b in table) / total
                                      if total else float("nan"))
        weighted = [(p.get(f"brier_{side.lower()}"), int(p.get("rows") or 0)) for p in parts]
        weighted = [(v, n) for v, n in weighted if v is not None and n]
        n_rows = sum(n for _, n in weighted)
        out[f"brier_{side.lower()}"] = sum(v * n for v, n in weighted) / n_rows if n_rows else float("nan")
    return out


def side_calibration(proba: Any, y: Any, bins: int = 10) -> dict[str, dict[str, Any]]:
    """Calibration of the probabilities that become signals, one-vs-rest: for BUY and SELL the ECE,
    the Brier score and the reliability table of P(side) against 'the side's target was hit'."""
    np = _np()
    y = np.asarray(y)
    out = {}
    for c, name in ((0, "BUY"), (1, "SELL")):
        p, hit = np.asarray(proba)[:, c], (y == c).astype(float)
        out[name] = {"ece": ece(p, hit, bins) if len(p) else float("nan"),
                     "brier": float(np.mean((p - hit) ** 2)) if len(p) else float("nan"),
                     "reliability": reliability(p, hit, bins)}
    return out


def pooled_side_ece(proba: Any, y: Any, bins: int = 10) -> float:
    """ECE of a signal's confidence whatever its side: the rows stacked once as (P(BUY), BUY target hit)
    and once as (P(SELL), SELL target hit) — the calibration the shared side calibrator fits.

    A window in which the market trended lifts the BUY rate and lowers the SELL rate by the same
    amount; no model can foresee that, and it shows in the per-side ECEs (reported too) but cancels
    here, so this is the one a challenger is judged on (models.max_signal_ece)."""
    np = _np()
    proba, y = np.asarray(proba), np.asarray(y)
    return ece(np.concatenate([proba[:, 0], proba[:, 1]]), np.concatenate([y == 0, y == 1]), bins)


def signal_ece(metrics: dict[str, Any]) -> float | None:
    """The signal calibration error of an ``evaluate`` result: the pooled side ECE (older results:
    the worse of the BUY and SELL ECE); None when absent."""
    if metrics.get("ece_signal") is not None:
        return metrics["ece_signal"]
    vals = [metrics.get("ece_buy"), metrics.get("ece_sell")]
    vals = [v for v in vals if v is not None and v == v]
    return max(vals) if vals else None


def top_label_ece(proba: Any, y: Any, bins: int = 10) -> float:
    """ECE of the most likely class's probability."""
    np = _np()
    return ece(np.max(proba, axis=1), np.argmax(proba, axis=1) == y, bins)


def classwise_ece(proba: Any, y: Any, classes: Sequence[int] = (0, 1), bins: int = 10) -> dict[int, float]:
    """ECE of each class's own probability (BUY and SELL by default): the confidence of a signal."""
    return {c: ece(proba[:, c], y == c, bins) for c in classes}


def signals(proba: Any, threshold: float) -> Any:
    """Which rows emit a signal and which way: 0 BUY, 1 SELL, -1 none.

    A row signals the more likely of BUY/SELL (BUY on a tie) when its probability reaches
    ``threshold`` and it is not below HOLD's. This is THE signal rule: scan (``signal_side``),
    train's metrics and the backtest all call it, so they cannot disagree.
    """
    np = _np()
    side = np.where(proba[:, 0] >= proba[:, 1], 0, 1)
    p = proba[np.arange(len(proba)), side]
    emit = (p >= threshold) & (p >= proba[:, 2])
    return np.where(emit, side, -1)


def signal_side(prob_buy: float, prob_sell: float, prob_hold: float, threshold: float) -> str | None:
    """'BUY', 'SELL' or None for one probability row: ``signals`` applied to that row."""
    np = _np()
    side = int(signals(np.array([[prob_buy, prob_sell, prob_hold]], dtype=float), threshold)[0])
    return None if side < 0 else ("BUY", "SELL")[side]


def signal_precision(proba: Any, y: Any, threshold: float) -> dict[str, Any]:
    """Counts and precision of the signals emitted at ``threshold``, overall and per side."""
    np = _np()
    s = signals(proba, threshold)
    out: dict[str, Any] = {"threshold": threshold}
    emitted = s >= 0
    n = int(emitted.sum())
    out["signals"] = n
    out["precision"] = float(np.mean(y[emitted] == s[emitted])) if n else None
    for c, name in ((0, "buy"), (1, "sell")):
        m = s == c
        out[f"{name}_signals"] = int(m.sum())
        out[f"{name}_precision"] = float(np.mean(y[m] == c)) if m.any() else None
        out[f"{name}_mean_confidence"] = float(np.mean(proba[m, c])) if m.any() else None
    out["one_sided"] = one_sided(out["buy_signals"], out["sell_signals"])
    return out


SIGNAL_BLOCK = 21  # sessions per cluster of the signals' standard error (ml/quality.py: BLOCK)


def signal_confidence_check(proba: Any, y: Any, threshold: float, *, dates: Any = None,
                            symbols: Any = None) -> dict[str, Any]:
    """Do the signals at ``threshold`` reach their targets as often as their confidence says?

    The calibration ECE of P(BUY) and P(SELL) is taken over every row, where a signal's confidence
    (>= the threshold) is a thin tail: on a random walk a calibrator's step can give a few percent of
    the rows 0.45 while they hit 0.30, and the ECE over all rows hardly moves. Here only the rows that
    become signals count: ``overconfidence`` = their mean confidence - the share that hit the target
    (sides pooled, so a window's market trend, which lifts one side's rate and lowers the other's,
    cancels as far as the mix is two-sided).

    Signals are few and far from independent (a stock signals on consecutive days with overlapping
    horizons; one date's stocks share the market), so ``se`` is the largest of the binomial error a
    calibrated forecast would have and the errors clustered by blocks of ``SIGNAL_BLOCK`` sessions
    (``dates``) and by symbol (``symbols``). ``overconfident`` judges the result against a bound.
    """
    np = _np()
    import pandas as pd

    from turbomode.ml.quality import clustered_se

    proba, y = np.asarray(proba, dtype=float), np.asarray(y)
    s = signals(proba, threshold)
    rows = np.flatnonzero(s >= 0)
    n = len(rows)
    out: dict[str, Any] = {"signals": n, "mean_confidence": None, "hit_rate": None, "overconfidence": None,
                           "se": None}
    if n == 0:
        return out
    conf = proba[rows, s[rows]]
    hit = (y[rows] == s[rows]).astype(float)
    gap = float(conf.mean() - hit.mean())
    errors = [float(np.sqrt(np.mean(conf * (1.0 - conf)) / n))]
    if dates is not None:
        blocks = pd.factorize(np.asarray(dates), sort=True)[0] // SIGNAL_BLOCK
        errors.append(clustered_se(hit - conf, blocks[rows]))
    if symbols is not None:
        errors.append(clustered_se(hit - conf, np.asarray(symbols)[rows]))
    se = max(e for e in errors if e == e)  # nan: fewer than two clusters
    out.update(mean_confidence=float(conf.mean()), hit_rate=float(hit.mean()), overconfidence=gap, se=se)
    return out


def overconfident(check: dict[str, Any] | None, bound: float) -> bool:
    """True when a ``signal_confidence_check`` shows signals that hit their targets less often than their
    confidence says by more than ``bound`` (models.max_signal_ece) and by more than two standard
    errors: beyond the tolerance, and beyond what chance makes of that many signals."""
    if not check or check.get("overconfidence") is None:
        return False
    gap, se = check["overconfidence"], check.get("se") or 0.0
    return bool(gap > bound and gap > 2 * se)


def signal_returns(proba: Any, threshold: float, ret_buy: Any, ret_sell: Any, cost: float) -> dict[str, Any]:
    """What the signals at ``threshold`` earned: mean net return per signal (each side's gross trade
    return minus ``cost``, the round trip), overall and per side, and whether that clears zero."""
    np = _np()
    s = signals(proba, threshold)
    gross = np.where(s == 0, np.asarray(ret_buy, dtype=float), np.asarray(ret_sell, dtype=float))
    out: dict[str, Any] = {"cost": cost}
    for c, name in ((None, "mean_net_return"), (0, "buy_mean_net_return"), (1, "sell_mean_net_return")):
        m = (s >= 0) if c is None else (s == c)
        out[name] = float(np.mean(gross[m]) - cost) if m.any() else None
    out["clears_break_even"] = None if out["mean_net_return"] is None else out["mean_net_return"] > 0
    return out


ONE_SIDED_MIN_SIGNALS = 10  # fewer signals than this are not judged (3 of 3 is not a pattern)


def one_sided(buys: int, sells: int, *, minimum: int = ONE_SIDED_MIN_SIGNALS) -> str | None:
    """'BUY' or 'SELL' when more than 90% of at least ``minimum`` signals point that way.

    THE signal-mix rule: train (per sector and for the whole model set, on validation and test),
    scan (the session's signals and every open one), `status`, `turbomode signals` and the report
    all judge a mix with it (``one_sided_text`` words it)."""
    n = buys + sells
    if n < minimum:
        return None
    if buys / n > ONE_SIDED_WARNING:
        return "BUY"
    if sells / n > ONE_SIDED_WARNING:
        return "SELL"
    return None


def one_sided_text(buys: int, sells: int, what: str) -> str | None:
    """'12 of the 13 open signals (92%) are SELL: ...' when ``one_sided`` says so, else None;
    ``what`` names the signals, with ``{total}`` for their number ('the {total} open signals')."""
    side = one_sided(buys, sells)
    n, total = (buys if side == "BUY" else sells), buys + sells
    if side is None or total == 0:
        return None
    return (f"{n} of {what.format(total=total)} ({n / total:.0%}) are {side}: a one-sided model set is a warning, "
            "not a result; check `turbomode drift` and the training report")


def class_mix(y: Any, n_classes: int = 3) -> list[float]:
    np = _np()
    counts = np.bincount(np.asarray(y, dtype=int), minlength=n_classes)[:n_classes]
    return [float(c) / max(1, len(y)) for c in counts]


def evaluate(proba: Any, y: Any, threshold: float) -> dict[str, Any]:
    """Everything recorded per model on a window (JSON-able)."""
    np = _np()
    y = np.asarray(y, dtype=int)
    sides = side_calibration(proba, y)
    return {
        "rows": int(len(y)),
        "log_loss": log_loss(proba, y),
        "brier": brier(proba, y),
        "accuracy": accuracy(proba, y),
        "ece": top_label_ece(proba, y),
        "ece_buy": sides["BUY"]["ece"],
        "ece_sell": sides["SELL"]["ece"],
        "ece_signal": pooled_side_ece(proba, y),
        "brier_buy": sides["BUY"]["brier"],
        "brier_sell": sides["SELL"]["brier"],
        "reliability": {k: v["reliability"] for k, v in sides.items()},
        "class_mix": dict(zip(("BUY", "SELL", "HOLD"), class_mix(y))),
        "mean_proba": dict(zip(("BUY", "SELL", "HOLD"), (float(v) for v in proba.mean(axis=0)))),
        "signals": signal_precision(proba, y, threshold),
    }


# --- population stability (drift) --------------------------------------------------------

def psi_bins(values: Any, bins: int = 10) -> dict[str, list[float]]:
    """Quantile bin edges of a training feature and the share of training rows in each bin.

    The outer edges are open (-inf, +inf) so later values always land in a bin.
    """
    np = _np()
    v = np.asarray(values, dtype=float)
    v = np.sort(v[np.isfinite(v)])  # sorted once: the quantiles and the bin counts both read it
    if len(v) == 0:
        return {"edges": [], "expected": []}
    inner = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    # np.histogram's counts ([a, b) bins; every value is below the last edge, +inf)
    expected = np.diff(np.searchsorted(v, edges, side="left")) / len(v)
    return {"edges": [float(e) for e in edges], "expected": [float(e) for e in expected]}


def psi(bins: dict[str, list[float]], values: Any) -> float:
    """Population stability index of ``values`` against bins from ``psi_bins`` (0.1 moderate, 0.25 major)."""
    np = _np()
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not bins["edges"] or len(v) == 0:
        return float("nan")
    expected = np.clip(np.asarray(bins["expected"]), 1e-4, None)
    actual = np.clip(np.histogram(v, np.asarray(bins["edges"]))[0] / len(v), 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


# --- edge against the base rate ----------------------------------------------------------

def edge_vs_base(proba: Any, y: Any, dates: Any, symbols: Any, side: int, *, sectors: Any = None,
                 top_frac: float = 0.1, block_days: int = 21) -> dict[str, float]:
    """Do the rows a model favours for ``side`` end with that label more often than chance?

    Each date, the ``top_frac`` of rows with the highest ``P(side) - P(other side)`` are picked
    (a scan picks among the day's stocks). Precision is the share of them labelled ``side``; the
    base rate is, for each picked row, the share of ``side`` labels among all rows of its date
    (averaged), so a market-wide rally or volatility burst, which moves every stock of a date
    together, is not mistaken for skill. Ranking by the difference of the two sides' probabilities
    asks for direction: a model that only foresees bigger moves (both sides' targets more likely)
    is not an edge on a random walk.

    With ``sectors``, picks and base rates are per sector and date (each sector has its own
    models): sectors differ in market beta, and a year in which the market trends makes low- or
    high-beta sectors' labels lean one way, which is exposure, not foresight.

    Rows are far from independent: labels of nearby days share their horizon, one date's stocks
    share the market's and their sector's moves, and a stock tends to stay picked for weeks. The
    standard error is therefore clustered two ways (Cameron, Gelbach and Miller): by symbol and by
    blocks of ``block_days`` dates, V = V_symbol + V_block - V_symbol x block.
    Volatility timing is not direction: a model that picks stocks about to move a lot lifts the
    hit rate of *both* sides' targets above the base, with no expected profit on a random walk.
    ``net`` removes that: (precision - base) - (opposite side's rate among the picks - its base).

    Returns precision, base, se, z = (precision - base) / se; other, other_base (the opposite
    label's rate among the picks and on their dates); net, se_net, z_net; n; clusters.
    """
    np = _np()
    import pandas as pd

    y = np.asarray(y)
    proba = np.asarray(proba)
    other = 1 - side
    df = pd.DataFrame({"score": proba[:, side] - proba[:, other], "hit": (y == side).astype(float),
                       "hit_other": (y == other).astype(float), "date": np.asarray(dates),
                       "symbol": np.asarray(symbols)})
    df["group"] = df["date"] if sectors is None else pd.factorize(
        pd.Series(np.asarray(sectors)).astype(str) + "|" + df["date"].astype(str))[0]
    by_date = df.groupby("group")
    df["base"] = by_date["hit"].transform("mean")
    df["base_other"] = by_date["hit_other"].transform("mean")
    rank = by_date["score"].rank(ascending=False, method="first")
    quota = np.maximum(1, np.round(top_frac * by_date["score"].transform("size")))
    top = df[rank <= quota]
    n = len(top)
    if n == 0:
        nan = float("nan")
        return {"precision": nan, "base": nan, "se": nan, "z": nan, "other": nan, "other_base": nan,
                "net": nan, "se_net": nan, "z_net": nan, "n": 0, "clusters": 0}
    raw = (top["hit"] - top["base"]).to_numpy()
    net = raw - (top["hit_other"] - top["base_other"]).to_numpy()
    block = pd.factorize(top["date"], sort=True)[0] // max(1, block_days)
    sym = pd.factorize(top["symbol"])[0]
    cell = pd.factorize(pd.Series(sym).astype(str) + "|" + pd.Series(block).astype(str))[0]

    def se_of(d) -> float:
        def cluster_var(key) -> float:
            g = int(key.max() + 1)
            if g < 2:
                return float("nan")
            resid = np.bincount(key, weights=d - d.mean())
            return float(np.sum(resid ** 2)) / n ** 2 * g / (g - 1)

        v_sym, v_block, v_cell = cluster_var(sym), cluster_var(block), cluster_var(cell)
        var = max(v_sym + v_block - v_cell, v_sym, v_block)  # the two-way sum can dip below either part
        return float(np.sqrt(var)) if np.isfinite(var) else float("nan")

    se, se_net = se_of(raw), se_of(net)
    return {"precision": float(top["hit"].mean()), "base": float(top["base"].mean()),
            "se": se, "z": float(raw.mean()) / se if se > 0 else float("nan"),
            "other": float(top["hit_other"].mean()), "other_base": float(top["base_other"].mean()),
            "net": float(net.mean()), "se_net": se_net,
            "z_net": float(net.mean()) / se_net if se_net > 0 else float("nan"),
            "n": n, "clusters": int(cell.max() + 1)}

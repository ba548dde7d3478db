"""Drift statistics: pure functions of arrays and counts (numpy; scipy for the tests).

* Feature drift: the population stability index (PSI) of each feature's recent values against the
  bins of the champion's training values (``ml.metrics.psi_bins`` / ``psi``).
* Prediction drift: PSI of the BUY/SELL mix and of the confidence distribution, recent signals
  against the period before.
* Outcome drift: the realised hit rate (closed at the target) of recent closed signals against the
  backtest's, with an exact two-sided binomial test.

Why feature PSI needs a noise floor: daily features are strongly autocorrelated (a 252-day return
barely moves in a quarter) and a sector has a few dozen symbols, so a quarter of recent rows holds
few independent values and its PSI against years of training data is often far above 0.25 in a
market that has not changed at all. So each feature's PSI is also compared with the PSI that windows
of the same length *inside the training period* show against the whole of it: their mean fixes the
scale c of a c * chi2(bins - 1) law, whose 95th percentile is the moderate floor and whose
1 - 0.01 / features percentile (Bonferroni over the features) the significant floor. A feature is
moderate / significant when its PSI passes both the configured threshold (0.1 / 0.25) and its floor.
A sector's features have drifted significantly when at least ``min_features`` of them are
significant (one feature beyond its floor by chance is expected now and then; a regime change moves
many at once).

Why features are compared as stationary transforms: a sector model's directional features are
already relative to the sector's same-date mean, but volatility and volume are absolute, and the
whole market's volatility wanders in regimes lasting weeks (the sample market's GARCH persistence
is 0.98; real markets do the same). A calm quarter after a volatile training window moved every
volatility feature of every sector at once, past its floor: drift 20 minutes after training, on a
market whose laws had not changed. Targets and stops scale with each stock's own volatility, so a
market-wide level is not what the models depend on; how a stock stands against the rest of the
market on the same date is. So each absolute feature is also compared as its distance from that
date's median over all symbols (``stationary``), and a feature has drifted only when it moved both
on its own scale and against the rest of the market (``least_severe`` of the two levels): a
market-wide calm or storm cancels in the second, a sector whose stocks now move twice as much as
before stands out in both, and the sectors that did not change fail the first.

Levels of the outcome test: p < 0.05 is 'moderate', p < 0.01 'significant' — but only a hit rate
*below* the backtest's can be significant: doing better than expected is news, not an alarm.
Too little data gives 'insufficient' rather than a number that means nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

LEVELS = ("none", "moderate", "significant")
INSUFFICIENT = "insufficient"
OUTCOME_MODERATE_P = 0.05
OUTCOME_SIGNIFICANT_P = 0.01
PSI_FLOOR = 1e-4  # the share an empty bin is given, as ml.metrics.psi does


def level(value: float | None, moderate: float, significant: float) -> str:
    if value is None or not math.isfinite(value):
        return INSUFFICIENT
    if value >= significant:
        return "significant"
    if value >= moderate:
        return "moderate"
    return "none"


def least_severe(a: str, b: str) -> str:
    """The milder of two levels ('insufficient' when either is)."""
    if INSUFFICIENT in (a, b):
        return INSUFFICIENT
    return min(a, b, key=LEVELS.index)


def worst(levels: Sequence[str]) -> str:
    """The most severe of ``levels`` ('insufficient' counts as 'none')."""
    rank = {name: i for i, name in enumerate(LEVELS)}
    return max((lv for lv in levels if lv in rank), key=rank.__getitem__, default="none")


def feature_psi(bins: Mapping[str, Mapping[str, Any]], recent: Mapping[str, Any],
                min_rows: int = 100) -> dict[str, float | None]:
    """PSI per feature of ``recent`` values (name -> array) against training ``bins`` (name -> psi_bins).

    A feature with fewer than ``min_rows`` finite recent values, or without bins, gets None.
    """
    import numpy as np

    from turbomode.ml.metrics import psi

    out: dict[str, float | None] = {}
    for name, b in bins.items():
        if name not in recent or not b.get("edges"):
            out[name] = None
            continue
        v = np.asarray(recent[name], dtype=float)
        v = v[np.isfinite(v)]
        out[name] = float(psi(b, v)) if len(v) >= min_rows else None
    return out


@dataclass(frozen=True)
class Floor:
    """A feature's PSI noise floor from same-length windows inside its training period."""

    moderate: float
    significant: float
    mean: float
    windows: int


def window_psis(bins: Mapping[str, Any], values: Any, day: Any, window: int, stride: int) -> Any:
    """PSI against ``bins`` of every run of ``window`` consecutive days (one start every ``stride``).

    ``day``: each value's day as an integer 0..n_days-1 (the position of its date). Vectorised:
    bin counts per day, cumulated, differenced per window.
    """
    import numpy as np

    edges = np.asarray(bins["edges"], dtype=float)
    expected = np.clip(np.asarray(bins["expected"], dtype=float), PSI_FLOOR, None)
    v = np.asarray(values, dtype=float)
    d = np.asarray(day, dtype=np.int64)
    ok = np.isfinite(v)
    v, d = v[ok], d[ok]
    if len(edges) < 2 or len(v) == 0:
        return np.array([])
    n_days, k = int(d.max()) + 1, len(edges) - 1
    b = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, k - 1)
    counts = np.zeros((n_days + 1, k))
    np.add.at(counts, (d + 1, b), 1.0)
    cum = counts.cumsum(axis=0)
    starts = np.arange(0, n_days - window + 1, stride)
    if len(starts) == 0:
        return np.array([])
    per = cum[starts + window] - cum[starts]
    tot = per.sum(axis=1, keepdims=True)
    keep = tot[:, 0] > 0
    actual = np.clip(per[keep] / tot[keep], PSI_FLOOR, None)
    return ((actual - expected) * np.log(actual / expected)).sum(axis=1)


def noise_floor(psis: Any, n_bins: int, n_features: int, alpha: float = 0.01) -> Floor | None:
    """Moderate and significant floors from the training windows' PSIs (scaled chi-square, see above)."""
    import numpy as np
    from scipy.stats import chi2

    psis = np.asarray(psis, dtype=float)
    psis = psis[np.isfinite(psis)]
    if len(psis) < 5 or n_bins < 2:
        return None
    dof = n_bins - 1
    c = float(psis.mean()) / dof
    return Floor(moderate=c * float(chi2.ppf(0.95, dof)),
                 significant=c * float(chi2.ppf(1.0 - alpha / max(1, n_features), dof)),
                 mean=float(psis.mean()), windows=len(psis))


def feature_level(value: float | None, floor: Floor | None, moderate: float, significant: float) -> str:
    """The spec's PSI level, kept only where the PSI is also beyond the feature's noise floor."""
    raw = level(value, moderate, significant)
    if floor is None or raw in ("none", INSUFFICIENT):
        return raw
    if raw == "significant" and value > floor.significant:
        return "significant"
    if value >= moderate and value > floor.moderate:
        return "moderate"
    return "none"


def sector_feature_level(levels: Sequence[str], min_features: int) -> str:
    """Whether a sector's features drifted: significant when ``min_features`` of them are."""
    n_sig = sum(1 for lv in levels if lv == "significant")
    n_mod = sum(1 for lv in levels if lv == "moderate")
    if n_sig >= min_features:
        return "significant"
    if n_sig or n_mod >= min_features:
        return "moderate"
    return "none"


def stationary(features: Any, absolute: Sequence[str]) -> Any:
    """``features`` (index (symbol, date)) with each of the ``absolute`` columns replaced by its
    distance from the same date's median over all rows (volatility features in log terms): what
    drift compares, see above. Other columns are returned as they are."""
    import numpy as np

    out = features.copy()
    dates = out.index.get_level_values("date")
    for name in absolute:
        if name not in out.columns:
            continue
        v = out[name].astype("float64")
        if name.startswith(("vol_", "atr_", "range_")) and name != "vol_ratio_10_63":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log(v.where(v > 0))
        out[name] = v - v.groupby(dates).transform("median")
    return out


def reference_bins(values: Mapping[str, Any], n_bins: int = 10) -> dict[str, dict[str, list[float]]]:
    """Training bins computed now (when the champion's files carry none): name -> psi_bins."""
    from turbomode.ml.metrics import psi_bins

    return {name: psi_bins(v, n_bins) for name, v in values.items()}


def category_psi(expected: Mapping[str, int], actual: Mapping[str, int]) -> float | None:
    """PSI between two count tables over the same categories (e.g. BUY/SELL signal counts)."""
    keys = sorted(set(expected) | set(actual))
    ne, na = sum(expected.values()), sum(actual.values())
    if ne == 0 or na == 0:
        return None
    total = 0.0
    for k in keys:
        e = max(expected.get(k, 0) / ne, PSI_FLOOR)
        a = max(actual.get(k, 0) / na, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def distribution_psi(previous: Sequence[float], recent: Sequence[float], min_rows: int = 20) -> float | None:
    """PSI of ``recent`` values against quantile bins of ``previous`` (fewer bins for fewer rows)."""
    import numpy as np

    from turbomode.ml.metrics import psi, psi_bins

    p = np.asarray(previous, dtype=float)
    r = np.asarray(recent, dtype=float)
    p, r = p[np.isfinite(p)], r[np.isfinite(r)]
    if len(p) < min_rows or len(r) < min_rows:
        return None
    n_bins = max(2, min(10, len(p) // 20, len(r) // 10))
    return float(psi(psi_bins(p, n_bins), r))


def hit_rate_test(hits: int, n: int, expected: float | None, min_n: int = 20) -> dict[str, Any]:
    """Exact two-sided binomial test of ``hits`` of ``n`` against the ``expected`` hit rate."""
    out: dict[str, Any] = {"hits": hits, "n": n, "expected": expected,
                           "realised": hits / n if n else None, "p_value": None, "level": INSUFFICIENT}
    if n < min_n or expected is None or not (0.0 < expected < 1.0):
        return out
    from scipy.stats import binomtest

    p = float(binomtest(hits, n, expected, alternative="two-sided").pvalue)
    below = hits / n < expected
    if p < OUTCOME_SIGNIFICANT_P and below:
        lv = "significant"
    elif p < OUTCOME_MODERATE_P:
        lv = "moderate"
    else:
        lv = "none"
    out.update(p_value=p, level=lv)
    return out

"""Training: the labelled data set, chronological windows, six calibrated models and their ensemble.

The pieces are plain functions so that `backtest` can reuse them on its own walk-forward folds:

    data = build_dataset(panel, sectors, cfg)            # features + labels, usable rows only
    w = split_windows(data_dates(data), cfg)              # train | embargo | calib | embargo | valid
    fit = train_sector(data[data.sector == s], w, cfg)    # 6 models fitted, calibrated, scored
    proba = ensemble_proba(fit.members, X)                # (n, 3): BUY, SELL, HOLD

`train_sector` is three steps, so that the fits can run elsewhere (turbomode/compute): the
coordinating process builds a sector's ``SectorInputs`` (``sector_inputs``), each model type is
one pure piece (``fit_piece``: arrays in, the calibrated model as pickle bytes and its validation
metrics out), and the coordinating process assembles and scores the ensemble (``finish_sector``).
``train_sectors`` runs every sector's pieces on a compute backend at once.

Windows are split by date, never by row: every symbol's rows of one date fall in the same window,
and ``horizon_days`` dates are dropped between windows (a label looks that far ahead, so the
last training labels would otherwise overlap the first calibration bars).

Each model is calibrated on its own later window with
``CalibratedClassifierCV(FrozenEstimator(model), method=...)`` (scikit-learn >= 1.6), sigmoid by
default (see ``calibration_method``). The ensemble is the plain mean of the six
calibrated probabilities: a mean of calibrated forecasts stays close to calibrated, and fitting
weights or a second calibrator on the same calibration rows would score them in-sample.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from turbomode.ml.features import DIRECTIONAL, FEATURE_NAMES
from turbomode.ml.labels import CLASSES, LabelParams
from turbomode.ml.models import MODEL_TYPES, make_model

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

Progress = Callable[[int, int, str], None]  # (completed, total, description)
ISOTONIC_MIN_ROWS = 1000
MIN_CLASS_ROWS = 10
PROBA_FLOOR = 1e-4
# Fitting order when models train side by side: the longest first keeps every worker busy to the end.
_SLOWEST_FIRST = ("random_forest", "hist_gb", "lightgbm", "xgboost", "logistic", "extra_trees")


class NotTrainable(Exception):
    """A sector (or the whole data set) cannot be trained; the message says why."""


WINDOWS = ("train", "calib", "valid", "test")


@dataclass(frozen=True)
class Windows:
    """Chronological windows: train | calib | valid (chooses the champion) | test (reports its quality).

    ``embargo_days`` dates separate them; on top of that a row belongs to a window only when its
    label's horizon (``horizon_end``: the last bar the label read, per symbol, in bars) ends before
    the next window starts, so no label looks into a later window even where a symbol skipped
    sessions.
    """

    train: tuple[_dt.date, _dt.date]
    calib: tuple[_dt.date, _dt.date]
    valid: tuple[_dt.date, _dt.date]
    test: tuple[_dt.date, _dt.date]
    embargo_days: int

    def as_dict(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {}
        for name in WINDOWS:
            a, b = getattr(self, name)
            out[f"{name}_start"], out[f"{name}_end"] = a.isoformat(), b.isoformat()
        out["embargo_days"] = self.embargo_days
        return out

    def masks(self, dates: "pd.Series | pd.Index", horizon_end: Any = None) -> dict[str, "np.ndarray"]:
        """Row masks per window; with ``horizon_end`` (one date per row) a row whose label reaches
        into the next window's first date is left out of its window."""
        import numpy as np
        import pandas as pd

        d = pd.DatetimeIndex(dates)
        ends = None if horizon_end is None else pd.DatetimeIndex(horizon_end)
        out = {}
        for i, name in enumerate(WINDOWS):
            a, b = getattr(self, name)
            m = (d >= pd.Timestamp(a)) & (d <= pd.Timestamp(b))
            if ends is not None and i + 1 < len(WINDOWS):
                m &= ends < pd.Timestamp(getattr(self, WINDOWS[i + 1])[0])
            out[name] = np.asarray(m)
        return out


def _cfg(cfg: Any, key: str, default: Any) -> Any:
    try:
        return cfg[key]
    except (KeyError, TypeError):
        return default


def split_windows(dates: Sequence[Any], cfg: Any) -> Windows:
    """Chronological train / calibration / validation / test windows over the labelled ``dates``.

    Test is the last ``models.test_days`` dates, validation the ``models.valid_days`` before it and
    calibration the ``models.calib_days`` before that, each capped at a fifth of the history so
    short histories still leave most for training; ``labels.horizon_days`` dates are skipped before
    each of them (the embargo).
    """
    import pandas as pd

    days = pd.DatetimeIndex(pd.to_datetime(pd.Index(dates).unique())).sort_values()
    n = len(days)
    embargo = int(_cfg(cfg, "labels.horizon_days", 10))
    cap = n // 5
    t = min(int(_cfg(cfg, "models.test_days", 126)), cap)
    v = min(int(_cfg(cfg, "models.valid_days", 126)), cap)
    c = min(int(_cfg(cfg, "models.calib_days", 252)), cap)
    train_n = n - t - v - c - 3 * embargo
    if t < 5 or v < 5 or c < 5 or train_n < max(20, n // 3):
        raise NotTrainable(f"only {n} labelled dates: too few for train, calibration, validation and test "
                           f"windows with a {embargo}-day embargo")
    test = (days[n - t], days[n - 1])
    valid_end = n - t - embargo
    valid = (days[valid_end - v], days[valid_end - 1])
    calib_end = valid_end - v - embargo
    calib = (days[calib_end - c], days[calib_end - 1])
    train = (days[0], days[train_n - 1])
    as_d = lambda pair: (pair[0].date(), pair[1].date())  # noqa: E731
    return Windows(as_d(train), as_d(calib), as_d(valid), as_d(test), embargo)


def build_dataset(panel: "pd.DataFrame", sectors: Mapping[str, str], cfg: Any,
                  features: "pd.DataFrame | None" = None, labels: "pd.DataFrame | None" = None, *,
                  unlabelled: bool = False) -> "pd.DataFrame":
    """Usable feature rows joined with their labels: index (symbol, date), FEATURE_NAMES, sector,
    label_id, horizon_end (the last bar the label read: the per-symbol embargo needs it), ret_buy
    and ret_sell (each side's gross trade return: what a signal there would have earned).

    ``features`` and ``labels`` (``triple_barrier`` output) may be passed when already computed.
    ``unlabelled``: keep the usable rows whose label is not known (NaN label columns), e.g. a
    stock's last sessions before it stopped trading: nothing may train on them, but a walk-forward
    must still predict them, as a live scan on those days would.
    """
    from turbomode.ml.features import compute_features, usable
    from turbomode.ml.labels import triple_barrier

    if features is None:
        features = compute_features(panel, sectors)
    if labels is None:
        labels = triple_barrier(panel, LabelParams.from_config(cfg))
    lab = labels.set_index(["symbol", "date"])[["label_id", "horizon_end", "ret_buy", "ret_sell"]]
    return features[usable(features)].join(lab, how="left" if unlabelled else "inner")


# A universe at least this large computes its features in chunks of whole sectors on the compute
# backend (the sector-relative features need every symbol of a sector, and nothing beyond it); a
# smaller one computes them here, where sending the prices out would cost more than it saves.
CHUNK_MIN_SYMBOLS = 1000


def features_piece(panel: "pd.DataFrame", sectors: Mapping[str, str],
                   members: Mapping[str, Any] | None = None) -> "pd.DataFrame":
    """The features of one chunk of whole sectors (a compute piece)."""
    from turbomode.ml.features import compute_features

    return compute_features(panel, sectors, members)


def features_on(backend: Any, panel: "pd.DataFrame", sectors: Mapping[str, str],
                members: Mapping[str, Any] | None = None, min_symbols: int = CHUNK_MIN_SYMBOLS) -> "pd.DataFrame":
    """``compute_features(panel, sectors, members)``, computed in chunks of whole sectors on
    ``backend`` when the universe has at least ``min_symbols`` symbols and the backend has more than
    one worker; the same frame either way."""
    import pandas as pd

    from turbomode.ml.features import compute_features

    present = set(panel["symbol"].unique()) if len(panel) else set()
    in_panel = {s: sec for s, sec in sectors.items() if s in present}
    if backend is None or backend.workers <= 1 or len(in_panel) < max(1, min_symbols):
        return compute_features(panel, sectors, members)
    by_sector: dict[str, list[str]] = {}
    for sym, sec in in_panel.items():
        by_sector.setdefault(sec, []).append(sym)
    # about two chunks per worker, whole sectors each, the largest sectors placed first
    n_chunks = max(1, min(len(by_sector), 2 * backend.workers))
    chunks: list[list[str]] = [[] for _ in range(n_chunks)]
    for sec in sorted(by_sector, key=lambda k: (-len(by_sector[k]), k)):
        min(chunks, key=len).extend(by_sector[sec])
    chunks = [c for c in chunks if c]
    pieces = ((i, (panel[panel["symbol"].isin(c)], {s: in_panel[s] for s in c},
                   {s: members[s] for s in c if s in (members or {})})) for i, c in enumerate(chunks))
    parts = dict(backend.map(features_piece, pieces))
    return pd.concat([parts[i] for i in range(len(chunks))]).sort_index()


def sector_rows(data: "pd.DataFrame") -> Callable[[str], "pd.DataFrame"]:
    """``rows(sector)`` is ``data[data["sector"] == sector]``, the same rows in the same order,
    with the sectors found in one pass: comparing a 900k-row string column once per sector (and
    again for the champion's re-scoring) cost the coordinator ~2 s of a train."""
    import numpy as np

    positions = data.groupby("sector", sort=False).indices if len(data) else {}
    empty = np.empty(0, dtype=np.intp)
    return lambda sector: data.iloc[positions.get(sector, empty)]


def data_dates(data: "pd.DataFrame") -> "pd.Index":
    return data.index.get_level_values("date")


def window_masks(data: "pd.DataFrame", windows: Windows) -> dict[str, "np.ndarray"]:
    """``windows.masks`` of a data set's rows, with its per-row horizon ends when it has them."""
    ends = data["horizon_end"] if "horizon_end" in data.columns else None
    return windows.masks(data_dates(data), ends)


MAX_BALANCE_WEIGHT = 4.0


def side_balanced_weights(y: "np.ndarray", groups: "np.ndarray") -> "np.ndarray":
    """Training weights that give BUY and SELL labels equal weight within each group (a date),
    and equal weight overall.

    On one date a sector's stocks share the market's and the sector's move: in a rally most of
    them end as BUY, and a model fitted on such days learns "BUY is likelier" from whatever
    feature identifies those weeks — and, over the whole window, learns its years' trend as a
    prior. Each date's BUY and SELL labels are weighted to equal totals (the pair's combined
    weight unchanged; a one-sided date's labels count half; HOLD untouched), weights are capped
    at MAX_BALANCE_WEIGHT so a lone opposite label cannot dominate, and finally the two sides are
    scaled to equal totals. What is left to learn is what tells stocks apart on the same date, and
    how likely a move of either kind is.
    """
    import numpy as np
    import pandas as pd

    y = np.asarray(y)
    g = pd.factorize(np.asarray(groups))[0]
    n_g = int(g.max()) + 1 if len(g) else 0
    nb = np.bincount(g, weights=(y == 0), minlength=n_g)
    ns = np.bincount(g, weights=(y == 1), minlength=n_g)
    pair = nb + ns
    with np.errstate(divide="ignore", invalid="ignore"):
        wb = np.where(nb > 0, pair / (2 * np.maximum(nb, 1)), 0.0)
        ws = np.where(ns > 0, pair / (2 * np.maximum(ns, 1)), 0.0)
    w = np.ones(len(y))
    buy, sell = y == 0, y == 1
    w[buy] = np.minimum(wb[g[buy]], MAX_BALANCE_WEIGHT)
    w[sell] = np.minimum(ws[g[sell]], MAX_BALANCE_WEIGHT)
    tb, ts = w[buy].sum(), w[sell].sum()
    if tb > 0 and ts > 0:
        mean = (tb + ts) / 2
        w[buy] *= mean / tb
        w[sell] *= mean / ts
    return w


def _cost_per_side(cfg: Any) -> float:
    """Commission + slippage per side as a fraction (backtest.*_bps): what a fill costs."""
    return (float(_cfg(cfg, "backtest.commission_bps", 1.0)) + float(_cfg(cfg, "backtest.slippage_bps", 5.0))) / 1e4


def _xy(data: "pd.DataFrame", names: Sequence[str]) -> tuple["np.ndarray", "np.ndarray"]:
    import numpy as np

    return (np.ascontiguousarray(data[list(names)].to_numpy(dtype=np.float32)),
            data["label_id"].to_numpy(dtype=np.int64))


def calibration_method(rows: int, cfg: Any = None) -> str:
    """models.calibration; 'auto' = isotonic when the window has >= 1000 rows, else sigmoid.

    Sigmoid is the default: on the sample market (66 symbols x 8 years, strength 0.6) it beat
    isotonic on held-out log loss (1.048 vs 1.062), Brier and ECE, and isotonic's steps made the
    rare high-confidence forecasts over-confident (signals at 0.6 right 0.26-0.40 of the time).
    """
    chosen = _cfg(cfg, "models.calibration", "sigmoid") if cfg is not None else "sigmoid"
    if chosen != "auto":
        return chosen
    return "isotonic" if rows >= ISOTONIC_MIN_ROWS else "sigmoid"


def fit_member(kind: str, X_train: "np.ndarray", y_train: "np.ndarray", X_cal: "np.ndarray",
               y_cal: "np.ndarray", cfg: Any = None, *, method: str | None = None, seed: int = 0,
               weights: "np.ndarray | None" = None, odd_columns: Sequence[int] | None = None) -> Any:
    """One model fitted on the training window (``weights``: see side_balanced_weights) and
    calibrated on the (later) calibration window, with one map shared by P(BUY) and P(SELL)
    (ml/calibration.py says why). ``odd_columns``: the directional features' columns, whose sign
    the market's mirror image flips (features.mirror); the model is then side-symmetric."""
    from turbomode.ml.calibration import SignalCalibrated, fit_side_calibrator
    from turbomode.ml.models import fit_weighted

    model = make_model(kind, trees=int(_cfg(cfg, "models.trees", 100)), n_jobs=1, seed=seed)
    fit_weighted(model, X_train, y_train, weights)
    method = method or calibration_method(len(y_cal), cfg)
    odd = list(odd_columns or [])
    raw = SignalCalibrated(model, None, odd).raw_proba(X_cal)
    return SignalCalibrated(model, fit_side_calibrator(raw, y_cal, method), odd)


def member_proba(model: Any, X: "np.ndarray") -> "np.ndarray":
    """Probabilities in CLASSES order, floored and renormalised (isotonic maps can give exact zeros)."""
    import numpy as np

    raw = model.predict_proba(X)
    out = np.zeros((len(X), len(CLASSES)), dtype=np.float64)
    for j, c in enumerate(model.classes_):
        out[:, int(c)] = raw[:, j]
    out = np.clip(out, PROBA_FLOOR, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def ensemble_proba(members: Mapping[str, Any], X: "np.ndarray") -> "np.ndarray":
    """The ensemble: the mean of the members' calibrated probabilities.

    Predicts on one thread: HistGradientBoosting opens an OpenMP region per tree, which on a
    busy machine made 66 models' predictions for 240 rows take 5 s instead of 0.1 s.
    """
    import numpy as np

    from turbomode.ml.threads import one_thread

    with one_thread():
        return np.mean([member_proba(m, X) for m in members.values()], axis=0)


def check_classes(y: "np.ndarray", window: str) -> None:
    import numpy as np

    counts = np.bincount(y, minlength=len(CLASSES))
    thin = [CLASSES[i] for i, c in enumerate(counts) if c < MIN_CLASS_ROWS]
    if thin:
        raise NotTrainable(f"the {window} window has fewer than {MIN_CLASS_ROWS} {'/'.join(thin)} labels")


class PickledModels(Mapping[str, Any]):
    """A sector's fitted members as the pieces returned them, pickle bytes, unpickled on first use.

    The coordinating process of a `train` on workers only writes the models out (the bytes as
    they came back: ``pickled``) and never predicts with them, so it need not load them, nor
    import the libraries that loading needs; a caller that predicts gets the model itself.
    """

    def __init__(self, pickled: Mapping[str, bytes]):
        self._pickled = dict(pickled)
        self._loaded: dict[str, Any] = {}

    def pickled(self, kind: str) -> bytes:
        return self._pickled[kind]

    def __getitem__(self, kind: str) -> Any:
        if kind not in self._loaded:
            import pickle

            self._loaded[kind] = pickle.loads(self._pickled[kind])
        return self._loaded[kind]

    def __iter__(self):
        return iter(self._pickled)

    def __len__(self) -> int:
        return len(self._pickled)


@dataclass
class SectorFit:
    sector: str
    windows: Windows
    feature_names: list[str]
    members: Mapping[str, Any]  # a PickledModels when the fits ran as pieces
    member_metrics: dict[str, dict[str, Any]]  # on the validation window
    ensemble_metrics: dict[str, Any]  # on the validation window (chooses the champion)
    rows: dict[str, int]
    calibration: str
    psi: dict[str, dict[str, list[float]]]
    test_metrics: dict[str, Any] = field(default_factory=dict)  # on the test window (reported quality)
    data_end: str | None = None  # the last price date any fitted parameter read
    # validation rows, kept in memory to re-score the champion on the same window
    X_valid: Any = field(default=None, repr=False)
    y_valid: Any = field(default=None, repr=False)
    # the test window's ensemble probabilities and labels (pooled over sectors by `train`)
    test_proba: Any = field(default=None, repr=False)
    y_test: Any = field(default=None, repr=False)
    test_index: Any = field(default=None, repr=False)  # their (symbol, date) rows
    # the last price date that fitted the models or chose them (the validation window's labels decide
    # promotion), and the last one any of the sector's rows read (the test window's labels included)
    decided_end: str | None = None
    labels_end: str | None = None


@dataclass
class SectorInputs:
    """Everything one sector's fits need: built once by the coordinating process, sent to the
    compute workers once (``Backend.share``) and read by each of the sector's model-type pieces."""

    sector: str
    feature_names: list[str]
    X_train: "np.ndarray"
    y_train: "np.ndarray"
    w_train: "np.ndarray"  # side_balanced_weights
    X_calib: "np.ndarray"
    y_calib: "np.ndarray"
    X_valid: "np.ndarray"
    y_valid: "np.ndarray"
    X_test: "np.ndarray"  # predicted by each piece too: the ensemble is the mean of the pieces' answers
    y_test: "np.ndarray"
    odd_columns: list[int]  # the directional features (features.mirror flips them)
    method: str  # calibration
    threshold: float  # signals.min_confidence
    trees: int  # models.trees


def sector_inputs(data: "pd.DataFrame", windows: Windows, cfg: Any,
                  feature_names: Sequence[str] = FEATURE_NAMES, sector: str = "") -> tuple[SectorInputs, dict]:
    """(the inputs of the sector's fits, the row masks per window); NotTrainable when a window is
    empty, the training window has fewer than ``models.min_train_rows`` rows, or a class is (almost)
    absent from a window."""
    names = list(feature_names)
    m = window_masks(data, windows)
    parts = {k: _xy(data[v], names) for k, v in m.items()}
    rows = {k: int(len(v[1])) for k, v in parts.items()}
    min_rows = int(_cfg(cfg, "models.min_train_rows", 500))
    if rows["train"] < min_rows:
        raise NotTrainable(f"{rows['train']} training rows, fewer than models.min_train_rows = {min_rows}")
    if rows["calib"] == 0 or rows["valid"] == 0:
        raise NotTrainable("no rows in the calibration or validation window")
    (X_tr, y_tr), (X_ca, y_ca), (X_va, y_va), (X_te, y_te) = (parts[k] for k in WINDOWS)
    check_classes(y_tr, "training")
    check_classes(y_ca, "calibration")
    inputs = SectorInputs(
        sector, names, X_tr, y_tr, side_balanced_weights(y_tr, data_dates(data[m["train"]])), X_ca, y_ca, X_va, y_va,
        X_te, y_te, [i for i, n in enumerate(names) if n in DIRECTIONAL], calibration_method(len(y_ca), cfg),
        float(_cfg(cfg, "signals.min_confidence", 0.40)), int(_cfg(cfg, "models.trees", 100)))
    return inputs, m


@dataclass
class MemberFit:
    """What one fit piece returns: the model as pickle bytes, its validation metrics, and its
    calibrated probabilities on the validation and test rows (the ensemble is their mean)."""

    model: bytes
    metrics: dict[str, Any]
    valid_proba: "np.ndarray"
    test_proba: "np.ndarray"


def fit_piece(inputs: SectorInputs, kind: str) -> MemberFit:
    """One sector x model-type fit, the unit of work the compute backends run: the model fitted on
    the training window and calibrated on the calibration window, and its answers on the validation
    and test windows. Pure: arrays in, bytes and numbers out."""
    import pickle

    import numpy as np

    from turbomode.ml import metrics

    model = fit_member(kind, inputs.X_train, inputs.y_train, inputs.X_calib, inputs.y_calib,
                       {"models.trees": inputs.trees}, method=inputs.method, weights=inputs.w_train,
                       odd_columns=inputs.odd_columns)
    valid = member_proba(model, inputs.X_valid)
    test = member_proba(model, inputs.X_test) if len(inputs.X_test) else np.zeros((0, len(CLASSES)))
    return MemberFit(pickle.dumps(model, protocol=5), metrics.evaluate(valid, inputs.y_valid, inputs.threshold),
                     valid, test)


def fit_order(types: Sequence[str]) -> list[str]:
    """The longest fits first, so that the last pieces to finish are short ones."""
    return sorted(types, key=lambda k: _SLOWEST_FIRST.index(k) if k in _SLOWEST_FIRST else len(_SLOWEST_FIRST))


def finish_sector(data: "pd.DataFrame", windows: Windows, cfg: Any, inputs: SectorInputs, masks: dict,
                  fitted: Mapping[str, MemberFit], types: Sequence[str]) -> SectorFit:
    """The sector's ensemble from its fitted members (``fitted``: kind -> the piece's MemberFit,
    whose model stays pickled until someone predicts with it: ``PickledModels``): the mean of the
    members' probabilities scored on validation (chooses) and test (reports), the training
    features' PSI bins, the last price date any fitted parameter read. Runs in the coordinating
    process; nothing here predicts again."""
    import numpy as np

    from turbomode.ml import metrics

    m, names, threshold = masks, inputs.feature_names, inputs.threshold
    members = PickledModels({k: fitted[k].model for k in types})
    member_metrics = {k: fitted[k].metrics for k in types}
    cost = 2 * _cost_per_side(cfg)

    def scored(window: str, y: "np.ndarray") -> tuple[dict[str, Any], "np.ndarray"]:
        # the mean ensemble_proba takes, of the probabilities each piece computed the same way
        proba = np.mean([getattr(fitted[k], f"{window}_proba") for k in types], axis=0)
        out = metrics.evaluate(proba, y, threshold)
        rows_ = data[m[window]]
        if "ret_buy" in rows_.columns:
            out["signals"].update(metrics.signal_returns(proba, threshold, rows_["ret_buy"].to_numpy(),
                                                         rows_["ret_sell"].to_numpy(), cost))
        out["signal_check"] = metrics.signal_confidence_check(
            proba, y, threshold, dates=rows_.index.get_level_values("date"),
            symbols=rows_.index.get_level_values("symbol"))
        return out, proba

    y_te = inputs.y_test
    ens, _ = scored("valid", inputs.y_valid)
    test, test_proba = scored("test", y_te) if len(y_te) else ({}, None)
    psi = {n: metrics.psi_bins(inputs.X_train[:, i]) for i, n in enumerate(names)}
    rows = {"train": len(inputs.y_train), "calib": len(inputs.y_calib), "valid": len(inputs.y_valid),
            "test": int(len(y_te))}
    fitted_rows = m["train"] | m["calib"]

    def last_read(rows_: "np.ndarray") -> str | None:
        if "horizon_end" not in data.columns or not rows_.any():
            return None
        return str(np.asarray(data["horizon_end"].to_numpy()[rows_]).max())[:10]

    return SectorFit(inputs.sector, windows, names, members, member_metrics, ens, rows, inputs.method, psi, test,
                     last_read(fitted_rows), inputs.X_valid, inputs.y_valid, test_proba, y_te,
                     decided_end=last_read(fitted_rows | m["valid"]),
                     labels_end=last_read(fitted_rows | m["valid"] | m["test"]),
                     test_index=data.index[m["test"]] if len(y_te) else None)


def train_sector(data: "pd.DataFrame", windows: Windows, cfg: Any, *, sector: str = "",
                 types: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
                 feature_names: Sequence[str] = FEATURE_NAMES, backend: Any = None) -> SectorFit:
    """Fit, calibrate and score every model type on one sector's rows.

    Raises NotTrainable when a window is empty, the training window has fewer than
    ``models.min_train_rows`` rows, or a class is (almost) absent from a window.
    ``progress(model_type)`` is called after each model. ``backend`` (turbomode.compute) runs the
    fits; none runs them here, one after another.
    """
    types = list(types or _cfg(cfg, "models.types", MODEL_TYPES))
    inputs, masks = sector_inputs(data, windows, cfg, feature_names, sector)
    fitted = {}
    for kind, out in _fits(backend, inputs, types):
        fitted[kind] = out
        if progress:
            progress(kind)
    return finish_sector(data, windows, cfg, inputs, masks, fitted, types)


def _fits(backend: Any, inputs: SectorInputs, types: Sequence[str]):
    from turbomode import compute

    backend = backend or compute.inline()
    shared = backend.share(inputs)
    yield from backend.map(fit_piece, [(k, (shared, k)) for k in fit_order(types)])


def train_sectors(backend: Any, data: "pd.DataFrame", windows: Windows, cfg: Any, sectors: Sequence[str],
                  types: Sequence[str], *, feature_names: Sequence[str] = FEATURE_NAMES,
                  on_piece: Callable[[str, str], None] | None = None,
                  rows_of: Callable[[str], "pd.DataFrame"] | None = None):
    """Every sector's six fits as pieces on ``backend``: a sector's inputs are built and shared just
    before its pieces are sent, and the sector is finished here as soon as its last piece is back.

    Yields (sector, SectorFit, None), or (sector, None, reason) for a sector that cannot be trained,
    in the order the sectors finish. ``on_piece(sector, kind)`` is called after each fit.
    ``rows_of`` is ``sector_rows(data)`` when the caller has made it already.
    """
    types = list(types)
    order = fit_order(types)
    state: dict[str, tuple[SectorInputs, dict, "pd.DataFrame", dict]] = {}
    skipped: list[tuple[str, None, str]] = []
    rows_of = rows_of or sector_rows(data)

    def pieces():
        for sector in sectors:
            rows = rows_of(sector)
            try:
                inputs, masks = sector_inputs(rows, windows, cfg, feature_names, sector)
            except NotTrainable as exc:
                skipped.append((sector, None, str(exc)))
                continue
            state[sector] = (inputs, masks, rows, {})
            shared = backend.share(inputs)
            for kind in order:
                yield (sector, kind), (shared, kind)

    for (sector, kind), out in backend.map(fit_piece, pieces()):
        inputs, masks, rows, fitted = state[sector]
        fitted[kind] = out
        if on_piece:
            on_piece(sector, kind)
        while skipped:
            yield skipped.pop(0)
        if len(fitted) == len(types):
            del state[sector]
            yield sector, finish_sector(rows, windows, cfg, inputs, masks, fitted, types), None
    while skipped:
        yield skipped.pop(0)

"""Calibration of the probabilities that become signals: P(BUY) and P(SELL), one map for both sides.

A model's raw P(BUY) and P(SELL) are turned into calibrated probabilities on a later window that
the model never trained on. Calibrating each side on its own (scikit-learn's one-vs-rest multiclass
calibration) lets that window's trend become a prior: in a year a sector rose, BUY targets were
hit more often, and the BUY calibrator learns "add a few points to every BUY" — a tilt that then
sits on every signal of the next year, whatever the stock. The two sides are mirror images by
construction (ml/labels.py), so here they share one map: the calibration rows are stacked, each
row once as (raw P(BUY), hit BUY target) and once as (raw P(SELL), hit SELL target), and one
scikit-learn calibrator (``CalibratedClassifierCV`` over a frozen pass-through of the raw
probability, sigmoid on its log-odds or isotonic) is fitted on them. A trending window then
lifts one side and lowers the other by the same amount, and the shared map learns neither.
P(HOLD) is what is left.

The raw probabilities themselves are made side-symmetric first: a model can still carry a side
prior learned from its training years (a stock that rose for a decade is recognisable by its
volatility and volume, and its rows were mostly BUY). The market's mirror image — every log move
negated — turns each BUY into a SELL, and in it the directional features change sign while
volatility and volume stay (``features.mirror``). So the model's view of a row is averaged with
its view of the row's mirror, sides swapped: P(BUY | x) <- (P(BUY | x) + P(SELL | mirror x)) / 2.
Anything the model learned that does not depend on direction (which stock, which year) then
lifts both sides alike, and a stock that stands out from its sector in neither direction gets
P(BUY) = P(SELL).

``SignalCalibrated`` wraps a fitted model, the columns that are directional and its calibrator
behind the scikit-learn classifier surface the rest of the code uses (``classes_``,
``predict_proba``), and pickles as one object.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

PROBA_FLOOR = 1e-4
_EPS = 1e-6


class RawSideProbability(ClassifierMixin, BaseEstimator):
    """A binary 'classifier' whose input is already a probability (one column): its log-odds are
    the decision function. Lets scikit-learn's calibrators be fitted on stacked side probabilities."""

    def fit(self, X: Any, y: Any) -> "RawSideProbability":
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> Any:
        p = np.clip(np.asarray(X, dtype=float)[:, 0], _EPS, 1.0 - _EPS)
        return np.log(p / (1.0 - p))

    def predict_proba(self, X: Any) -> Any:
        p = np.clip(np.asarray(X, dtype=float)[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> Any:
        return (np.asarray(X, dtype=float)[:, 0] >= 0.5).astype(np.int64)


def _stack(raw: Any, y: Any | None = None) -> tuple[Any, Any]:
    raw = np.asarray(raw, dtype=float)
    X = np.concatenate([raw[:, 0], raw[:, 1]])[:, None]
    if y is None:
        return X, None
    y = np.asarray(y)
    return X, np.concatenate([(y == 0), (y == 1)]).astype(np.int64)


def fit_side_calibrator(raw: Any, y: Any, method: str = "sigmoid") -> Any:
    """One calibrator for both sides, fitted on raw (n, 3) probabilities (BUY, SELL, HOLD) and labels."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, t = _stack(raw, y)
    base = RawSideProbability().fit(X, t)
    return CalibratedClassifierCV(FrozenEstimator(base), method=method).fit(X, t)


def apply_side_calibrator(calibrator: Any, raw: Any) -> Any:
    """Calibrated (n, 3) probabilities: the shared map on P(BUY) and P(SELL), P(HOLD) the rest."""
    raw = np.asarray(raw, dtype=float)
    n = len(raw)
    X, _ = _stack(raw)
    p = side_map(calibrator, X)
    out = np.empty((n, 3))
    out[:, 0], out[:, 1] = p[:n], p[n:]
    side_sum = out[:, 0] + out[:, 1]
    over = side_sum > 1.0 - PROBA_FLOOR  # two near-certain sides cannot both be right
    out[over, :2] *= ((1.0 - PROBA_FLOOR) / side_sum[over])[:, None]
    out[:, 2] = 1.0 - out[:, 0] - out[:, 1]
    out = np.clip(out, PROBA_FLOOR, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def side_map(calibrator: Any, X: Any) -> Any:
    """``calibrator.predict_proba(X)[:, 1]``: the calibrated probability of each stacked side.

    For what ``fit_side_calibrator`` makes (a sigmoid or isotonic ``CalibratedClassifierCV`` over
    ``RawSideProbability``), the same arithmetic is done here on its fitted calibrators: the sigmoid's
    ``expit(-(a * logit + b))`` or the isotonic map's own ``predict`` on the log-odds, the clip of
    values a rounding error above 1, the mean over folds.
    scikit-learn's route through response-method dispatch, label encoding and array-namespace
    checks costs ~1.4 ms a call, and a scan makes 66 (~0.1 s) for a few dozen numbers each. The
    result is bit-identical (tests/ml/test_calibration_batching.py); any other calibrator goes
    through scikit-learn unchanged.
    """
    folds = _side_folds(calibrator)
    if folds is None:
        return calibrator.predict_proba(X)[:, 1]
    total = np.zeros(len(X))
    for base, fitted in folds:
        d = base.decision_function(X)
        if type(fitted).__name__ == "_SigmoidCalibration":
            from scipy.special import expit

            p = expit(-(fitted.a_ * d + fitted.b_))  # its predict(), less the input check (d is 1-D float64)
        else:
            p = fitted.predict(d)
        p = np.asarray(p, dtype=np.float64)
        p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0  # as _CalibratedClassifier.predict_proba does
        total += p
    total /= len(folds)
    return total


def _side_folds(calibrator: Any) -> list[tuple[Any, Any]] | None:
    """[(RawSideProbability, its fitted sigmoid or isotonic map)] per fold, or None if ``calibrator``
    is anything else."""
    if type(calibrator).__name__ != "CalibratedClassifierCV" or getattr(calibrator, "method", None) not in (
            "sigmoid", "isotonic"):
        return None
    if list(getattr(calibrator, "classes_", ())) != [0, 1] or not getattr(calibrator, "calibrated_classifiers_", None):
        return None
    folds = []
    for fold in calibrator.calibrated_classifiers_:
        base = fold.estimator
        if type(base).__name__ == "FrozenEstimator":
            base = base.estimator
        if (type(base) is not RawSideProbability or list(getattr(base, "classes_", ())) != [0, 1]
                or list(fold.classes) != [0, 1] or fold.method != calibrator.method or len(fold.calibrators) != 1):
            return None
        folds.append((base, fold.calibrators[0]))
    return folds


_FORESTS = frozenset({"RandomForestClassifier", "ExtraTreesClassifier"})


def model_proba(model: Any, X: Any) -> Any:
    """``model.predict_proba(X)``; for a random or extra-trees forest and float32 rows, the same
    sum over its trees in the same order, called directly.

    scikit-learn hands each tree to joblib as a task, which re-applies the configuration and the
    warning filters per tree: ~0.16 ms a tree, so 22 forests of 50 trees cost a scan 0.18 s to
    predict ~40 rows each. The trees' own ``predict_proba(check_input=False)`` is what those tasks
    call; the result is bit-identical (tests/ml/test_calibration_batching.py).
    """
    if (type(model).__name__ in _FORESTS and getattr(model, "n_outputs_", None) == 1
            and isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2
            and X.flags.c_contiguous and X.shape[1] == getattr(model, "n_features_in_", -1)):
        out = np.zeros((X.shape[0], int(model.n_classes_)), dtype=np.float64)
        for tree in model.estimators_:
            out += tree.predict_proba(X, check_input=False)
        out /= len(model.estimators_)
        return out
    return model.predict_proba(X)


class SignalCalibrated(ClassifierMixin, BaseEstimator):
    """A fitted 3-class model (BUY, SELL, HOLD), its directional columns and its shared side calibrator."""

    def __init__(self, model: Any = None, calibrator: Any = None, odd_columns: Any = None):
        self.model = model
        self.calibrator = calibrator
        self.odd_columns = odd_columns

    @property
    def classes_(self) -> Any:
        return np.array([0, 1, 2])

    def _model_proba(self, X: Any) -> Any:
        raw = model_proba(self.model, X)
        out = np.zeros((len(raw), 3))
        for j, c in enumerate(self.model.classes_):
            out[:, int(c)] = raw[:, j]
        return out

    def raw_proba(self, X: Any) -> Any:
        """The model's probabilities averaged with its mirror-image view (sides swapped)."""
        if not self.odd_columns:
            return self._model_proba(X)
        X = np.asarray(X)
        mirrored = np.array(X, dtype=np.float32, copy=True)
        mirrored[:, self.odd_columns] = -mirrored[:, self.odd_columns]
        if X.dtype == np.float32:
            # One call for both views (every row is predicted on its own): a scan predicts ~20 rows
            # per model, where a call's fixed cost (validation, a task per tree) is most of the time.
            both = self._model_proba(np.concatenate([X, mirrored]))
            return (both[:len(X)] + both[len(X):][:, [1, 0, 2]]) / 2.0
        return (self._model_proba(X) + self._model_proba(mirrored)[:, [1, 0, 2]]) / 2.0

    def predict_proba(self, X: Any) -> Any:
        return apply_side_calibrator(self.calibrator, self.raw_proba(X))

    def predict(self, X: Any) -> Any:
        return np.argmax(self.predict_proba(X), axis=1)

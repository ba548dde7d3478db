"""Imported once by the local pool's fork server, so that every worker it forks starts with the
libraries the pieces use already loaded (a worker of its own would spend seconds importing them)."""

import numpy  # noqa: F401
import pandas  # noqa: F401
import sklearn.calibration  # noqa: F401
import sklearn.ensemble  # noqa: F401
import sklearn.linear_model  # noqa: F401
import threadpoolctl  # noqa: F401

import turbomode.ml.calibration  # noqa: F401
import turbomode.ml.train  # noqa: F401

try:  # a missing booster is reported by the piece that needs it, not here
    import lightgbm  # noqa: F401
    import xgboost  # noqa: F401
except ImportError:  # pragma: no cover
    pass

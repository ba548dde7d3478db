"""A side-symmetric member predicts a row and its mirror image in one call, with the same numbers as two."""

import numpy as np
import pytest

from turbomode.ml.calibration import SignalCalibrated
from turbomode.ml.models import MODEL_TYPES, make_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 8)).astype(np.float32)
Y = RNG.integers(0, 3, 400)
ODD = [0, 3, 5]


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_one_call_for_both_views_gives_the_two_call_probabilities(kind):
    member = SignalCalibrated(make_model(kind, trees=10).fit(X, Y), None, ODD)
    rows = RNG.normal(size=(21, 8)).astype(np.float32)
    mirrored = rows.copy()
    mirrored[:, ODD] = -mirrored[:, ODD]
    two_calls = (member._model_proba(rows) + member._model_proba(mirrored)[:, [1, 0, 2]]) / 2.0
    assert np.array_equal(member.raw_proba(rows), two_calls)
    # other dtypes keep the two calls (the mirror is float32, the row as given)
    assert np.allclose(member.raw_proba(rows.astype(np.float64)), two_calls, atol=1e-6)

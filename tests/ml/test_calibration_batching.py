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


@pytest.mark.parametrize("kind", ["random_forest", "extra_trees"])
def test_a_forest_called_tree_by_tree_gives_scikit_learns_probabilities_bit_for_bit(kind):
    from turbomode.ml.calibration import model_proba

    forest = make_model(kind, trees=20, seed=3).fit(X, Y)
    rows = RNG.normal(size=(37, 8)).astype(np.float32)
    assert np.array_equal(model_proba(forest, rows), forest.predict_proba(rows))
    # rows it cannot take directly (float64, a strided view) go through scikit-learn itself
    assert np.array_equal(model_proba(forest, rows.astype(np.float64)), forest.predict_proba(rows))
    assert np.array_equal(model_proba(forest, rows[::2]), forest.predict_proba(rows[::2]))


def test_loading_champions_pauses_the_collector_and_restores_it():
    import gc

    from turbomode.ml.libraries import collector_paused as _collector_paused

    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("a corrupt file")
    assert gc.isenabled()


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_the_side_map_called_directly_gives_scikit_learns_calibrated_probabilities_bit_for_bit(method):
    from turbomode.ml.calibration import _side_folds, _stack, fit_side_calibrator, side_map

    raw = RNG.dirichlet([2.0, 2.0, 3.0], size=600)
    y = RNG.integers(0, 3, 600)
    calibrator = fit_side_calibrator(raw, y, method)
    assert _side_folds(calibrator) is not None  # the direct route is the one tested
    X, _ = _stack(RNG.dirichlet([1.0, 1.0, 1.0], size=45))
    X = np.vstack([X, [[0.0], [1.0], [1e-9], [1 - 1e-12]]])  # the clip's edges
    assert np.array_equal(side_map(calibrator, X), calibrator.predict_proba(X)[:, 1])


def test_a_calibrator_the_direct_route_does_not_know_goes_through_scikit_learn():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    from turbomode.ml.calibration import _side_folds, side_map

    x = RNG.normal(size=(300, 1))
    y = (x[:, 0] + RNG.normal(size=300) > 0).astype(int)
    other = CalibratedClassifierCV(LogisticRegression(), method="sigmoid", cv=3).fit(x, y)
    assert _side_folds(other) is None
    assert np.array_equal(side_map(other, x[:20]), other.predict_proba(x[:20])[:, 1])


def test_model_libraries_are_imported_on_a_fresh_thread_and_a_missing_one_is_left_to_unpickling(tmp_path, monkeypatch):
    import sys
    import threading

    from turbomode.ml.libraries import import_model_libraries as _import_on_a_fresh_stack

    (tmp_path / "tm_probe_module.py").write_text("import threading\nIMPORTED_ON = threading.get_ident()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tm_probe_module", raising=False)
    _import_on_a_fresh_stack(("tm_probe_module", "tm_no_such_library"))  # the missing one does not raise
    assert sys.modules["tm_probe_module"].IMPORTED_ON != threading.get_ident()
    assert "tm_no_such_library" not in sys.modules

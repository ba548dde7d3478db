"""The model libraries, imported once, where it is cheapest: on a fresh thread, with the collector paused.

Every command that fits or loads models (`scan`, `train`, `backtest`, the demo's summary) calls

    with collector_paused():
        import_model_libraries()
        ... unpickle or fit ...

before its first model, instead of letting the first ``pickle.loads`` or ``make_model`` import
scikit-learn, scipy, xgboost and lightgbm some 40 frames deep. Measured on a scan (console script,
sample market): 38,768 -> 2,446 mmap/munmap pairs and 0.30 -> 0.02 s of garbage collection; the
scan went from 1.80x to 1.46x the CPU time of a bare ``import pandas, sklearn, xgboost, lightgbm``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

# What unpickling or fitting the six model types imports, the floor's four first.
MODEL_LIBRARIES = ("pandas", "sklearn", "xgboost", "lightgbm", "sklearn.ensemble", "sklearn.calibration",
                   "sklearn.linear_model", "sklearn.pipeline", "threadpoolctl", "turbomode.ml.calibration")


def import_model_libraries(names: Iterable[str] = MODEL_LIBRARIES) -> None:
    """Import ``names`` on a new thread, which starts with an empty frame stack, and wait for it.

    CPython 3.11 keeps each thread's frames in 16 KiB chunks and hands a chunk back to the OS as
    soon as the frame at its base returns. Imported lazily where the first model file is
    unpickled (under Typer, the runner and ``pickle.loads``), scipy's and scikit-learn's module
    set-up loops straddle a chunk boundary: a scan made 38,768 mmap/munmap pairs, 0.35 s of system
    time. From the bottom of a fresh stack the same imports make ~2,400, like a bare ``import
    pandas, sklearn, xgboost, lightgbm``. A library that fails to import is left to the code that
    needs it, which reports it (a model file that cannot load names the file; a missing booster
    names the package).
    """
    import sys
    import threading

    missing = [n for n in names if n not in sys.modules]
    if not missing:
        return

    def load() -> None:
        import importlib

        for name in missing:
            try:
                importlib.import_module(name)
            except Exception:  # reported where it is needed
                pass

    t = threading.Thread(target=load, name="turbomode-import")
    t.start()
    t.join()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Importing the model libraries and unpickling 66 models create some 400,000 objects
    (modules, classes, every tree's arrays and nodes) and next to no garbage; with the cyclic
    collector running, the collections their number triggers walk all of them, then walk them
    again as they age (measured with ``gc.callbacks``: 0.30 s of a scan's CPU, 0.02 s paused).
    The collector pauses while they import and load. In a `turbomode` command's own process, which
    ends soon after, they are then frozen (``gc.freeze``: later collections skip them); a host
    process (the tests, a notebook) keeps them collectable."""
    import gc

    import turbomode

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if turbomode.SHORT_LIVED_PROCESS:
            gc.freeze()
        if enabled:
            gc.enable()

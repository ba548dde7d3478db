"""One thread per native library pool (OpenMP, BLAS) while models predict or pieces run.

``threadpool_limits`` inspects every shared library the process has loaded each time it is
entered (~6 ms once scikit-learn, xgboost and lightgbm are loaded). A scan used to enter it once
per sector inside an outer limit (12 times, 0.05-0.08 s of CPU); ``one_thread`` enters it once
and makes nested uses free. The limit is process-wide, as threadpoolctl's is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_limiter = None


@contextmanager
def one_thread() -> Iterator[None]:
    """``threadpool_limits(limits=1)`` for the outermost use; nested uses (any thread) add nothing."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            from threadpoolctl import threadpool_limits

            _limiter = threadpool_limits(limits=1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                limiter, _limiter = _limiter, None
                limiter.restore_original_limits()

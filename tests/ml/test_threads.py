"""one_thread: the native pools run one thread inside it, nested uses are free, and leaving restores."""

import threadpoolctl

import turbomode.ml.threads as threads


def _threads_per_pool():
    import numpy  # noqa: F401  (its BLAS is a pool threadpoolctl can see)
    import sklearn.ensemble  # noqa: F401  (its OpenMP runtime)

    return {(i["user_api"], i["filepath"]): i["num_threads"] for i in threadpoolctl.threadpool_info()}


def test_pools_run_one_thread_inside_and_their_own_number_after(monkeypatch):
    before = _threads_per_pool()
    with threadpoolctl.threadpool_limits(limits=1):
        # what threadpoolctl itself achieves here (1 everywhere, except where a platform's runtime
        # ignores it: Wine's own vcomp140 keeps reporting 2)
        limited = _threads_per_pool()
    assert 1 in limited.values()
    entered = []
    real = threadpoolctl.threadpool_limits
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda **kw: entered.append(kw) or real(**kw))
    with threads.one_thread():
        inside = _threads_per_pool()
        with threads.one_thread(), threads.one_thread():
            assert _threads_per_pool() == inside
        assert _threads_per_pool() == inside  # an inner exit does not lift the outer limit
    assert inside == limited
    assert entered == [{"limits": 1}]  # the libraries were inspected once, not three times
    assert _threads_per_pool() == before


def test_leaving_on_an_exception_restores_the_pools():
    before = _threads_per_pool()
    try:
        with threads.one_thread():
            raise ValueError("a model failed")
    except ValueError:
        pass
    assert _threads_per_pool() == before
    assert threads._depth == 0

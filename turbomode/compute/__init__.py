"""The compute seam: where `train`, `backtest` and `drift` run their independent pieces of work.

    with compute.open_backend(compute.settings(cfg, options)) as backend:
        inputs = backend.share(big_arrays)                       # sent once, used by many pieces
        for key, result in backend.map(piece_fn, ((key, (inputs, kind)) for ...)):
            ...                                                  # as each piece finishes, any order

Two implementations of one small interface (``Backend``), chosen from the config in one place
(``open_backend``):

* ``local`` (the default): worker processes on this machine, ``compute.workers`` of them (0 = one per
  core). Processes, not threads: model fits hold the GIL for much of their time. With one worker the
  pieces run in the job's own process (no start-up cost, nothing copied).
* ``dask``: an existing Dask cluster (dask.distributed), ``compute.address`` or ``--dask``; an
  optional extra (``pip install 'turbomode[dask]'``), imported only here and only when asked for.

A piece is a module-level function of plain values (arrays, frames, settings) that returns plain
values (fitted models as pickle bytes, metrics, signals). Pieces never open the database or the
model folder: only the coordinating process — the job — writes those, after the pieces it needs have
finished, so a lost worker costs a retry or a clean failure, never a half-written model set.
Threads inside a piece (OpenMP in the boosters, BLAS) are held at one: the parallelism is the pieces.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping

from turbomode.errors import ComputeLost, ComputeUnavailable, ConfigError

ENV_ADDRESS = "TURBOMODE_DASK_ADDRESS"
EXTRA_MISSING = ("the Dask backend needs the optional extra, which is not installed: run `uv sync --extra dask` "
                 "or `pip install 'turbomode[dask]'`, or use the local backend (compute.backend = \"local\")")
Piece = tuple[Hashable, tuple]  # (key, positional arguments)


@dataclass(frozen=True)
class Settings:
    """Which backend, how many local workers, which scheduler (from config, environment and flags)."""

    backend: str  # "local" | "dask"
    workers: int = 1  # local processes (resolved: >= 1)
    address: str = ""  # Dask scheduler
    timeout: float = 30.0  # Dask: seconds to reach the scheduler or to have a worker


def cores() -> int:
    """The cores this process may run on (the affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def settings(cfg: Any, options: Mapping[str, Any] | None = None) -> Settings:
    """The compute settings of one run: ``--dask ADDRESS`` or ``--workers N`` (options ``dask`` and
    ``workers``) beat the config; ``TURBOMODE_DASK_ADDRESS`` beats ``compute.address``."""
    from turbomode.config import _dask_address

    options = options or {}
    flag_address, flag_workers = options.get("dask"), options.get("workers")
    if flag_address and flag_workers is not None:
        raise ConfigError("--workers sets the number of local processes and cannot be combined with --dask; "
                          "a Dask cluster's size is set where its workers are started")
    backend = "dask" if flag_address else ("local" if flag_workers is not None else cfg["compute.backend"])
    timeout = float(_get(cfg, "compute.timeout_seconds", 30))
    if backend == "local":
        n = int(flag_workers if flag_workers is not None else _get(cfg, "compute.workers", 0))
        if n < 0:
            raise ConfigError(f"--workers {n} must be 0 (one per core) or more")
        return Settings("local", n or cores(), "", timeout)
    source = "--dask" if flag_address else (ENV_ADDRESS if os.environ.get(ENV_ADDRESS) else "compute.address")
    address = flag_address or os.environ.get(ENV_ADDRESS) or _get(cfg, "compute.address", "")
    if not str(address).strip():
        raise ComputeUnavailable("compute.backend = \"dask\" needs the scheduler's address: set compute.address, "
                                 f"{ENV_ADDRESS} or pass --dask tcp://scheduler-host:8786")
    try:
        address = _dask_address(address)
    except ValueError as exc:
        raise ConfigError(f"{source} {public_address(str(address))!r} {exc}") from None
    return Settings("dask", 0, address, timeout)


def check(s: Settings) -> None:
    """Fail early, before a run starts, when the settings ask for something this install cannot do."""
    if s.backend == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise ComputeUnavailable(EXTRA_MISSING)


def open_backend(s: Settings) -> "Backend":
    """The one place a backend is chosen."""
    if s.backend == "dask":
        from turbomode.compute.dask_backend import DaskBackend

        return DaskBackend(s.address, s.timeout)
    return LocalBackend(s.workers, warm=True)


def public_address(address: str) -> str:
    """The address without credentials (user:password@) or query string, as the ledger records it."""
    out = re.sub(r"(^|://)[^/@]*@", r"\1", address)
    return out.split("?", 1)[0]


def inline() -> "LocalBackend":
    """Pieces run one after another in this process (what a worker does inside a bigger piece)."""
    return LocalBackend(1)


def _get(cfg: Any, key: str, default: Any) -> Any:
    try:
        return cfg[key]
    except (KeyError, TypeError):
        return default


# --- running one piece (in a worker, or inline) -------------------------------------------------------

class FileShared:
    """A local pool's shared input: pickled once to a file that each worker loads (and keeps) once."""

    def __init__(self, path: str, token: str):
        self.path, self.token = path, token


_LOADED: "OrderedDict[str, Any]" = OrderedDict()  # a worker's recently used shared inputs
_LOADED_MAX = 3


def _resolve(arg: Any) -> Any:
    if not isinstance(arg, FileShared):
        return arg
    if arg.token in _LOADED:
        _LOADED.move_to_end(arg.token)
        return _LOADED[arg.token]
    with open(arg.path, "rb") as fh:
        value = pickle.load(fh)
    _LOADED[arg.token] = value
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return value


def run_piece(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run one piece with one thread per library pool; (its result, its wall seconds)."""
    from turbomode.ml.threads import one_thread

    t = time.perf_counter()
    args = tuple(_resolve(a) for a in args)
    with one_thread():
        out = fn(*args)
    return out, time.perf_counter() - t


# --- the interface ------------------------------------------------------------------------------------

class Backend:
    """One small interface: ``share`` a large input once, ``map`` a function over pieces (results as
    they finish), ``describe`` itself for the run ledger, ``close``."""

    kind = "local"
    workers = 1
    address = ""

    @property
    def in_process(self) -> bool:
        """Whether the pieces run in this very process (one local worker)."""
        return self.kind == "local" and self.workers == 1

    def __init__(self) -> None:
        self.stats: dict[str, dict[str, float]] = {}

    def share(self, value: Any) -> Any:
        return value

    def map(self, fn: Callable[..., Any], pieces: Iterable[Piece]) -> Iterator[tuple[Hashable, Any]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the ledger row records: backend, workers, scheduler address (no credentials), pieces."""
        out: dict[str, Any] = {"backend": self.kind, "workers": self.workers}
        if self.address:
            out["address"] = public_address(self.address)
        if self.stats:
            out["pieces"] = {k: {"count": int(v["count"]), "seconds": round(v["seconds"], 2),
                                 "max_seconds": round(v["max"], 2)} for k, v in self.stats.items()}
        return out

    def _record(self, fn: Callable[..., Any], seconds: float) -> None:
        s = self.stats.setdefault(fn.__name__, {"count": 0, "seconds": 0.0, "max": 0.0})
        s["count"] += 1
        s["seconds"] += seconds
        s["max"] = max(s["max"], seconds)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LocalBackend(Backend):
    """Worker processes on this machine; one worker means inline in this process."""

    kind = "local"

    def __init__(self, workers: int, *, warm: bool = False):
        super().__init__()
        self.workers = max(1, int(workers))
        self._pool: Any = None
        self._dir: str | None = None
        self._failed = False
        self._lock = threading.Lock()
        if warm and self.workers > 1:
            # Start the workers now, in the background: the fork server's import of the libraries
            # (seconds) then overlaps the job's own reading of prices and computing of features.
            threading.Thread(target=self._warm, name="turbomode-pool-warm-up", daemon=True).start()

    def _warm(self) -> None:
        try:
            pool = self._start()
            for _ in range(self.workers):  # one short task each, so that every worker process is started
                pool.submit(time.sleep, 0.2)
        except Exception:  # the first real piece reports any problem
            pass

    # Pieces in flight at once: enough to keep every worker busy while the next results are read,
    # few enough that a job prepares (and shares) its inputs only shortly before they are needed.
    @property
    def window(self) -> int:
        return 2 * self.workers + 2

    def share(self, value: Any) -> Any:
        if self.workers == 1:
            return value
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="turbomode-compute-")
        token = uuid.uuid4().hex
        path = os.path.join(self._dir, f"{token}.pkl")
        with open(path, "wb") as fh:
            pickle.dump(value, fh, protocol=5)
        return FileShared(path, token)

    def map(self, fn: Callable[..., Any], pieces: Iterable[Piece]) -> Iterator[tuple[Hashable, Any]]:
        if self.workers == 1:
            for key, args in pieces:
                out, seconds = run_piece(fn, *args)
                self._record(fn, seconds)
                yield key, out
            return
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = self._start()
        todo = iter(pieces)
        pending: dict[Any, Hashable] = {}

        def fill() -> None:
            while len(pending) < self.window:
                nxt = next(todo, None)
                if nxt is None:
                    return
                key, args = nxt
                pending[pool.submit(run_piece, fn, *args)] = key

        try:
            try:
                fill()
                while pending:
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in done:
                        key = pending.pop(fut)
                        out, seconds = fut.result()
                        self._record(fn, seconds)
                        yield key, out
                    fill()
            except BrokenProcessPool:  # from a piece's result, or from submit() once a worker has died
                raise ComputeLost(
                    f"a local worker process died (killed, or out of memory) while running {fn.__name__}; "
                    "nothing was written; run again, with fewer --workers if memory is short") from None
        except BaseException:
            self._failed = True
            for fut in pending:
                fut.cancel()
            raise

    def _start(self) -> Any:
        with self._lock:
            return self._start_locked()

    def _start_locked(self) -> Any:
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # A fresh interpreter forks the workers (forkserver), not this process: the job runs a
            # heartbeat thread and may have started OpenMP threads, which a plain fork would copy
            # half-way. The forkserver imports the libraries once; every worker starts with them.
            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload(["turbomode.compute._preload"])
            else:  # Windows
                ctx = mp.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init)
        return self._pool

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._pool is not None:
            if self._failed:  # do not wait for pieces nobody will read
                for p in list(getattr(self._pool, "_processes", {}).values()):
                    try:
                        p.terminate()
                    except Exception:  # already gone
                        pass
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _worker_init() -> None:
    """A local worker ignores Ctrl-C (the job handles it and stops the pool) and stays at one thread."""
    import signal

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread
        pass

"""The Dask backend: pieces run on an existing dask.distributed cluster (the optional extra).

What travels: each shared input once from this process (``Client.scatter``) and from there to each
worker that runs a piece needing it (worker to worker, once), each piece's small arguments and the
function's name (workers import TurboMode themselves), and back each piece's result (pickled
models, metrics, signals).

Faults: a worker that dies mid-piece is replaced by the scheduler, which runs the piece again on
another worker (``distributed.scheduler.allowed-failures``, 3 by default); a shared input whose
every copy was lost with its worker is scattered again from this process and its pieces sent again
(up to ``RESUBMITS`` times), as are pieces that wait for the timeout while no worker runs anything. A piece that keeps killing workers, a scheduler that goes away, or a cluster
left without a worker for ``compute.timeout_seconds`` fail the run (ComputeLost, exit 1) before
anything is written. Before any work, every worker is asked to import what the pieces need and its
versions are compared with this process's (ComputeUnavailable, exit 2, names the worker and library).
"""

from __future__ import annotations

import importlib
import logging
import queue
import time
import uuid
from typing import Any, Callable, Hashable, Iterable, Iterator

from turbomode.compute import EXTRA_MISSING, Backend, Piece, public_address, run_piece
from turbomode.errors import ComputeLost, ComputeUnavailable

log = logging.getLogger("turbomode.compute")

# What a worker must import, and the libraries whose versions must match this process's: a model
# pickled by one scikit-learn and read by another is not a model the registry can vouch for.
NEEDED = ("turbomode", "numpy", "pandas", "sklearn", "xgboost", "lightgbm", "threadpoolctl")
SAME_VERSION = ("turbomode", "numpy", "pandas", "sklearn", "xgboost", "lightgbm")
RESUBMITS = 3
POLL_SECONDS = 1.0


def probe(modules: tuple[str, ...] = NEEDED) -> dict[str, Any]:
    """Run on each worker: which of ``modules`` import, and their versions."""
    import sys

    versions, missing = {}, {}
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # ImportError, or a library that fails while loading
            missing[name] = f"{type(exc).__name__}: {exc}"
        else:
            versions[name] = str(getattr(mod, "__version__", "?"))
    return {"python": "%d.%d" % sys.version_info[:2], "versions": versions, "missing": missing}


class _Shared:
    """A shared input: this process keeps the value (to scatter it again if every copy is lost)."""

    def __init__(self, value: Any, future: Any):
        self.value, self.future = value, future


class DaskBackend(Backend):
    kind = "dask"

    def __init__(self, address: str, timeout: float = 30.0):
        super().__init__()
        try:
            import distributed
        except ImportError:
            raise ComputeUnavailable(EXTRA_MISSING) from None
        self._distributed = distributed
        self.address = address
        self.timeout = float(timeout)
        self._empty_since: float | None = None
        _quiet_dask_logging()
        shown = public_address(address)
        try:
            self.client = distributed.Client(address, timeout=self.timeout, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError from a malformed address
            raise ComputeUnavailable(f"cannot reach the Dask scheduler at {shown} within {self.timeout:.0f} s "
                                     f"({_first_line(exc)}); start it (`dask scheduler`) or fix compute.address / "
                                     "--dask") from None
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except Exception:
            self.client.close()
            raise ComputeUnavailable(f"the Dask scheduler at {shown} has no workers (waited {self.timeout:.0f} s); "
                                     f"start one with `dask worker {shown} --nthreads 1`") from None
        try:
            self._preflight()
        except BaseException:
            self.client.close()
            raise
        self.workers = len(self._workers())

    # -- before any work ----------------------------------------------------------------------------

    def _preflight(self) -> None:
        shown = public_address(self.address)
        mine = probe()
        theirs = self.client.run(probe, NEEDED, on_error="return")
        for worker, got in sorted(theirs.items()):
            if isinstance(got, BaseException):  # could not even unpickle the probe: no turbomode there
                name = getattr(got, "name", None) or "turbomode"
                raise ComputeUnavailable(f"the Dask worker {worker} cannot import {name} ({_first_line(got)}); "
                                         "install the same TurboMode (pip install 'turbomode[dask]') on every "
                                         "worker")
            for name, why in sorted(got["missing"].items()):
                raise ComputeUnavailable(f"the Dask worker {worker} cannot import {name} ({why}); install the same "
                                         "TurboMode with its libraries (pip install 'turbomode[dask]') on every "
                                         "worker")
            for name in SAME_VERSION:
                a, b = mine["versions"].get(name), got["versions"].get(name)
                if a != b:
                    raise ComputeUnavailable(f"the Dask worker {worker} has {name} {b} and this machine {a}; "
                                             f"install the same versions on every worker (the cluster at {shown})")

    def _workers(self) -> dict[str, Any]:
        return self.client.scheduler_info(n_workers=-1).get("workers", {})

    # -- the interface ------------------------------------------------------------------------------

    def share(self, value: Any) -> _Shared:
        return _Shared(value, self._scatter(value))

    def _scatter(self, value: Any) -> Any:
        # To one worker: the others fetch it from there when a piece needs it. (broadcast=True hangs in
        # the scheduler's replicate when a worker dies during it, and the cluster's memory manager
        # drops extra copies anyway.) A copy lost with its worker is scattered again by ``map``.
        for attempt in range(3):
            try:
                return self.client.scatter(value, hash=False, timeout=self.timeout)
            except Exception as exc:  # the worker chosen died meanwhile: the scheduler drops it, try again
                if self.client.status != "running":
                    raise self._lost(exc) from None
                try:
                    self.client.wait_for_workers(1, timeout=self.timeout)
                except Exception:
                    raise self._why(exc) from None
                if attempt == 2:
                    raise self._lost(exc) from None
                log.warning("dask: scattering an input failed (%s); trying again", _first_line(exc))
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def map(self, fn: Callable[..., Any], pieces: Iterable[Piece]) -> Iterator[tuple[Hashable, Any]]:
        done_q: "queue.Queue[Any]" = queue.Queue()
        todo = iter(pieces)
        pending: dict[Any, tuple[Hashable, tuple, int, tuple]] = {}  # future -> key, args, attempt, inputs used
        window = max(8, 4 * max(1, len(self._workers())))

        def submit(key: Hashable, args: tuple, attempt: int) -> None:
            real = tuple(a.future if isinstance(a, _Shared) else a for a in args)
            try:
                fut = self.client.submit(run_piece, fn, *real, key=f"turbomode-{fn.__name__}-{uuid.uuid4().hex}",
                                         pure=False)
            except Exception as exc:
                raise self._lost(exc) from None
            pending[fut] = (key, args, attempt, tuple(a.future for a in args if isinstance(a, _Shared)))
            fut.add_done_callback(done_q.put)

        def again(fut: Any, why: str) -> None:
            """Send a lost piece again, scattering again each input whose copies it found gone."""
            key, args, attempt, used = pending.pop(fut)
            if attempt >= RESUBMITS:
                raise ComputeLost(f"{fn.__name__} ({key}) was lost on the Dask cluster at "
                                  f"{public_address(self.address)} {attempt + 1} times ({why}); nothing was written")
            log.warning("dask: %s (%s) was lost (%s); sending it again", fn.__name__, key, why)
            for a in args:
                if isinstance(a, _Shared) and any(a.future is u for u in used):
                    a.future = self._scatter(a.value)
            submit(key, args, attempt + 1)

        def fill() -> None:
            while len(pending) < window:
                nxt = next(todo, None)
                if nxt is None:
                    return
                submit(nxt[0], nxt[1], 0)

        quiet_since: float | None = None  # when the cluster was last seen with pieces pending and none running
        try:
            fill()
            while pending:
                try:
                    fut = done_q.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if self._stalled(bool(pending)):
                        quiet_since = quiet_since or time.monotonic()
                        if time.monotonic() - quiet_since > self.timeout:
                            for f in list(pending):  # waiting on inputs that no worker has any more
                                f.cancel()
                                again(f, f"no worker ran it for {self.timeout:.0f} s")
                            quiet_since = None
                    else:
                        quiet_since = None
                    continue
                if fut not in pending:
                    continue
                try:
                    out, seconds = fut.result()
                except ModuleNotFoundError as exc:
                    raise ComputeUnavailable(f"a Dask worker cannot import {exc.name} while running {fn.__name__}; "
                                             "install the same TurboMode with its libraries (pip install "
                                             "'turbomode[dask]') on every worker") from None
                except self._distributed.KilledWorker as exc:
                    key = pending[fut][0]
                    raise ComputeLost(f"{fn.__name__} ({key}) killed every Dask worker that ran it ({_first_line(exc)}); "
                                      "is a worker short of memory? Nothing was written") from None
                except Exception as exc:
                    if not self._is_lost(exc):
                        raise  # the piece itself failed: its own error
                    if self.client.status != "running":
                        raise self._lost(exc) from None
                    again(fut, _first_line(exc) or type(exc).__name__)
                    continue
                key = pending.pop(fut)[0]
                self._record(fn, seconds)
                quiet_since = None
                yield key, out
                fill()
        finally:
            for fut in pending:
                fut.cancel()

    def _is_lost(self, exc: BaseException) -> bool:
        from concurrent.futures import CancelledError

        comm = getattr(self._distributed, "comm", None)
        closed = getattr(comm, "CommClosedError", ()) if comm else ()
        return isinstance(exc, (CancelledError, OSError) + ((closed,) if closed else ()))

    def _stalled(self, waiting: bool) -> bool:
        """Whether pieces wait while no worker runs anything; fails the run when the scheduler is gone
        or the cluster has been without workers for the timeout."""
        if self.client.status != "running":
            raise self._lost(None)
        try:
            workers = self._workers()
            running = sum(len(v) for v in self.client.processing().values()) if workers else 0
        except Exception as exc:
            raise self._lost(exc) from None
        now = time.monotonic()
        if workers:
            self._empty_since = None
            return waiting and running == 0
        self._empty_since = self._empty_since or now
        if now - self._empty_since > self.timeout:
            raise self._no_workers()
        return False

    def _why(self, exc: BaseException | None) -> ComputeLost:
        """Which was lost: the scheduler, or every worker."""
        if self.client.status == "running":
            try:
                if not self._workers():
                    return self._no_workers()
            except Exception as err:
                return self._lost(err)
        return self._lost(exc)

    def _no_workers(self) -> ComputeLost:
        return ComputeLost(f"the Dask cluster at {public_address(self.address)} has had no workers for "
                           f"{self.timeout:.0f} s; nothing was written; start workers and run again")

    def _lost(self, exc: BaseException | None) -> ComputeLost:
        why = f" ({_first_line(exc)})" if exc is not None and _first_line(exc) else ""
        return ComputeLost(f"lost the Dask scheduler at {public_address(self.address)} during the run{why}; "
                           "nothing was written; run again when the cluster is back")

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        try:
            out["threads"] = int(sum(w.get("nthreads", 0) for w in self._workers().values()))
        except Exception:  # the cluster is gone: the counts from the start stand
            pass
        return out

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:  # closing a client whose scheduler is gone
            pass


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    return text.splitlines()[0] if text else ""


def _quiet_dask_logging() -> None:
    """distributed writes its warnings to stderr; a TurboMode command prints one line, so they go to the
    log file with everything else."""
    handlers = [h for h in logging.getLogger("turbomode").handlers]
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] not in ("distributed", "tornado", "bokeh"):
            continue
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                lg.removeHandler(h)
                for mine in handlers:
                    lg.addHandler(mine)

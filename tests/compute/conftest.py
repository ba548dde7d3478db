"""Real Dask clusters on 127.0.0.1, started by the tests: in-process LocalCluster, or `dask scheduler` and
`dask worker` as separate programs, the way a user starts one (docs/scale-out.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and workers as separate processes; ``kill`` takes one down without warning."""

    def __init__(self, tmp: Path, workers: int = 2, preload: Path | None = None):
        pytest.importorskip("distributed")
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.procs["scheduler"] = self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port",
                                                            str(self.port), "--no-dashboard"])
        self._wait_for_port()
        for i in range(workers):
            args = ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                    "--name", f"w{i}", "--death-timeout", "60"]
            if preload:
                args += ["--preload", str(preload)]
            self.procs[f"w{i}"] = self._start(f"w{i}", args)
        self.client = self._client()
        self.client.wait_for_workers(workers, timeout=60)
        self.pids = {info["name"]: addr for addr, info in self.client.scheduler_info(n_workers=-1)["workers"].items()}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"dask-{name}.log", "wb")
        return subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.procs["scheduler"].poll() is not None:
                raise RuntimeError((self.tmp / "dask-scheduler.log").read_text())
            time.sleep(0.1)
        raise RuntimeError("the scheduler did not start")

    def _client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def processing(self) -> dict[str, list[str]]:
        """Worker name -> the keys it is running now."""
        names = {addr: info["name"] for addr, info in self.client.scheduler_info(n_workers=-1)["workers"].items()}
        return {names.get(addr, addr): [str(k) for k in keys] for addr, keys in self.client.processing().items()}

    def wait_until_running(self, prefix: str, timeout: float = 120) -> str:
        """The name of the first worker seen running a piece whose key starts with ``prefix``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, keys in self.processing().items():
                if any(k.startswith(prefix) for k in keys):
                    return name
            time.sleep(0.02)
        raise AssertionError(f"no worker ran {prefix} within {timeout} s")

    def kill(self, name: str) -> None:
        p = self.procs[name]
        os.kill(p.pid, signal.SIGKILL)
        p.wait()

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:
            pass
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(**kw) -> Cluster:
        c = Cluster(tmp_path, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def local_cluster():
    """distributed.LocalCluster with two worker processes on 127.0.0.1, for a module's tests."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    yield cluster
    cluster.close()

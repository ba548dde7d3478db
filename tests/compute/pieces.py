"""Module-level functions for the backends to run in tests (a worker imports them by name)."""

from __future__ import annotations

import os
import time

LOADS = 0  # how many times this process has unpickled a Counted value


def _loaded(payload):
    global LOADS
    LOADS += 1
    return Counted(payload)


class Counted:
    """A value that counts, in each process, how many times it was unpickled there."""

    def __init__(self, payload):
        self.payload = payload

    def __reduce__(self):
        return _loaded, (self.payload,)


def pid_and_loads(shared: Counted, i: int) -> tuple[int, int, int]:
    time.sleep(0.02)
    return os.getpid(), LOADS, len(shared.payload) + i


def sleep_then(seconds: float, value):
    time.sleep(seconds)
    return value


def fail(message: str):
    raise ValueError(message)


def die(_):
    os._exit(9)  # as abrupt as a kill, on every platform

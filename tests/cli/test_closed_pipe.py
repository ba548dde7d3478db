"""Output piped into a reader that stops early (`turbomode signals --format csv | head -1`): the
command ends quietly, as other command-line tools do — no "unexpected BrokenPipeError", no traceback
in the log, and a job's own exit code is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_into_a_closed_pipe(home, *args) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    proc = subprocess.Popen([sys.executable, "-m", "turbomode", "--home", str(home), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read()
    return proc.wait(timeout=120), err


@pytest.mark.skipif(os.name == "nt", reason="a closed pipe is EINVAL, not EPIPE, on Windows")
@pytest.mark.parametrize("args, code", [(["config", "show"], 0), (["history"], 0), (["maintain"], 0)],
                         ids=["config show", "history", "maintain"])
def test_a_reader_that_stops_early_ends_the_command_quietly(fresh_db, home, args, code):
    rc, err = run_into_a_closed_pipe(home, *args)
    assert "BrokenPipe" not in err and "unexpected" not in err and "Traceback" not in err, err
    assert rc == code, err
    log = home / "logs" / "turbomode.log"
    assert not log.exists() or "BrokenPipeError" not in log.read_text()

"""Run the real CLI as an unprivileged user, for permission cases (root may write anything).

As root the command runs as ``nobody`` through util-linux ``setpriv``; as any other user it runs
as that user. The home must then be reachable by ``nobody``: ``open_folder`` makes one in /tmp.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

NOBODY = 65534
# Windows has no other uid to become, and no permission bits these tests could take away.
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX users and permission bits")


def open_folder() -> Path:
    """A fresh folder under /tmp that every user may enter and write (the caller removes it)."""
    path = Path(tempfile.mkdtemp(prefix="turbomode-perm-", dir="/tmp"))
    path.chmod(0o777)
    return path


def run_as_nobody(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "turbomode", *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")}
    full_env.update(env or {})
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
            full_env["HOME"] = str(cwd)
        else:  # no util-linux: drop privileges in the child before exec
            def demote() -> None:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)

            full_env["HOME"] = str(cwd)
            return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
                                  preexec_fn=demote)
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)

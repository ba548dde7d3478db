"""Windows is first-class: no Linux-only call in the package outside a platform check."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "turbomode"

# module imports that do not exist on Windows, and attribute uses that are POSIX-only
BAD_MODULES = {"fcntl", "pwd", "grp", "resource", "termios", "posix", "crypt"}
BAD_ATTRS = {
    ("os", "fork"), ("os", "forkpty"), ("os", "getuid"), ("os", "geteuid"), ("os", "getgid"),
    ("os", "getegid"), ("os", "setsid"), ("os", "killpg"), ("os", "getpgid"), ("os", "setpgrp"),
    ("os", "uname"), ("os", "getloadavg"), ("os", "mkfifo"), ("os", "chown"), ("os", "lchown"),
    ("signal", "SIGKILL"), ("signal", "SIGALRM"), ("signal", "alarm"), ("signal", "SIGHUP"),
    ("signal", "SIGUSR1"), ("signal", "SIGUSR2"), ("signal", "SIGCHLD"), ("signal", "setitimer"),
    ("signal", "SIGQUIT"), ("signal", "pause"),
}
BAD_STRINGS = ("/proc/", "/dev/shm", "/etc/localtime")


def _is_platform_check(test: ast.AST) -> bool:
    text = ast.unparse(test)
    return any(k in text for k in ("sys.platform", "os.name", "platform.system", "IS_WINDOWS", "IS_POSIX"))


def violations(source: str) -> list[tuple[int, str]]:
    """(line, what) for each Linux-only use not under an `if <platform check>:` block."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.If) and _is_platform_check(node.test):
            for child in node.body + node.orelse:
                visit(child, True)
            return
        if not guarded:
            if isinstance(node, ast.Import):
                found.extend([(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in BAD_MODULES])
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in BAD_MODULES:
                found.append((node.lineno, f"from {node.module} import"))
            elif isinstance(node, ast.ImportFrom) and node.module in ("os", "signal"):
                found.extend([(node.lineno, f"from {node.module} import {a.name}") for a in node.names
                          if (node.module, a.name) in BAD_ATTRS])
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and (node.value.id, node.attr) in BAD_ATTRS):
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.extend((node.lineno, repr(s)) for s in BAD_STRINGS if s in node.value)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), False)
    return found


def test_the_package_has_no_linux_only_calls_outside_a_platform_check():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, what in violations(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert problems == []


@pytest.mark.parametrize("source", [
    "import fcntl",
    "from fcntl import flock",
    "import os\nos.fork()",
    "import os\nuid = os.getuid()",
    "import signal\nsignal.signal(signal.SIGALRM, h)",
    "import os, signal\nos.kill(pid, signal.SIGKILL)",
    "from os import fork",
    "open('/proc/self/stat')",
    "import sys\nif True:\n    import fcntl",
])
def test_the_scanner_finds_linux_only_calls(source):
    assert violations(source)


@pytest.mark.parametrize("source", [
    "import sys\nif sys.platform != 'win32':\n    import fcntl",
    "import os\nif os.name == 'posix':\n    uid = os.getuid()\nelse:\n    uid = None",
    "import os\nos.replace('a', 'b')",
    "import signal\nsignal.signal(signal.SIGINT, h)",
])
def test_the_scanner_allows_guarded_or_portable_code(source):
    assert violations(source) == []

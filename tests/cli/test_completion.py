"""Shell completion for bash, zsh, fish and PowerShell (issue 10 item 21)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = str(Path(sys.executable).parent)  # the environment's `turbomode` script is here


def env(**extra: str) -> dict:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TURBOMODE_")},
            "PATH": BIN + os.pathsep + os.environ.get("PATH", ""), **extra}


def turbomode(*args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "turbomode", *args], env=env(**extra), capture_output=True,
                          text=True, timeout=120)


def test_help_offers_installing_completion(cli):
    out = cli("--help").output
    assert "--install-completion" in out and "--show-completion" in out


@pytest.mark.skipif(os.name == "nt" and shutil.which("bash") is None, reason="no bash on this Windows machine")
def test_bash_completes_commands_and_options_through_the_generated_script(tmp_path):
    bash = shutil.which("bash")
    assert bash, "bash is part of every Linux and macOS machine this suite runs on"
    script = turbomode("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert script.returncode == 0 and "complete -o default -F _turbomode_completion turbomode" in script.stdout
    (tmp_path / "completion.bash").write_text(script.stdout)
    # as bash calls it on <Tab>: the function gets the command, the word and the word before it
    probe = ('source completion.bash; COMP_WORDS=(turbomode "$1"); COMP_CWORD=1; '
             '_turbomode_completion turbomode "$1" turbomode; printf "%s\\n" "${COMPREPLY[@]}"')
    got = subprocess.run([bash, "-c", probe, "probe", "st"], cwd=tmp_path, env=env(), capture_output=True,
                         text=True, timeout=120)
    assert got.stdout.split() == ["status"], got.stderr
    got = subprocess.run([bash, "-c", probe.replace('(turbomode "$1")', '(turbomode signals "$1")').replace(
        "COMP_CWORD=1", "COMP_CWORD=2"), "probe", "--ty"], cwd=tmp_path, env=env(), capture_output=True, text=True,
        timeout=120)
    assert "--type" in got.stdout.split()


@pytest.mark.parametrize("shell, protocol, answer", [
    ("zsh", {"_TURBOMODE_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "turbomode sta"}, '"status"'),
    ("fish", {"_TURBOMODE_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "turbomode sta",
              "_TYPER_COMPLETE_FISH_ACTION": "get-args"}, "status\t"),
    ("powershell", {"_TURBOMODE_COMPLETE": "complete_powershell", "_TYPER_COMPLETE_ARGS": "turbomode sta",
                    "_TYPER_COMPLETE_WORD_TO_COMPLETE": "sta"}, "status:::"),
])
def test_zsh_fish_and_powershell_get_a_script_and_answers(shell, protocol, answer):
    # Typer detects the running shell for `--show-completion` (shellingham); with detection off the
    # shell is named, which is how the test asks for each one whatever shell runs the suite
    script = turbomode("--show-completion", shell, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    marker = {"zsh": "#compdef turbomode", "fish": "complete --command turbomode",
              "powershell": "Register-ArgumentCompleter"}[shell]
    assert script.returncode == 0 and marker in script.stdout and "_TURBOMODE_COMPLETE" in script.stdout
    got = turbomode(**protocol)
    assert answer in got.stdout, got.stdout + got.stderr

"""The schtasks calls `turbomode schedule install` makes, made for real where there is a schtasks.

On Linux they are captured (test_scheduler_install.py). On Windows — in CI, Wine's schtasks, which
registers and deletes tasks but ignores their triggers, so this proves the calls and the XML files
are accepted, not that Task Scheduler starts anything — install registers every task from its XML
file in a home whose path has spaces and non-ASCII, and uninstall then finds each one to delete.
The tasks go to a folder of the test's own, never the user's \\TurboMode\\.
"""

from __future__ import annotations

import os
import shutil
from xml.etree import ElementTree as ET

import pytest

from turbomode import config
from turbomode.ops import scheduler_export as se
from turbomode.ops import scheduler_install as si

pytestmark = pytest.mark.skipif(os.name != "nt" or shutil.which("schtasks") is None,
                                reason="needs Windows' schtasks (the calls are captured elsewhere)")
NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


PROBE_XML = ('<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2" '
             'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Actions Context="Author"><Exec>'
             '<Command>cmd.exe</Command></Exec></Actions></Task>\n')


def _schtasks_registers(folder: str, tmp: str) -> str | None:
    """None when this schtasks registers a minimal task from an XML file in a plain folder, else
    what it said: a fresh Wine prefix's schtasks can refuse every /XML (its Task Scheduler service
    down), which says nothing about TurboMode's files."""
    import subprocess

    path = os.path.join(tmp, "probe.xml")
    with open(path, "wb") as fh:
        fh.write(PROBE_XML.encode("utf-16"))
    name = f"{folder}\\Probe"
    proc = subprocess.run(["schtasks", "/Create", "/TN", name, "/XML", path, "/F"], capture_output=True, text=True)
    if proc.returncode != 0:
        return (proc.stderr or proc.stdout or "").strip() or f"exit {proc.returncode}"
    subprocess.run(["schtasks", "/Delete", "/TN", name, "/F"], capture_output=True, text=True)
    return None


@pytest.fixture
def test_folder(monkeypatch, tmp_path_factory):
    folder = f"TurboModeTest{os.getpid()}"
    refused = _schtasks_registers(folder, str(tmp_path_factory.mktemp("probe")))
    if refused is not None:
        pytest.skip(f"this machine's schtasks registers no task from XML, not even a minimal one ({refused})")
    monkeypatch.setattr(se, "TASK_FOLDER", folder)
    monkeypatch.setattr(si, "TASK_FOLDER", folder)
    yield folder
    si.uninstall_windows()  # whatever a failed assertion left


def test_install_registers_every_task_and_uninstall_deletes_each(test_folder, tmp_path):
    home = tmp_path / "Zoë's data ✓" / "turbo mode"
    (exe,) = se.find_executable("windows")
    target = se.Target((exe,), str(home), se.current_user())

    result = si.install_windows(config.defaults(), target, home / "schtasks")

    names = [f"{test_folder}\\{n}" for n in ("Ingest", "Train", "Scan", "Backtest", "Drift", "Maintain", "Catchup")]
    assert sorted(result.tasks) == sorted(names)
    for path in result.files:  # the files schtasks read: UTF-16, our exe and home in the action
        action = ET.parse(path).getroot().find("t:Actions/t:Exec", NS)
        assert action.find("t:Command", NS).text == exe
        assert str(home) in action.find("t:Arguments", NS).text

    removed = si.uninstall_windows()
    assert removed.action == "removed" and sorted(removed.tasks) == sorted(names)
    assert si.uninstall_windows().action == "absent"  # deleting them again finds none: they were there

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


@pytest.fixture
def test_folder(monkeypatch):
    folder = f"TurboModeTest{os.getpid()}"
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

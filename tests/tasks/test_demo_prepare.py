"""`turbomode demo` makes its own home and never touches someone's data."""

from datetime import date

import pytest

from turbomode import config as config_mod
from turbomode.data.universe import load_universe
from turbomode.errors import ConfigError
from turbomode.tasks import demo

TODAY = date(2026, 1, 23)


def test_without_home_it_makes_a_new_temporary_folder_with_a_sample_config(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    plan = demo.prepare(None, years=3, today=TODAY)
    assert plan.temporary and plan.home.parent == tmp_path.resolve() and plan.home.name.startswith("turbomode-demo-")
    cfg = config_mod.load(plan.home)
    assert cfg["data.source"] == "sample"
    assert cfg["data.sample.start"] == cfg["data.start"] == "2023-01-23"
    assert cfg["general.universe"] == "" and plan.symbols == len(load_universe())
    assert (plan.home / demo.MARKER).exists()


def test_a_symbol_count_picks_a_universe_spread_over_the_sectors(tmp_path):
    plan = demo.prepare(tmp_path / "d", years=3, symbols=22, today=TODAY)
    cfg = config_mod.load(plan.home)
    picked = load_universe(cfg["general.universe"])
    assert len(picked) == 22 and plan.sectors == 11
    assert all(sum(s.sector == sec for s in picked) == 2 for sec in {s.sector for s in picked})


def test_an_earlier_demo_home_can_be_reused(tmp_path):
    demo.prepare(tmp_path / "d", years=3, today=TODAY)
    (tmp_path / "d" / "turbomode.db").write_bytes(b"")
    assert demo.prepare(tmp_path / "d", years=4, today=TODAY).years == 4


def test_it_refuses_a_folder_that_holds_something_else(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "turbomode.db").write_bytes(b"precious")
    with pytest.raises(ConfigError, match="not empty and was not made by `turbomode demo`"):
        demo.prepare(tmp_path / "mine", today=TODAY)
    assert (tmp_path / "mine" / "turbomode.db").read_bytes() == b"precious"


def test_it_refuses_the_users_own_home_even_when_empty(home):
    home.mkdir(parents=True)
    with pytest.raises(ConfigError, match="is your TurboMode home"):
        demo.prepare(home, today=TODAY)


@pytest.mark.parametrize("kwargs, words", [
    ({"years": 2}, "--years must be between 3 and 15"),
    ({"years": 0}, "--years must be between 3 and 15"),
    ({"years": 16}, "--years must be between 3 and 15"),
    ({"symbols": 0}, "--symbols must be at least 1"),
])
def test_bad_sizes_are_refused(tmp_path, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        demo.prepare(tmp_path / "d", today=TODAY, **kwargs)
    assert not (tmp_path / "d").exists()


def test_it_refuses_a_file_as_home(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        demo.prepare(tmp_path / "f", today=TODAY)

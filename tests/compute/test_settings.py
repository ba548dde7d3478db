"""Where the pieces run: [compute] in the config, TURBOMODE_DASK_ADDRESS, --workers and --dask."""

from __future__ import annotations

import pytest

from turbomode import compute
from turbomode.config import defaults, parse
from turbomode.errors import ComputeUnavailable, ConfigError


def cfg(**over):
    return defaults().with_overrides(**over)


class TestSettings:
    def test_by_default_the_pieces_run_on_one_local_process_per_core(self):
        s = compute.settings(defaults())
        assert (s.backend, s.workers) == ("local", compute.cores())

    def test_workers_from_the_config_and_the_flag_beats_it(self):
        assert compute.settings(cfg(compute__workers=3)).workers == 3
        assert compute.settings(cfg(compute__workers=3), {"workers": 1}).workers == 1
        assert compute.settings(cfg(compute__workers=3), {"workers": 0}).workers == compute.cores()

    def test_workers_flag_runs_locally_even_when_the_config_says_dask(self):
        s = compute.settings(cfg(compute__backend="dask", compute__address="tcp://h:8786"), {"workers": 2})
        assert (s.backend, s.workers) == ("local", 2)

    def test_the_dask_address_comes_from_the_flag_then_the_environment_then_the_config(self, monkeypatch):
        c = cfg(compute__backend="dask", compute__address="tcp://from-config:8786")
        assert compute.settings(c).address == "tcp://from-config:8786"
        monkeypatch.setenv("TURBOMODE_DASK_ADDRESS", "tcp://from-env:8786")
        assert compute.settings(c).address == "tcp://from-env:8786"
        s = compute.settings(defaults(), {"dask": "tcp://from-flag:8786"})
        assert (s.backend, s.address) == ("dask", "tcp://from-flag:8786")

    def test_dask_without_an_address_says_how_to_give_one(self, monkeypatch):
        monkeypatch.delenv("TURBOMODE_DASK_ADDRESS", raising=False)
        with pytest.raises(ComputeUnavailable, match="compute.address, TURBOMODE_DASK_ADDRESS or pass --dask") as e:
            compute.settings(cfg(compute__backend="dask"))
        assert e.value.exit_code == 2

    def test_workers_and_dask_together_are_refused(self):
        with pytest.raises(ConfigError, match="cannot be combined with --dask"):
            compute.settings(defaults(), {"workers": 2, "dask": "tcp://h:8786"})

    @pytest.mark.parametrize("address", ["http://h:8786", "tcp://h:port", "tcp://:8786", "tcp://a b:1"])
    def test_a_malformed_address_names_where_it_came_from(self, address):
        with pytest.raises(ConfigError, match="--dask"):
            compute.settings(defaults(), {"dask": address})

    @pytest.mark.parametrize("text", ['backend = "spark"', "workers = -1", 'address = "http://h:1"',
                                      "timeout_seconds = 0"])
    def test_the_config_file_is_checked(self, text):
        with pytest.raises(ConfigError, match="compute"):
            parse(f"[compute]\n{text}\n")


@pytest.mark.parametrize("address, shown", [
    ("tcp://scheduler:8786", "tcp://scheduler:8786"),
    ("tcp://alice:s3cret@scheduler:8786", "tcp://scheduler:8786"),
    ("tls://scheduler:8786?token=abc", "tls://scheduler:8786"),
    ("bob@scheduler:8786", "scheduler:8786"),
])
def test_the_recorded_address_carries_no_credentials(address, shown):
    assert compute.public_address(address) == shown


def test_asking_for_dask_without_the_extra_is_refused_before_anything_runs(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(ComputeUnavailable, match=r"uv sync --extra dask") as e:
        compute.check(compute.settings(defaults(), {"dask": "tcp://127.0.0.1:8786"}))
    assert e.value.exit_code == 2
    compute.check(compute.settings(defaults()))  # the local backend needs nothing more


def test_a_scheduled_run_configured_for_dask_without_the_extra_fails_in_the_ledger(home, monkeypatch):
    import sys

    from tests.compute.market import write_config
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    write_config(home, extra='[compute]\nbackend = "dask"\naddress = "tcp://127.0.0.1:8786"\n')
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    ctx = Context.load(home)
    try:
        with pytest.raises(ComputeUnavailable, match="optional extra"):
            run_job(ctx, "train", {}, trigger="cron", with_deps=False)
        status, error = ctx.connect().execute("SELECT status, error FROM task_runs WHERE task = 'train'").fetchone()
    finally:
        ctx.close()
    assert status == "failed" and "pip install 'turbomode[dask]'" in error

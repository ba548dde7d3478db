import pytest

from turbomode import config
from turbomode.errors import BadSchedule, ConfigError


def test_defaults_hold_the_seed_schedule():
    cfg = config.defaults()
    assert cfg.schedule("scan") == "30 23 * * *"
    assert cfg.schedule("ingest") == "45 22 * * *"
    assert cfg.schedule("train") == "0 0 * * 0"


def test_rendered_file_parses_back_to_the_same_values():
    cfg = config.defaults().with_overrides(data__source="sample")
    again = config.parse(config.render(cfg))
    assert dict(again.items()) == dict(cfg.items())


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x = [", "not valid TOML"),
        ('[data]\nsource = "ftp"', "data.source"),
        ('[jobs.scan]\nschedule = "61 * * * *"', "jobs.scan.schedule"),
        ('[jobs.scan]\nschedule = "* * * *"', "jobs.scan.schedule"),
        ('[labels]\nhorizon_days = 0', "labels.horizon_days"),
        ('[labels]\nhorizon_days = "ten"', "whole number"),
        ('[general]\ntimezone = "Mars/Olympus"', "IANA"),
        ('[general]\nwhat = 1', "unknown config option 'general.what'"),
        ('[data]\nsource = "csv"', "data.csv_dir"),
        ('[drift]\nmoderate = 0.5\nsignificant = 0.2', "drift.moderate"),
        ('[maintain]\nkeep_runs_days = 1000000', "must be between 1 and 36500"),
        ('[models]\nmin_train_rows = 5', "models.min_train_rows = 5 must be at least 10"),
        ('[data]\nstart = "1600-01-01"', "between 1900-01-01 and 2200-12-31"),
        ('[data.sample]\nstart = 1600-01-01', "data.sample.start"),
        ('[jobs.scan]\nschedule = "30 23 ? * mon-fri"', "jobs.scan.schedule"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(text, fragment):
    with pytest.raises(ConfigError) as info:
        config.parse(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("expr", ["30 23 * * MON-FRI", "0 6 1 jan,jul *", "*/15 9-16 * * 1-5", "0 12 1-7 * sun"])
def test_cron_names_ranges_and_steps_are_accepted(expr):
    assert config.parse(f'[jobs.scan]\nschedule = "{expr}"')["jobs.scan.schedule"] == expr
    assert config.beyond_cron(expr) is None


@pytest.mark.parametrize("expr, field", [("0 0 L * *", "L"), ("30 23 * * 5L", "5L"), ("30 23 * * mon#2", "mon#2")])
def test_the_last_day_and_the_nth_weekday_are_valid_but_beyond_cron(expr, field):
    assert config.parse(f'[jobs.scan]\nschedule = "{expr}"')["jobs.scan.schedule"] == expr  # Task Scheduler reads them
    assert config.beyond_cron(expr) == field


def test_a_bad_schedule_is_a_bad_schedule_error():
    with pytest.raises(BadSchedule):
        config.parse('[jobs.train]\nschedule = "0 25 * * *"')


def test_home_comes_from_option_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TURBOMODE_HOME", str(tmp_path / "env"))
    assert config.resolve_home(None) == (tmp_path / "env").resolve()
    assert config.resolve_home(tmp_path / "opt") == (tmp_path / "opt").resolve()

"""The configuration file: one source of truth for paths, data source, schedules and model knobs.

Every option is declared once in ``OPTIONS`` (key, default, checker, comment). Defaults, validation,
``config show`` and the commented ``turbomode.toml`` written by ``config init`` all derive from it,
so adding an option is one line here. Secrets (SMTP password, webhook and ping URLs) are never read
from this file: it names the environment variables that hold them.
"""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path
from typing import Any, Callable, NamedTuple

from turbomode.errors import BadSchedule, ConfigError

CONFIG_NAME = "turbomode.toml"
DB_NAME = "turbomode.db"
JOB_NAMES = ("ingest", "scan", "train", "backtest", "drift", "maintain")

# The seed system's schedule (scheduler-investigation-2026-01-23.md), machine-local time.
DEFAULT_SCHEDULES = {
    "ingest": "45 22 * * *",
    "scan": "30 23 * * *",
    "train": "0 0 * * 0",
    "backtest": "5 23 * * 6",
    "drift": "10 23 * * 6",
    "maintain": "0 23 * * 6",
}


# Dates TurboMode reads (config dates, `catchup --at`): price tables and calendars end somewhere, and
# datetime itself ends at year 9999, where schedule arithmetic overflows. ISO strings compare as dates.
FIRST_DATE, LAST_DATE = "1900-01-01", "2200-12-31"
# The most local worker processes (compute.workers, --workers): far beyond any machine, and small
# enough for the operating system's semaphores.
MAX_WORKERS = 1024


# --- checkers: each returns the cleaned value or raises ValueError("what is allowed") ---------

def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError("must be true or false")


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("must be a whole number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"must be between {lo} and {hi}" if lo is not None and hi is not None
                             else f"must be at least {lo}" if lo is not None else f"must be at most {hi}")
        return v

    return check


def _float(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):  # TOML has a nan literal
            raise ValueError("must be a number")
        v = float(v)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"must be between {lo} and {hi}" if lo is not None and hi is not None
                             else f"must be at least {lo}" if lo is not None else f"must be at most {hi}")
        return v

    return check


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("must be a string in quotes")
    return v


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in allowed:
            raise ValueError("must be one of " + ", ".join(repr(a) for a in allowed))
        return v

    return check


def _date(v: Any) -> str:
    import datetime as _dt

    d = None
    if isinstance(v, _dt.date):
        d = v if not isinstance(v, _dt.datetime) else v.date()
    elif isinstance(v, str):
        try:
            d = _dt.date.fromisoformat(v)
        except ValueError:
            pass
    if d is None:
        raise ValueError("must be a date like 2011-01-03")
    if not FIRST_DATE <= d.isoformat() <= LAST_DATE:  # price tables and calendars end somewhere
        raise ValueError(f"must be a date between {FIRST_DATE} and {LAST_DATE}")
    return d.isoformat()


def _timezone(v: Any) -> str:
    v = _str(v)
    if v == "local":
        return v
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be 'local' or an IANA time zone such as 'America/New_York'") from None
    return v


def check_cron(expr: Any) -> str:
    """A five-field cron expression as cronsim (Debian cron semantics) accepts it."""
    expr = _str(expr).strip()
    from datetime import datetime

    from cronsim import CronSim, CronSimError

    try:
        CronSim(expr, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"is not a valid cron expression ({exc})") from None
    if len(expr.split()) != 5:
        raise ValueError("must have five fields: minute hour day-of-month month day-of-week")
    return expr


def beyond_cron(expr: str) -> str | None:
    """The field of a valid expression that cron itself cannot read (cronsim's and Task Scheduler's
    L and #: the last day, the n-th weekday), or None."""
    import re

    names = (r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec", r"sun|mon|tue|wed|thu|fri|sat")
    for i, field in enumerate(expr.split()):
        plain = re.sub(names[i - 3], "", field, flags=re.IGNORECASE) if i >= 3 else field
        if not re.fullmatch(r"[0-9*,/-]*", plain):
            return field
    return None


def _cron_or_empty(v: Any) -> str:
    return "" if _str(v).strip() == "" else check_cron(v)


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError('must be a list of strings, e.g. ["a@example.com"]')
    return v


def _model_types(v: Any) -> list[str]:
    from turbomode.ml.models import MODEL_TYPES  # names only: no model library is imported

    v = _str_list(v)
    choices = ", ".join(MODEL_TYPES)
    if not v:
        raise ValueError(f"is empty; list at least one of {choices}")
    unknown = [t for t in v if t not in MODEL_TYPES]
    if unknown:
        raise ValueError(f"has unknown type(s) {', '.join(unknown)}; choose from {choices}")
    twice = next((t for i, t in enumerate(v) if t in v[:i]), None)
    if twice is not None:
        raise ValueError(f"lists {twice!r} twice; list each type once")
    return v


DASK_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")


def _dask_address(v: Any) -> str:
    """A Dask scheduler address: [scheme://]host[:port], or empty."""
    v = _str(v).strip()
    if not v:
        return v
    scheme, sep, rest = v.rpartition("://")
    if sep and scheme not in DASK_SCHEMES:
        raise ValueError(f"must be a Dask scheduler address like 'tcp://host:8786' (scheme one of "
                         f"{', '.join(DASK_SCHEMES)})")
    host, colon, port = rest.rpartition(":") if not rest.endswith("]") else (rest, "", "")
    if not colon:
        host, port = rest, ""
    if not host.strip("[]") or (colon and not port.isdigit()) or any(c.isspace() for c in rest):
        raise ValueError("must be a Dask scheduler address like 'tcp://host:8786'")
    if not colon or not 1 <= int(port) <= 65535:  # every scheme above needs one: Dask has no default
        raise ValueError("needs a port between 1 and 65535, like 'tcp://host:8786'")
    return v


class Option(NamedTuple):
    key: str  # dotted: section.name or section.sub.name
    default: Any
    check: Callable[[Any], Any]
    comment: str


OPTIONS: list[Option] = [
    # general
    Option("general.timezone", "local", _timezone,
           "Zone the cron schedules are read in: 'local' (this machine) or an IANA name."),
    Option("general.universe", "", _str,
           "CSV of symbol,name,sector (a relative path is read from the home folder); empty = the built-in "
           "universe of liquid US stocks."),
    Option("general.log_level", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"),
           "Level of the rotating log file in <home>/logs/."),
    # data
    Option("data.source", "yfinance", _choice("yfinance", "csv", "sample"),
           "Where prices come from: 'yfinance' (Yahoo), 'csv' (data.csv_dir) or 'sample' (synthetic)."),
    Option("data.csv_dir", "", _str, "Folder of per-symbol CSVs in Yahoo's layout (source = 'csv'); a relative "
           "path is read from the home folder."),
    Option("data.start", "2011-01-03", _date, "First date fetched on a full load."),
    Option("data.overlap_days", 10, _int(1, 365),
           "Trading days re-fetched before the last stored bar, to detect re-adjusted history."),
    Option("data.reload_tolerance", 0.005, _float(0.0, 1.0),
           "Relative disagreement in the overlap that triggers a full reload of the symbol."),
    Option("data.batch_size", 50, _int(1, 500), "Symbols per yfinance download call."),
    Option("data.max_retries", 4, _int(0, 20), "Retries with exponential backoff on rate limits and timeouts."),
    Option("data.timeout_seconds", 20, _int(1, 600), "Network timeout of one download call."),
    Option("data.sample.seed", 20260123, _int(0), "Seed of the embedded sample market."),
    Option("data.sample.strength", 0.6, _float(0.0, 5.0),
           "Strength of the sample market's planted predictable component; 0 = pure random walk."),
    Option("data.sample.start", "2011-01-03", _date, "First business day of the sample market."),
    # labels and signals (the same multiples set training labels and live targets/stops/expiries)
    Option("labels.target_multiple", 2.0, _float(0.1, 20.0), "Target = close + multiple x ATR (BUY)."),
    Option("labels.stop_multiple", 1.0, _float(0.1, 20.0), "Stop = close - multiple x ATR (BUY)."),
    Option("labels.horizon_days", 10, _int(1, 250), "Trading days until a signal expires."),
    Option("labels.atr_days", 14, _int(2, 250), "Window of the average true range used for the barriers."),
    Option("signals.min_confidence", 0.40, _float(0.0, 1.0),
           "Only emit signals whose calibrated probability of reaching the target first is at least this "
           "(break-even of a 2:1 target/stop is 1/3 before costs and expiries; `train --json` gives the net "
           "return at this threshold on its held-out test window)."),
    Option("signals.freshness_hours", 24, _int(1, 24 * 30), "Signals older than this are STALE."),
    Option("signals.refresh_report", False, _bool, "Rewrite <home>/report.html after every scan."),
    # models
    Option("models.types", ["xgboost", "lightgbm", "random_forest", "extra_trees", "logistic", "hist_gb"],
           _model_types, "Model types trained per sector."),
    Option("models.keep_versions", 5, _int(1, 1000), "Model versions kept by maintain (the champion always)."),
    Option("models.as_of_days", 365, _int(0, 36500),
           "maintain also keeps every model version `scan --as-of` needs for a date this many days back."),
    Option("models.min_train_rows", 500, _int(10), "A sector with fewer labelled rows is not trained."),
    Option("models.n_jobs", 2, _int(1, 256),
           "Deprecated and ignored: how many models fit at once is compute.workers now."),
    Option("models.trees", 100, _int(1, 5000),
           "Boosting rounds per boosted model (the forests grow half as many trees)."),
    Option("models.test_days", 126, _int(5, 5000),
           "Trading days in the test window (the most recent): the champion's reported quality, never used "
           "to fit or choose it (capped at a fifth of the history)."),
    Option("models.valid_days", 126, _int(5, 5000),
           "Trading days in the validation window, before test: it chooses champion or challenger "
           "(capped at a fifth of the history)."),
    Option("models.calib_days", 252, _int(5, 5000),
           "Trading days in the calibration window, before validation (capped at a fifth of the history)."),
    Option("models.max_signal_ece", 0.05, _float(0.0, 1.0),
           "A challenger whose signal calibration error (ECE of P(BUY) and P(SELL) pooled) on validation "
           "exceeds this is not promoted, unless the champion's is worse; nor one whose validation signals "
           "reach their target less often than their mean confidence by more than this and two standard "
           "errors (not even as a sector's first version)."),
    Option("models.calibration", "sigmoid", _choice("sigmoid", "isotonic", "auto"),
           "Calibration of each model on its later window: 'sigmoid' (Platt), 'isotonic', or 'auto' "
           "(isotonic with >= 1000 calibration rows, else sigmoid)."),
    # compute: where train, backtest and drift run their independent pieces (turbomode/compute/)
    Option("compute.backend", "local", _choice("local", "dask"),
           "'local': processes on this machine (compute.workers of them); 'dask': an existing Dask cluster "
           "at compute.address (needs the optional extra: pip install 'turbomode[dask]')."),
    Option("compute.workers", 0, _int(0, MAX_WORKERS),
           "Local worker processes; 0 = one per core. 1 runs every piece in the job's own process."),
    Option("compute.address", "", _dask_address,
           "Dask scheduler, e.g. 'tcp://scheduler-host:8786' (TURBOMODE_DASK_ADDRESS overrides it)."),
    Option("compute.timeout_seconds", 30, _int(1, 3600),
           "How long to wait for the Dask scheduler to answer, or for a worker to be present, before failing."),
    # backtest
    Option("backtest.folds", 5, _int(1, 50), "Walk-forward folds."),
    Option("backtest.commission_bps", 1.0, _float(0.0, 1000.0), "Commission per side, basis points."),
    Option("backtest.slippage_bps", 5.0, _float(0.0, 1000.0), "Slippage per side, basis points."),
    Option("backtest.min_trades", 30, _int(1, 100000),
           "Below this many trades no t, z, Sharpe or profit factor is shown as evidence."),
    # drift
    Option("drift.retrain", False, _bool, "Retrain the sectors with significant drift."),
    Option("drift.moderate", 0.1, _float(0.0, 10.0), "PSI at or above this is moderate drift."),
    Option("drift.significant", 0.25, _float(0.0, 10.0), "PSI at or above this is significant drift."),
    Option("drift.min_features", 5, _int(1, 1000),
           "A sector's features have drifted significantly when at least this many of them are."),
    Option("drift.calibrate", True, _bool,
           "Judge each feature's PSI against its noise floor inside the training window (docs/weekly-jobs.md)."),
    Option("drift.recent_sessions", 63, _int(20, 2520),
           "Feature drift compares the last this many sessions with the champion's training window."),
    Option("drift.prediction_days", 28, _int(7, 365),
           "Prediction drift compares signals of the last this many days with the same span before."),
    Option("drift.outcome_days", 91, _int(7, 3650),
           "Outcome drift tests the hit rate of signals closed in the last this many days."),
    # maintain
    Option("maintain.keep_runs_days", 180, _int(1, 36500), "Ledger rows older than this are pruned."),
    Option("maintain.keep_backups", 7, _int(1, 1000), "Backups kept in <home>/backups/."),
    Option("maintain.vacuum_free_ratio", 0.2, _float(0.0, 1.0),
           "VACUUM when free pages are at least this share of the database file."),
    # runs and catch-up
    Option("run.heartbeat_seconds", 30, _int(1, 3600), "How often a running job records that it is alive."),
    Option("run.stale_heartbeat_minutes", 15, _int(1, 24 * 60),
           "A run whose heartbeat is older than this is abandoned (its process died)."),
    Option("catchup.at_reboot", True, _bool, "Install an @reboot / logon catch-up."),
    Option("catchup.heartbeat", "17 * * * *", _cron_or_empty,
           "Extra catch-up schedule (cron); empty to disable."),
    # alerts: secrets live in the environment variables named here
    Option("alerts.email_to", [], _str_list, "Addresses alerted on failure, abandonment and staleness."),
    Option("alerts.email_from", "turbomode@localhost", _str, "Sender address of alert e-mails."),
    Option("alerts.smtp_host", "localhost", _str, "SMTP server."),
    Option("alerts.smtp_port", 25, _int(1, 65535), "SMTP port."),
    Option("alerts.smtp_starttls", False, _bool, "Use STARTTLS."),
    Option("alerts.smtp_user_env", "TURBOMODE_SMTP_USER", _str, "Environment variable holding the SMTP user."),
    Option("alerts.smtp_password_env", "TURBOMODE_SMTP_PASSWORD", _str,
           "Environment variable holding the SMTP password."),
    Option("alerts.webhook_url_env", "TURBOMODE_WEBHOOK_URL", _str,
           "Environment variable holding a URL that receives a JSON POST per alert."),
    Option("alerts.timeout_seconds", 10, _int(1, 120), "Timeout of one alert delivery."),
]

for _job in JOB_NAMES:
    OPTIONS += [
        Option(f"jobs.{_job}.schedule", DEFAULT_SCHEDULES[_job], check_cron,
               f"When {_job} runs (cron: minute hour day-of-month month day-of-week)."),
        Option(f"jobs.{_job}.enabled", True, _bool, f"Whether {_job} is scheduled and caught up."),
        Option(f"jobs.{_job}.alerts", True, _bool, f"Send alerts when {_job} fails or is abandoned."),
        Option(f"jobs.{_job}.ping_url_env", f"TURBOMODE_PING_{_job.upper()}", _str,
               f"Environment variable holding a healthchecks.io-style ping URL for {_job}."),
    ]

_BY_KEY = {o.key: o for o in OPTIONS}


class Config:
    """Validated option values; read with ``cfg["data.source"]`` or ``cfg.get(...)``."""

    def __init__(self, values: dict[str, Any], path: Path | None = None):
        self._values = values
        self.path = path

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def items(self):
        return self._values.items()

    def with_overrides(self, **overrides: Any) -> "Config":
        """A copy with dotted keys replaced (use ``__`` for dots: data__source='sample')."""
        values = dict(self._values)
        for k, v in overrides.items():
            key = k.replace("__", ".")
            if key not in _BY_KEY:
                raise ConfigError(f"unknown option {key!r}")
            values[key] = _checked(key, v)
        return Config(values, self.path)

    def schedule(self, job: str) -> str:
        return self._values[f"jobs.{job}.schedule"]

    def enabled(self, job: str) -> bool:
        return self._values[f"jobs.{job}.enabled"]


def _checked(key: str, value: Any) -> Any:
    try:
        return _BY_KEY[key].check(value)
    except ValueError as exc:
        error = BadSchedule if key.endswith(".schedule") or key == "catchup.heartbeat" else ConfigError
        raise error(f"config option {key} = {value!r} {exc}") from None


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def defaults() -> Config:
    return Config({o.key: o.default for o in OPTIONS})


def parse(text: str, path: Path | None = None) -> Config:
    """Validate TOML text; raise ConfigError naming the key and what is allowed."""
    where = f" in {path}" if path else ""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file{where} is not valid TOML ({exc}); fix it or run "
                          "`turbomode config init --force` to start over") from None
    values = {o.key: o.default for o in OPTIONS}
    for key, value in _flatten(raw).items():
        if key not in _BY_KEY:
            raise ConfigError(f"unknown config option {key!r}{where}; `turbomode config show` lists them")
        values[key] = _checked(key, value)
    if values["drift.moderate"] > values["drift.significant"]:
        raise ConfigError("config option drift.moderate must not exceed drift.significant")
    if values["data.source"] == "csv" and not values["data.csv_dir"]:
        raise ConfigError("config option data.source = 'csv' needs data.csv_dir set to a folder of CSVs")
    if path is not None:
        anchor_paths(values, path.parent)
    return Config(values, path)


# Options naming a file or folder. A relative one is read from the home folder (the folder holding
# turbomode.toml), not from wherever the command was started: cron starts jobs in /.
PATH_OPTIONS = ("general.universe", "data.csv_dir")


def anchor_paths(values: dict[str, Any], home: Path) -> None:
    """Make the relative paths in ``values`` (PATH_OPTIONS, after ``~``) absolute under ``home``."""
    for key in PATH_OPTIONS:
        value = values[key]
        if value.strip():
            p = Path(value).expanduser()
            values[key] = str(p if p.is_absolute() else home / p)


def _unreadable(path: Path, why: str) -> ConfigError:
    return ConfigError(f"cannot read the config file {path} ({why}); fix it or run "
                       "`turbomode config init --force`")


def _read_config_text(path: Path) -> str | None:
    """The text of turbomode.toml, None when there is none; one sentence when it cannot be read."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except PermissionError:  # the home folder itself is closed to us
        raise ConfigError(f"cannot read the config file {path} (permission denied); give your user access "
                          "to it, or point --home (or TURBOMODE_HOME) at a home of your own") from None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"the config file {path} is a folder, not a file; move it out of the way and run "
                          "`turbomode config init`")
    if not stat.S_ISREG(mode):  # a FIFO would block every command, a device is not a config
        raise ConfigError(f"the config file {path} is not a regular file; replace it with one, e.g. by "
                          "moving it away and running `turbomode config init`")
    try:
        # utf-8-sig: Windows Notepad (before 2019) starts a UTF-8 file with a byte-order mark, which TOML refuses
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:  # removed in between
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {path} is not UTF-8 text; fix it or run "
                          "`turbomode config init --force`") from None
    except PermissionError:
        raise ConfigError(f"cannot read the config file {path} (permission denied); give your user read "
                          "access to it (chmod u+r), or point --home (or TURBOMODE_HOME) at a home of your own") from None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from None


def load(home: Path) -> Config:
    """The home's turbomode.toml, or the defaults when there is none yet."""
    path = home / CONFIG_NAME
    text = _read_config_text(path)
    if text is None:
        cfg = defaults()
        cfg.path = None
        return cfg
    return parse(text, path)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(cfg: Config | None = None) -> str:
    """A commented TOML file holding every option (``cfg``'s values, or the defaults)."""
    cfg = cfg or defaults()
    lines = [
        "# TurboMode configuration. Every option is shown with its value; delete a line to use the default.",
        "# Times in cron schedules are read in general.timezone. Secrets are never stored here: the",
        "# alerts.* and jobs.*.ping_url_env options name environment variables that hold them.",
    ]
    section = None
    for o in OPTIONS:
        sec, name = o.key.rsplit(".", 1)
        if sec != section:
            lines += ["", f"[{sec}]"]
            section = sec
        lines.append(f"# {o.comment}")
        lines.append(f"{name} = {_toml_value(cfg[o.key])}")
    return "\n".join(lines) + "\n"


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("turbomode", appauthor=False))


def resolve_home(home: str | os.PathLike | None) -> Path:
    """--home beats TURBOMODE_HOME beats the platform's user data folder."""
    if home is not None and not str(home).strip():  # not "the current folder", nor "the default"
        raise ConfigError("--home is empty; give the home folder's path, or leave --home out to use "
                          "TURBOMODE_HOME or the default")
    if home:
        return Path(home).expanduser().resolve()
    env = os.environ.get("TURBOMODE_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return default_home()

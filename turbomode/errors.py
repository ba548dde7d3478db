"""Named errors, each carrying the exit code the CLI turns it into (SPEC §12).

Raise them with the fix in the message: "prices end 2026-01-21; run `turbomode ingest`".
The CLI prints the message as one line and exits with ``exit_code``; nothing else maps errors.
"""

from __future__ import annotations

# Documented exit codes (README, SPEC §12).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_REFUSED = 4


class TurboModeError(Exception):
    """A failure we can explain to the user in one sentence.

    The sentence says what is wrong, then (after the last "; ") what to do: that part is the
    ``hint`` of a ``--json`` error object, unless one is given explicitly.
    """

    exit_code = EXIT_FAILED

    def __init__(self, message: str = "", *, hint: str | None = None):
        super().__init__(message)
        self._hint = hint

    @property
    def hint(self) -> str | None:
        if self._hint is not None:
            return self._hint
        text = str(self)
        return text.rsplit("; ", 1)[1] if "; " in text else None


class ConfigError(TurboModeError):
    """The configuration file or a command-line value is invalid."""

    exit_code = EXIT_USAGE


class BadSchedule(ConfigError):
    """A cron expression is invalid or cannot be expressed by the OS scheduler."""


class NotADatabase(TurboModeError):
    """The database path holds a file that is not an SQLite database."""

    exit_code = EXIT_USAGE


class EmptyDatabase(NotADatabase):
    """The database file is empty (0 bytes) in a home that has been used: its contents were lost."""


class MissingDatabase(NotADatabase):
    """The database file is missing from a home that has backups: it was moved or deleted."""


class HomeNotWritable(TurboModeError):
    """The home folder (or a file in it) cannot be written."""

    exit_code = EXIT_USAGE


class DiskFull(HomeNotWritable):
    """The disk that holds the home folder has no space left."""


class DatabaseBusy(TurboModeError):
    """Another program held a write lock on the database for longer than the busy timeout."""

    exit_code = EXIT_FAILED


class NoDatabase(TurboModeError):
    """A read-only command found no database (a mistyped --home) or one that needs upgrading first."""

    exit_code = EXIT_USAGE


class SchemaTooNew(TurboModeError):
    """The database was upgraded by a newer TurboMode: this version does not know all of its schema."""

    exit_code = EXIT_USAGE


class SchemaUpgradeFailed(TurboModeError):
    """The database could not be brought to this version's schema; the upgrade was rolled back."""

    exit_code = EXIT_USAGE


class DataSourceError(TurboModeError):
    """A market-data source failed as a whole (network down, folder missing)."""

    exit_code = EXIT_FAILED


class BadInput(TurboModeError):
    """An input file or value the user gave is malformed."""

    exit_code = EXIT_USAGE


class StaleData(TurboModeError):
    """An input is older than the job accepts."""

    exit_code = EXIT_REFUSED


class MissingInput(TurboModeError):
    """Something a job needs does not exist yet (no prices, no champion model)."""

    exit_code = EXIT_REFUSED


class ModelMissing(MissingInput):
    """No usable champion model (absent or corrupt files)."""


class RunInProgress(TurboModeError):
    """A job is running, so what would replace the database under it (restore) is refused."""

    exit_code = EXIT_REFUSED


class JobFailed(TurboModeError):
    """A job ran and failed."""

    exit_code = EXIT_FAILED


class BackupInvalid(BadInput):
    """A file offered as a backup is not a sound TurboMode database."""


class SchedulerError(TurboModeError):
    """The OS scheduler (crontab, schtasks) could not be read or changed."""

    exit_code = EXIT_FAILED


class ComputeUnavailable(ConfigError):
    """The configured compute backend cannot be used: the Dask extra is not installed, the scheduler
    address is wrong or unreachable, or a worker lacks a library the pieces need."""


class ComputeLost(TurboModeError):
    """The compute backend lost work at run time (the scheduler went away, no worker was left, a
    piece killed its workers); nothing was written."""

    exit_code = EXIT_FAILED

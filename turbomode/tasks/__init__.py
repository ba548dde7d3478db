"""The jobs' bodies. Each module exposes ``run(ctx, now, options) -> TaskResult`` and no CLI code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turbomode.errors import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL

STATUS_EXIT = {"succeeded": EXIT_OK, "skipped": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}


@dataclass
class TaskResult:
    """What a task reports: a ledger status, a JSON-able summary, and a one-line message."""

    status: str = "succeeded"  # succeeded | partial | failed | skipped
    summary: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return STATUS_EXIT[self.status]

"""Run one fake job through the real run wrapper in a real process: python -m tests.fakejobs.run_job JOB [TRIGGER]."""

import os
import sys
import time

from tests.fakejobs import install_for_subprocess


def main() -> int:
    install_for_subprocess()
    barrier = os.environ.get("FAKE_BARRIER")  # start together: wait for this file to appear
    while barrier and not os.path.exists(barrier):
        time.sleep(0.01)
    from turbomode import logs
    from turbomode.context import Context
    from turbomode.ops.runner import run_job

    job = sys.argv[1]
    trigger = sys.argv[2] if len(sys.argv) > 2 else "manual"
    ctx = Context.load()
    logs.setup(ctx.logs_dir)
    try:
        outcome = run_job(ctx, job, {}, trigger=trigger)
    except Exception as exc:  # the real CLI maps these; this helper only needs an exit code
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    print(outcome.error if outcome.status == "skipped" else f"{job} {outcome.status}")
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""A disabled job is never run as a dependency: the job that needs it is blocked with the reason,
or runs with a warning when what is stored is fresh (issue 10 item 11)."""

from __future__ import annotations

import json

import time_machine

from tests.fakejobs.fixtures import NOW, runs


def disable(home, job: str) -> None:
    toml = home / "turbomode.toml"
    toml.write_text(toml.read_text() + f"\n[jobs.{job}]\nenabled = false\n")


def test_catchup_does_not_run_a_disabled_upstream_and_blocks_what_needs_it(sched_home, fake_jobs, alerts_spy, cli,
                                                                          ctx):
    disable(sched_home, "ingest")
    with time_machine.travel(NOW, tick=False):
        result = cli("catchup", "--json")
    assert "ingest" not in fake_jobs(), "a disabled job ran as a dependency"
    out = json.loads(result.stdout)
    by_job = {r["job"]: r for r in out["runs"]}
    assert by_job["train"]["status"] == "blocked" and by_job["scan"]["status"] == "blocked"
    assert "ingest is disabled (jobs.ingest.enabled = false) and no prices stored yet" in by_job["train"]["error"]
    assert by_job["maintain"]["status"] == "succeeded"  # needs nothing
    assert [r["task"] for r in runs(ctx, "ingest")] == []
    assert ("notify", "scan", "blocked") in [c[:3] for c in alerts_spy]


def test_a_job_whose_disabled_upstream_is_fresh_runs_with_a_warning(sched_home, fake_jobs, alerts_spy, cli):
    with time_machine.travel(NOW, tick=False):
        assert cli("ingest", "--json").exit_code == 0  # prices reach the last session, by hand
        disable(sched_home, "ingest")
        result = cli("train", "--json")
    assert result.exit_code == 0, result.output
    assert fake_jobs() == ["ingest", "train"]
    assert "warning: ingest is disabled (jobs.ingest.enabled = false): train used what is stored" in result.stderr


def test_a_manual_run_with_a_stale_disabled_upstream_is_blocked_not_run(sched_home, fake_jobs, alerts_spy, cli):
    disable(sched_home, "ingest")
    with time_machine.travel(NOW, tick=False):
        result = cli("scan")
    assert result.exit_code == 4
    assert "ingest" not in fake_jobs() and "scan" not in fake_jobs()
    assert "ingest is disabled" in result.stderr and "run `turbomode ingest` yourself" in result.stderr

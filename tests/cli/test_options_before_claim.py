"""A mistyped option never enters the ledger, never alerts and leaves `status` as it was (issue 10
item 3): options are checked (tasks/options.py, with each task's own parser) before a run is claimed."""

from __future__ import annotations

import pytest

from tests.fakejobs.fixtures import runs

CASES = [  # command, exit code, what the one line says
    (["scan", "--as-of", "2026-13-01"], 2, "--as-of '2026-13-01' is not a date"),
    (["scan", "--as-of", "yesterday"], 2, "is not a date"),
    (["scan", "--as-of", "2026-01-17"], 4, "there are no prices for --as-of 2026-01-17"),  # a Saturday
    (["ingest", "--start", "2026-02-30"], 2, "--start '2026-02-30' is not a date"),
    (["ingest", "--symbols", "AAPL,ZZZZQ"], 2, "unknown symbol(s) ZZZZQ"),
    (["ingest", "--symbols", ",,"], 2, "--symbols is empty"),
    (["backtest", "--models", "xgboost,deepnet"], 2, "unknown model type(s) deepnet"),
    (["backtest", "--start", "01/02/2020"], 2, "--start '01/02/2020' is not a date"),
    (["train", "--sector", "Energi"], 2, "unknown --sector 'Energi'"),
]


@pytest.fixture
def healthy(sched_home, fake_jobs, alerts_spy, cli):
    assert cli("catchup").exit_code == 0  # every (fake) job succeeds, with the real clock
    assert cli("status").exit_code == 0
    alerts_spy.clear()
    return sched_home


@pytest.mark.parametrize("args,code,says", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_mistyped_option_is_refused_before_the_run_is_claimed(healthy, ctx, alerts_spy, cli, args, code, says):
    before = runs(ctx)
    result = cli(*args)
    assert result.exit_code == code
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert runs(ctx) == before, "a usage error must not enter the ledger"
    assert [c for c in alerts_spy if c[0] == "notify"] == [], "a usage error must not alert"
    assert cli("status").exit_code == 0, "status must stay healthy"


def test_a_mistyped_option_under_cron_is_refused_the_same_way(healthy, ctx, alerts_spy, cli):
    before = runs(ctx)
    result = cli("scan", "--as-of", "2026-13-01", "--trigger", "cron")
    assert result.exit_code == 2 and runs(ctx) == before and alerts_spy == []


def test_a_valid_option_still_runs_and_is_recorded(healthy, ctx, cli):
    before = len(runs(ctx))
    assert cli("ingest", "--symbols", "aapl,msft", "--start", "2026-01-02", "--json").exit_code == 0
    assert len(runs(ctx)) == before + 1

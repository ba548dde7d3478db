from tests.fakejobs.fixtures import alerts_spy, ctx, fake_jobs, sched_home  # noqa: F401

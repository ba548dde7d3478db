"""The README states what the first hour costs and what Yahoo does, as measured (issue 10 items 22, 23)."""

from pathlib import Path

README = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())


def test_the_readme_says_what_the_first_demo_run_costs_on_a_fresh_clone():
    assert "under a minute" not in README
    assert "byte-compiles about 6,000 files" in README and "Measured on two fresh clones" in README
    assert "the first `uv run turbomode demo` took" in README


def test_the_readme_says_how_long_a_first_real_ingest_takes_and_where_yahoos_limits_are():
    assert "The first real ingest fetches 15 years of 240 symbols" in README
    assert 'HTTP 429 "Too Many Requests"' in README and "Offline, `ingest` says \"cannot reach Yahoo Finance\"" in README

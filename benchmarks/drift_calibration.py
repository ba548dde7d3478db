"""How often `drift` calls a sector's features significantly drifted, with and without a change.

Markets from tests/cli/test_drift_cmd.py: 2 sectors x 8 stocks, constant volatility, and from
2025-07-01 on Energy's returns and ranges scaled by FACTOR (1.0 = unchanged). For each seed the
drift task runs against champions trained on 2020-2024; printed: the share of seeds whose Energy
(changed) and Utilities (never changed) verdicts are significant, with the noise floors (the
default, drift.calibrate = true) and with the raw 0.1 / 0.25 thresholds only.

    uv run python benchmarks/drift_calibration.py [SEEDS] [FACTOR]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cli.test_drift_cmd import market, set_up_home  # noqa: E402
from turbomode.context import Context  # noqa: E402
from turbomode.ops.runner import run_job  # noqa: E402


def verdicts(home: Path, calibrate: bool) -> dict[str, str]:
    ctx = Context.load(home)
    ctx.config = ctx.config.with_overrides(drift__calibrate=calibrate)
    out = run_job(ctx, "drift", {}, with_deps=False)
    ctx.close()
    return {r["sector"]: r["level"] for r in out.result.summary["flagged"] if r["kind"] == "features"}


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    factor = float(sys.argv[2]) if len(sys.argv) > 2 else 2.5
    import turbomode.ops.alerts as alerts

    alerts.notify = lambda ctx, event: []  # no alert deliveries from a benchmark
    for f in (1.0, factor):
        counts = {(cal, s): 0 for cal in (True, False) for s in ("Energy", "Utilities")}
        t0 = time.perf_counter()
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp) / "home"
                set_up_home(home, market(seed=1000 + seed, factor=f))
                for cal in (True, False):
                    v = verdicts(home, cal)
                    for s in ("Energy", "Utilities"):
                        counts[(cal, s)] += v.get(s) == "significant"
        per = (time.perf_counter() - t0) / seeds
        for cal in (True, False):
            label = "noise floors" if cal else "raw thresholds"
            print(f"factor {f:.1f}, {label:14s}: Energy significant {counts[(cal, 'Energy')]}/{seeds}, "
                  f"Utilities significant {counts[(cal, 'Utilities')]}/{seeds}")
        print(f"  ({per:.1f} s per seed for set-up and two drift runs)")


if __name__ == "__main__":
    main()

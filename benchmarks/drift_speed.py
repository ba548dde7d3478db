"""Wall time of `drift` on the full sample market (240 symbols x ~15 years of bars).

Set-up: ingest the sample market; register one champion per sector whose ensemble.json carries
its training features' PSI bins over 2012-2023, as `train` writes them (no models are fitted:
drift reads only ensemble.json). Then `drift` runs REPEATS times with the noise floors (default)
and once without them; the median is printed.

    uv run python benchmarks/drift_speed.py [REPEATS]
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    import pandas as pd

    from turbomode import clock
    from turbomode.context import Context
    from turbomode.data.universe import load_universe
    from turbomode.ml.features import FEATURE_NAMES, compute_features, usable
    from turbomode.ml.metrics import psi_bins
    from turbomode.ops import alerts
    from turbomode.ops.runner import run_job
    from turbomode.store import models
    from turbomode.store.prices import read_panel

    alerts.notify = lambda ctx, event, *a, **k: []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "turbomode.toml").write_text('[data]\nsource = "sample"\n')
        ctx = Context.load(home)
        run_job(ctx, "ingest", {}, with_deps=False)
        conn = ctx.connect()
        sector_of = {s.symbol: s.sector for s in load_universe(None)}
        window = ("2012-01-03", "2023-12-29")
        feats = compute_features(read_panel(conn, start="2011-01-01", end=window[1]), sector_of)
        d = feats.index.get_level_values("date")
        feats = feats[usable(feats) & (d >= pd.Timestamp(window[0]))]
        version, files = "bench", []
        w = {"train_start": window[0], "train_end": window[1]}
        for sector in sorted(set(sector_of.values())):
            rows = feats[feats["sector"] == sector]
            data = json.dumps({"windows": w, "psi": {n: psi_bins(rows[n].to_numpy()) for n in FEATURE_NAMES}}).encode()
            rel = f"{version}/{sector.lower().replace(' ', '-')}/ensemble.json"
            (ctx.models_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx.models_dir / rel).write_bytes(data)
            files.append({"sector": sector, "model_type": "ensemble", "path": rel,
                          "sha256": hashlib.sha256(data).hexdigest(), "windows": w, "metrics": {},
                          "feature_names": list(FEATURE_NAMES)})
        models.record_version(conn, version=version, now=clock.now(), files=files,
                              promoted=sorted(set(sector_of.values())), run={"status": "succeeded"})
        for calibrate in (True, False):
            ctx.config = ctx.config.with_overrides(drift__calibrate=calibrate)
            runs, out = [], None
            for _ in range(repeats if calibrate else 1):
                t0 = time.perf_counter()
                out = run_job(ctx, "drift", {}, with_deps=False)
                runs.append(time.perf_counter() - t0)
            s = out.result.summary
            print(f"drift, noise floors {'on ' if calibrate else 'off'}: {statistics.median(runs):5.1f} s "
                  f"(median of {len(runs)}); level {s['level']}, significant sectors {s['significant_sectors']}")
        ctx.close()


if __name__ == "__main__":
    main()

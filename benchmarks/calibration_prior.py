"""Can one window's trend become a prior? (README figure): `uv run python benchmarks/calibration_prior.py`.

Each sector of the sample market is fitted twice on the same windows with the same model type:

* the product (ml/train.fit_member): BUY and SELL balanced per date, the model averaged with its
  mirror-image view, one calibrator shared by P(BUY) and P(SELL);
* the naive way: the same model fitted on the raw labels and calibrated per class with
  scikit-learn's CalibratedClassifierCV (one-vs-rest sigmoids), as the product did before.

Printed per sector: the calibration window's realised BUY - SELL rate (its trend) and the tilt each
way gives the held-out test window (mean P(BUY) - P(SELL)); then, across sectors, the correlation
between the two and the mean absolute tilt. A tilt that follows the calibration window's trend is
that trend become a prior: every stock of the sector pushed one way a year later.
"""

from __future__ import annotations

import argparse
from datetime import date

END = date(2026, 1, 9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--model", default="lightgbm")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()

    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from turbomode import config
    from turbomode.data import sample
    from turbomode.data.universe import load_universe
    from turbomode.ml.features import DIRECTIONAL
    from turbomode.ml.models import make_model
    from turbomode.ml.train import (_xy, build_dataset, data_dates, fit_member, member_proba,
                                    side_balanced_weights, split_windows, window_masks)

    cfg = config.defaults()
    seed = cfg["data.sample.seed"] if args.seed is None else args.seed
    secs = load_universe()
    start = date(END.year - args.years, END.month, END.day)
    panel = sample.generate(secs, start, END, seed=seed, strength=cfg["data.sample.strength"])
    data = build_dataset(panel, {s.symbol: s.sector for s in secs}, cfg)
    w = split_windows(data_dates(data), cfg)
    print(f"{len(secs)} symbols x {args.years} years, {args.model}; calibration {w.calib[0]}..{w.calib[1]}, "
          f"test {w.test[0]}..{w.test[1]}")
    print(f"  {'sector':24s} calib BUY-SELL   tilt: product   naive")
    trend, product, naive = [], [], []
    for sector in sorted(set(data["sector"])):
        rows = data[data["sector"] == sector]
        m = window_masks(rows, w)
        names = [c for c in rows.columns if c not in ("sector", "label_id", "horizon_end", "ret_buy", "ret_sell")]
        (X_tr, y_tr), (X_ca, y_ca), (X_te, _) = (_xy(rows[m[k]], names) for k in ("train", "calib", "test"))
        odd = [i for i, n in enumerate(names) if n in DIRECTIONAL]
        ours = fit_member(args.model, X_tr, y_tr, X_ca, y_ca, cfg, odd_columns=odd,
                          weights=side_balanced_weights(y_tr, data_dates(rows[m["train"]])))
        plain = make_model(args.model, trees=int(cfg["models.trees"]), n_jobs=1).fit(X_tr, y_tr)
        plain = CalibratedClassifierCV(FrozenEstimator(plain), method="sigmoid").fit(X_ca, y_ca)
        t = float(np.mean(y_ca == 0) - np.mean(y_ca == 1))
        a, b = (member_proba(mod, X_te) for mod in (ours, plain))
        trend.append(t)
        product.append(float(np.mean(a[:, 0] - a[:, 1])))
        naive.append(float(np.mean(b[:, 0] - b[:, 1])))
        print(f"  {sector:24s} {t:+14.3f}   {product[-1]:+13.3f}   {naive[-1]:+.3f}")
    trend, product, naive = map(np.asarray, (trend, product, naive))
    print(f"  correlation of the test-window tilt with the calibration window's trend: product "
          f"{np.corrcoef(trend, product)[0, 1]:+.2f}, naive {np.corrcoef(trend, naive)[0, 1]:+.2f}")
    print(f"  mean |tilt|: product {np.mean(np.abs(product)):.4f}, naive {np.mean(np.abs(naive)):.4f} "
          f"(mean |calibration trend| {np.mean(np.abs(trend)):.4f})")


if __name__ == "__main__":
    main()

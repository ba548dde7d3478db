"""The six model types, each a scikit-learn-compatible classifier built from a few knobs.

Sizes are modest on purpose: daily cross-sectional signals are weak (see LIBRARY-NOTES), so deep
trees mostly memorise noise, and all 66 models must train in minutes on two cores. Shallow trees
with large leaves, subsampling and moderate boosting rounds are both faster and better calibrated.
"""

from __future__ import annotations

from typing import Any

MODEL_TYPES: tuple[str, ...] = ("xgboost", "lightgbm", "random_forest", "extra_trees", "logistic", "hist_gb")


def make_model(kind: str, *, trees: int = 100, n_jobs: int = 1, seed: int = 0) -> Any:
    """An unfitted classifier of type ``kind``; ``trees`` scales every ensemble's size.

    Heavy libraries are imported here, never at module import.
    """
    trees = max(1, int(trees))
    if kind == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=trees, max_depth=4, learning_rate=0.1, subsample=0.8,
                             colsample_bytree=0.8, min_child_weight=20.0, reg_lambda=5.0, max_bin=64,
                             tree_method="hist", objective="multi:softprob", eval_metric="mlogloss",
                             n_jobs=n_jobs, random_state=seed, verbosity=0)
    if kind == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=trees, num_leaves=15, learning_rate=0.1, subsample=0.8,
                              subsample_freq=1, colsample_bytree=0.8, min_child_samples=100,
                              reg_lambda=5.0, max_bin=63, n_jobs=n_jobs, random_state=seed, verbose=-1)
    if kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=max(1, trees // 2), max_depth=8, min_samples_leaf=100,
                                      max_features="sqrt", max_samples=0.2, n_jobs=n_jobs, random_state=seed)
    if kind == "extra_trees":
        from sklearn.ensemble import ExtraTreesClassifier

        return ExtraTreesClassifier(n_estimators=max(1, trees // 2), max_depth=8, min_samples_leaf=100,
                                    max_features="sqrt", bootstrap=True, max_samples=0.3, n_jobs=n_jobs,
                                    random_state=seed)
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500))
    if kind == "hist_gb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=trees, learning_rate=0.1, max_leaf_nodes=15,
                                              min_samples_leaf=100, l2_regularization=5.0, max_bins=63,
                                              early_stopping=False, random_state=seed)
    raise ValueError(f"unknown model type {kind!r}; choose from {', '.join(MODEL_TYPES)}")


def fit_weighted(model: Any, X: Any, y: Any, weights: Any = None) -> Any:
    """``model.fit`` with per-row ``weights`` (a Pipeline routes them to its last step)."""
    if weights is None:
        return model.fit(X, y)
    steps = getattr(model, "steps", None)
    if steps:
        return model.fit(X, y, **{f"{steps[-1][0]}__sample_weight": weights})
    return model.fit(X, y, sample_weight=weights)

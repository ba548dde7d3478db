"""The champion models, loaded for prediction (what `scan`, `drift` and the report use).

    champions = load_champions(ctx)               # raises ModelMissing when there is none
    feats = compute_features(panel, sectors)      # turbomode.ml.features
    proba = champions.predict(latest(feats))      # prob_buy, prob_sell, prob_hold per row

Each sector has its own champion version. Every file is checked against the sha256 recorded in
the registry before it is unpickled; when a sector's champion files are missing or corrupt, the
newest former champion of that sector whose files are intact is used instead and the problem is
reported in ``Champions.problems`` (scan should show it). A sector with no usable model at all
gets NaN probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from turbomode.errors import ModelMissing

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from turbomode.context import Context
    from turbomode.ml.registry import LoadedSector

PROBA_COLUMNS = ("prob_buy", "prob_sell", "prob_hold")


@dataclass
class Champions:
    sectors: dict[str, "LoadedSector"]
    problems: dict[str, str] = field(default_factory=dict)  # sector -> what is wrong and what was done

    def version(self, sector: str) -> str | None:
        s = self.sectors.get(sector)
        return s.version if s else None

    @property
    def versions(self) -> dict[str, str]:
        return {k: v.version for k, v in self.sectors.items()}

    @property
    def feature_names(self) -> list[str]:
        """Every feature some champion needs, in a stable order."""
        names: list[str] = []
        for s in self.sectors.values():
            names += [n for n in s.feature_names if n not in names]
        return names

    def document(self, sector: str) -> dict[str, Any] | None:
        """The sector champion's ensemble.json (windows, metrics, PSI bins)."""
        s = self.sectors.get(sector)
        return s.document if s else None

    def predict(self, features: "pd.DataFrame") -> "pd.DataFrame":
        """Ensemble probabilities for each row of ``features`` (which needs a 'sector' column).

        Rows whose sector has no model, or with a missing feature value, get NaN.
        """
        import numpy as np
        import pandas as pd

        if "sector" not in features.columns:
            raise ValueError("features need a 'sector' column (compute_features adds it)")
        out = np.full((len(features), len(PROBA_COLUMNS)), np.nan)
        sector_col = features["sector"].to_numpy()
        for sector, model in self.sectors.items():
            rows = np.flatnonzero(sector_col == sector)
            if len(rows) == 0:
                continue
            X = features.iloc[rows][model.feature_names].to_numpy(dtype=np.float32)
            ok = np.isfinite(X).all(axis=1)
            if ok.any():
                out[rows[ok]] = model.predict_proba(np.ascontiguousarray(X[ok]))
        return pd.DataFrame(out, index=features.index, columns=list(PROBA_COLUMNS))


def load_point_in_time(ctx: "Context", as_of: str) -> Champions:
    """Per sector, the newest champion or former champion fitted and chosen on data before ``as_of``."""
    from turbomode.ml.libraries import collector_paused, import_model_libraries

    with collector_paused():
        import_model_libraries()
        return _load_point_in_time(ctx, as_of)


def _load_point_in_time(ctx: "Context", as_of: str) -> Champions:
    """Per sector, the newest champion or former champion fitted and chosen on data before ``as_of``
    (store.models.point_in_time_files); raises ModelMissing when no sector has one usable."""
    from turbomode.ml.registry import CorruptModel, load_sector
    from turbomode.store import models as store

    rule = _label_rule(ctx)
    found = store.point_in_time_files(ctx.connect(), as_of)
    if not found:
        raise ModelMissing(f"no kept model version was fitted and chosen on data before {as_of}; run `turbomode train`")
    loaded: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for sector, (version, files) in sorted(found.items()):
        try:
            loaded[sector] = load_sector(ctx.models_dir, sector, version, files, rule)
        except CorruptModel as exc:
            problems[sector] = (f"{sector}: version {version}, the newest fitted and chosen before {as_of}, is "
                                f"unusable ({exc})")
    if not loaded:
        raise ModelMissing(f"no usable model version fitted before {as_of}: {next(iter(problems.values()))}")
    return Champions(loaded, problems)


def _label_rule(ctx: "Context") -> dict[str, Any]:
    """The configured trade rule: a version fitted for another is not used (registry.load_sector)."""
    from turbomode.ml.labels import LabelParams

    return LabelParams.from_config(ctx.config).as_dict()


def load_champions(ctx: "Context") -> Champions:
    """The champion of every sector that has one; raises ModelMissing when none is usable."""
    from turbomode.ml.libraries import collector_paused, import_model_libraries

    with collector_paused():
        import_model_libraries()
        return _load_champions(ctx)


def _load_champions(ctx: "Context") -> Champions:
    from turbomode.ml.registry import CorruptModel, RuleChanged, load_sector
    from turbomode.store import models as store

    rule = _label_rule(ctx)
    conn = ctx.connect()
    champions = store.champion_files(conn)
    if not champions:
        from turbomode.store.state import model_state, no_champion_text

        raise ModelMissing(no_champion_text(model_state(conn).challenger))
    loaded: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for sector, (version, files) in sorted(champions.items()):
        try:
            loaded[sector] = load_sector(ctx.models_dir, sector, version, files, rule)
            continue
        except CorruptModel as exc:
            reason = str(exc)
            retrain_all = isinstance(exc, RuleChanged)  # the rule changed for every sector at once
        fallback = None
        # an earlier champion was fitted for the old rule too (or recorded none)
        for old_version, old_files in ([] if retrain_all else store.former_champions(conn, sector)):
            try:
                fallback = load_sector(ctx.models_dir, sector, old_version, old_files, rule)
                break
            except CorruptModel:
                continue
        fix = "run `turbomode train`" if retrain_all else f"run `turbomode train --sector \"{sector}\"`"
        if fallback is not None:
            loaded[sector] = fallback
            problems[sector] = (f"{sector}: champion {version} is unusable ({reason}); using the previous "
                                f"champion {fallback.version}; {fix}")
        else:
            problems[sector] = f"{sector}: champion {version} is unusable ({reason}) and no earlier one is; {fix}"
    if not loaded:
        first = next(iter(problems.values()))
        raise ModelMissing(f"no usable champion model: {first}")
    return Champions(loaded, problems)

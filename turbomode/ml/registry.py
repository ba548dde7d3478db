"""Model files: one folder per version, written whole under a temporary name and then renamed.

Layout: ``<home>/models/<version>/<sector-slug>/<model_type>.pkl`` (a calibrated model) and
``.../ensemble.json`` (members, feature names, windows, metrics, the training features' PSI bins).
Every file's sha256 goes into ``model_metadata``; loading recomputes it and refuses a mismatch,
so a truncated or edited file is never used (and never unpickled: only files whose hash the
registry recorded are loaded). Models are plain pickles (protocol 5): a scan loads 66 of them,
and pickle reads sklearn's many small tree arrays about 3x faster than joblib does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from turbomode.ml.train import SectorFit

ENSEMBLE_FILE = "ensemble.json"
FORMAT = 1


class CorruptModel(Exception):
    """A model file is missing, unreadable or does not match its recorded sha256."""


class RuleChanged(CorruptModel):
    """The version was fitted for another trade rule than the one configured now."""


def slug(sector: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", sector.lower()).strip("-") or "sector"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileRecord:
    sector: str
    model_type: str  # one of the six, or 'ensemble'
    path: str  # relative to the models folder, '/'-separated
    sha256: str


def ensemble_document(fit: "SectorFit", version: str, label_rule: dict[str, Any] | None = None) -> dict[str, Any]:
    from turbomode.ml.features import FEATURE_SET

    return {
        "format": FORMAT,
        "feature_set": FEATURE_SET,
        # the trade whose outcome the probabilities are of (ml/labels.py: LabelParams.as_dict)
        **({"label_rule": label_rule} if label_rule is not None else {}),
        "version": version,
        "sector": fit.sector,
        "classes": ["BUY", "SELL", "HOLD"],
        "combine": "mean",
        "members": list(fit.members),
        "calibration": fit.calibration,
        "feature_names": fit.feature_names,
        "windows": {**fit.windows.as_dict(), "data_end": fit.data_end, "decided_end": fit.decided_end},
        "rows": fit.rows,
        "metrics": fit.ensemble_metrics,
        "test_metrics": fit.test_metrics,
        "psi": fit.psi,
    }


def check_models_dir(models_dir: Path) -> None:
    """HomeNotWritable when a file has the models folder's name: said before a train, not after its fits."""
    from turbomode.errors import HomeNotWritable

    models_dir = Path(models_dir)
    if models_dir.exists() and not models_dir.is_dir():
        raise HomeNotWritable(f"cannot write models into {models_dir}: it is a file, not a folder; move it away "
                              "(TurboMode makes the folder) and run the command again")


def write_version(models_dir: Path, version: str, fits: Iterable["SectorFit"],
                  label_rule: dict[str, Any] | None = None) -> list[FileRecord]:
    """Write every sector's files into ``models_dir/version`` atomically (temp folder, then rename);
    ``label_rule``: the trade rule the models were fitted for, recorded in each ensemble document."""
    import pickle

    models_dir = Path(models_dir)
    check_models_dir(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp(models_dir)  # what a killed writer left behind
    final = models_dir / version
    if final.exists():
        raise FileExistsError(f"model version folder {final} already exists")
    tmp = models_dir / f".tmp-{version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    records: list[FileRecord] = []
    try:
        for fit in fits:
            folder = tmp / slug(fit.sector)
            folder.mkdir()
            members = fit.members
            for kind in members:
                # a fit's pieces' bytes as they came back (PickledModels): neither loaded nor pickled again
                data = members.pickled(kind) if hasattr(members, "pickled") else pickle.dumps(members[kind], protocol=5)
                records.append(_write(folder / f"{kind}.pkl", data, fit.sector, kind, version))
            doc = json.dumps(ensemble_document(fit, version, label_rule), indent=1, allow_nan=True).encode("utf-8")
            records.append(_write(folder / ENSEMBLE_FILE, doc, fit.sector, "ensemble", version))
        _fsync_dir(tmp)
        os.replace(tmp, final)
        _fsync_dir(models_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return records


_TEMP = re.compile(r"^\.(?:tmp-.+|pruning)-(\d+)(?:-\d+)?$")


def remove_stale_temp(models_dir: Path) -> list[str]:
    """Delete the temporary folders (``.tmp-<version>-<pid>``, ``.pruning-<pid>-<n>``) of writers
    whose process is gone; a live writer's folder is left alone. Returns the names removed."""
    import psutil

    removed = []
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return removed
    for entry in models_dir.iterdir():
        m = _TEMP.match(entry.name)
        if not m or not entry.is_dir():
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or psutil.pid_exists(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed


def _write(path: Path, data: bytes, sector: str, kind: str, version: str) -> FileRecord:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    rel = f"{version}/{path.parent.name}/{path.name}"
    return FileRecord(sector, kind, rel, sha256(data))


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_verified(models_dir: Path, rel: str, expected_sha: str) -> bytes:
    path = Path(models_dir) / rel
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorruptModel(f"model file {path} is missing") from None
    except OSError as exc:
        raise CorruptModel(f"model file {path} cannot be read ({exc.strerror})") from None
    if sha256(data) != expected_sha:
        raise CorruptModel(f"model file {path} is corrupt (its sha256 does not match the registry)")
    return data


@dataclass
class LoadedSector:
    sector: str
    version: str
    members: dict[str, Any]
    document: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        return list(self.document["feature_names"])

    def predict_proba(self, X: Any) -> Any:
        from turbomode.ml.train import ensemble_proba

        return ensemble_proba(self.members, X)


RULE_WORDS = {"target_multiple": "target {}×ATR", "stop_multiple": "stop {}×ATR", "horizon_days": "{} sessions",
              "atr_days": "ATR over {} days", "fill": "fill at {}", "levels": "levels {}"}


def rule_change(fitted_for: dict[str, Any], now: dict[str, Any]) -> str | None:
    """'target 2.0×ATR, ... where [labels] now says target 3.0×ATR, ...' for the keys that differ; None when
    none does."""
    keys = [k for k in sorted(set(fitted_for) | set(now)) if fitted_for.get(k) != now.get(k)]
    if not keys:
        return None

    def words(rule: dict[str, Any]) -> str:
        return ", ".join(RULE_WORDS.get(k, k + " {}").format(rule.get(k, "unset")) for k in keys)

    return f"{words(fitted_for)}, where turbomode.toml [labels] now says {words(now)}"


def load_sector(models_dir: Path, sector: str, version: str, files: Iterable[dict[str, Any]],
                label_rule: dict[str, Any] | None = None) -> LoadedSector:
    """Load one sector of one version from its registry rows (model_type, path, sha256), verifying each file.

    ``label_rule`` (the configured trade rule, ``LabelParams.as_dict``): a version fitted for another
    rule is unusable — its probabilities are of other trades than the ones a scan would open. Versions
    written before the rule was recorded are taken as they are."""
    import pickle

    by_type = {f["model_type"]: f for f in files}
    if "ensemble" not in by_type:
        raise CorruptModel(f"version {version} has no ensemble record for {sector}")
    ens = by_type.pop("ensemble")
    doc = json.loads(read_verified(models_dir, ens["path"], ens["sha256"]))
    from turbomode.ml.features import FEATURE_SET

    if doc.get("feature_set", 1) != FEATURE_SET:
        raise CorruptModel(f"version {version} was trained on feature set {doc.get('feature_set', 1)} and this "
                           f"TurboMode computes set {FEATURE_SET}; retrain it")
    fitted_for = doc.get("label_rule")
    if label_rule is not None and fitted_for is not None:
        changed = rule_change(fitted_for, label_rule)
        if changed:
            raise RuleChanged(f"it was fitted for trades with {changed}: its probabilities are not those of the "
                              "trades a scan would open now")
    members: dict[str, Any] = {}
    for kind in doc["members"]:
        if kind not in by_type:
            raise CorruptModel(f"version {version} has no {kind} record for {sector}")
        data = read_verified(models_dir, by_type[kind]["path"], by_type[kind]["sha256"])
        try:
            if by_type[kind]["path"].endswith(".joblib"):  # an early format
                import joblib

                members[kind] = joblib.load(io.BytesIO(data))
            else:
                members[kind] = pickle.loads(data)
        except Exception as exc:  # unpickling a file that matched its hash but cannot load here
            raise CorruptModel(f"model file {by_type[kind]['path']} cannot be loaded ({exc})") from None
    return LoadedSector(sector, version, members, doc)

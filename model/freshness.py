"""Whether a results folder still answers its scenario: same scenario, same data, same model.

``run`` writes ``manifest.json`` with the scenario's hash, the hash of the observations its
posterior used and the posterior's key (which also hashes the model's code and package versions). ``compare`` and ``report`` read old folders; before they present a number they
check them against the scenario file and the data as they are now, and refuse a stale
folder (naming what changed) unless asked to rerun it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError


def require_manifest(folder: str | Path) -> dict:
    """The folder's ``manifest.json`` as a dict; :class:`InputError` naming the folder if absent or invalid."""
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no results here (no manifest.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable manifest ({e})") from None
    if not isinstance(manifest, dict) or not {"scenario_hash", "data_hash", "fit_key"} <= set(manifest):
        raise InputError(f"{path}: not a manifest written by `run.py run` (no scenario_hash / data_hash)")
    return manifest


def changed_targets(table, dataset) -> list[str]:
    """Targets whose year, comparator or document threshold in ``dataset`` differs from a written table's.

    ``table`` is a results folder's ``attainment.csv`` (a DataFrame); thresholds a scenario supplied
    (``threshold_from == "scenario"``) are the scenario's, checked by its hash instead.
    """
    import pandas as pd

    tg = dataset.targets
    out = []
    for _, row in table.iterrows():
        tid = row["target_id"]
        if tid not in tg.index:
            out.append(f"{tid} is no longer in targets.csv")
            continue
        now = tg.loc[tid]
        same = (int(row["year"]) == int(now["year"]) and row["comparator"] == now["comparator"])
        if row.get("threshold_from") != "scenario":
            same &= (pd.isna(row["threshold"]) and pd.isna(now["threshold"])) or row["threshold"] == now["threshold"]
        if not same:
            out.append(f"{tid} ({row['comparator']} {row['threshold']} in {row['year']} → "
                       f"{now['comparator']} {now['threshold']} in {now['year']})")
    return out


def stale_reasons(manifest: dict, scenario, dataset, table=None) -> list[str]:
    """What changed since the folder was written: the scenario's definition, or the data its fit uses.

    Parameters
    ----------
    manifest : dict
        From :func:`require_manifest`.
    scenario : Scenario
        As it is now (e.g. the YAML file loaded again).
    dataset : Dataset
        The data as it is now (shipped plus any extra files of the run).
    table : DataFrame, optional
        The folder's ``attainment.csv``: its targets are checked against ``targets.csv`` now.

    Returns
    -------
    list of str
        Empty when the folder is current.
    """
    from .fit import data_hash, fit_key

    reasons = []
    if manifest["scenario_hash"] != scenario.scenario_hash():
        reasons.append(f"the scenario changed since the run (hash {manifest['scenario_hash']} → "
                       f"{scenario.scenario_hash()})")
    now = data_hash(dataset.vintage(scenario.as_of, scenario.data_through).observations)
    if manifest["data_hash"] != now:
        reasons.append(f"the data changed since the run (hash {manifest['data_hash']} → {now})")
    elif manifest.get("fit_key") != (key := fit_key(dataset, scenario.as_of, scenario.data_through,
                                                    **scenario.fit.model_dump())):
        reasons.append(f"the model's code or package versions changed since the run (posterior key "
                       f"{manifest.get('fit_key')} → {key})")
    if table is not None and (moved := changed_targets(table, dataset)):
        reasons.append(f"targets.csv changed since the run: {', '.join(moved[:3])}"
                       + (f" and {len(moved) - 3} more" if len(moved) > 3 else ""))
    return reasons

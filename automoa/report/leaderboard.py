"""The leaderboard and status of a study, as a DataFrame and as JSON-ready data."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd

from automoa.search.record import TrialRecord
from automoa.search.study import read_meta

LEADERBOARD_COLUMNS = ["rank", "trial", "family", "cv_log_loss", "fold_std", "seconds", "state"]
_STATE_ORDER = {"COMPLETE": 0, "PRUNED": 1, "RUNNING": 2, "WAITING": 3, "FAIL": 4}


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _complete(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state == optuna.trial.TrialState.COMPLETE and bool(trial.values)


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: complete trials ranked by CV log loss first, then the others.

    Columns: rank (complete trials only), trial, family, cv_log_loss, fold_std, seconds, state,
    reason (why a trial was pruned or failed).
    """
    rows = []
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.read(trial)
        # A queued trial has no params yet, only the values it was enqueued with.
        params = trial.params or trial.system_attrs.get("fixed_params", {})
        family = params.get("model.family", "?") if record.family is None else record.family
        rows.append(
            {
                "trial": trial.number,
                "family": family,
                # Only a trial that finished every fold has a CV score (a pruned trial's value
                # is Optuna's last intermediate value: a partial CV, not comparable).
                "cv_log_loss": _finite(trial.value) if _complete(trial) else None,
                "fold_std": record.cv_std,
                "seconds": record.seconds,
                "state": trial.state.name,
                "reason": record.reason,
            }
        )
    frame = pd.DataFrame(rows, columns=[*LEADERBOARD_COLUMNS[1:], "reason"])
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype="Int64"))[[*LEADERBOARD_COLUMNS, "reason"]]
    frame["_order"] = frame["state"].map(_STATE_ORDER).fillna(9)
    frame = frame.sort_values(["_order", "cv_log_loss", "trial"], na_position="last")
    complete = frame["state"] == "COMPLETE"
    frame["rank"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame.loc[complete, "rank"] = np.arange(1, int(complete.sum()) + 1)
    return frame.drop(columns="_order").reset_index(drop=True)[[*LEADERBOARD_COLUMNS, "reason"]]


def status(study: optuna.Study) -> dict[str, Any]:
    """The state of a study for scripts (``automoa status --json``).

    Keys: ``study``, ``n_trials`` (trials started; queued ``WAITING`` ones, such as the first
    configurations of a new study not yet run, count only in ``states``), ``states`` (count per
    state), ``prior_cv_log_loss``, ``best``
    (``value``, ``number``, ``family``, ``params``; ``None`` before the first complete trial),
    ``metric``, ``n_splits``, ``space``, ``data`` and ``trials`` (``number``, ``state``,
    ``value``, ``family``, ``seconds``, ``params``, ``fold_scores``, ``reason``).
    """
    meta = read_meta(study)
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best_trial = min(complete, key=lambda t: t.value, default=None)
    best = None
    if best_trial is not None:
        best = {
            "value": best_trial.value,
            "number": best_trial.number,
            "family": TrialRecord.read(best_trial).family,
            "params": best_trial.params,
        }
    return {
        "study": study.study_name,
        "data": meta.data_name,
        "n_trials": sum(t.state != optuna.trial.TrialState.WAITING for t in trials),
        "states": states,
        "prior_cv_log_loss": meta.prior_cv_log_loss,
        "best": best,
        "metric": meta.metric,
        "n_splits": meta.n_splits,
        "space": meta.space_name,
        "trials": [_status_row(t) for t in trials],
    }


def _status_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    record = TrialRecord.read(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": _finite(trial.value) if _complete(trial) else None,
        "family": record.family,
        "seconds": record.seconds,
        "params": trial.params,
        "fold_scores": record.fold_scores,
        "reason": record.reason,
    }

"""Benchmark tables: held-out log loss, normalised scores and ranks per dataset and overall.

Normalisation follows the AutoML Benchmark: per dataset (and outer fold and seed), a score of
0 is the constant ``prior`` and 1 the tuned per-label logistic regression ``logreg``:
``(loss_prior - loss) / (loss_prior - loss_logreg)``; higher is better, above 1 beats the tuned
baseline. A failed run is scored as the prior (0), as AMLB imputes failures with its constant
predictor, and counted in the tables.

Where the data's true probabilities are known (``moa-nonlinear-*``), the tables also give the
Bayes log loss and the gap ratio ``(loss - Bayes) / (prior - Bayes)``: the share of the prior's
excess over the oracle that a system leaves; 0 is the oracle, 1 the prior (a failure counts as
1). Results written before these columns existed read as NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REFERENCE_ZERO, REFERENCE_ONE = "prior", "logreg"
#: Columns a results.csv of an earlier version may lack.
LATER_COLUMNS = ("bayes_log_loss", "gap_ratio")


def variant_name(system: str, budget_seconds: float | None) -> str:
    """``automoa 15m``, ``flaml 60s``, ``logreg``: a system at a budget."""
    if budget_seconds is None or pd.isna(budget_seconds):
        return system
    seconds = float(budget_seconds)
    if seconds >= 60 and seconds % 60 == 0:
        return f"{system} {seconds / 60:g}m"
    return f"{system} {seconds:g}s"


def normalised_results(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with ``variant``, ``imputed_loss`` (failures: the prior's loss) and
    ``normalised`` (NaN where the task has no prior or logreg row to normalise by)."""
    frame = results.copy()
    for column in LATER_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    frame["variant"] = [
        variant_name(s, b) for s, b in zip(frame["system"], frame["budget_seconds"], strict=True)
    ]
    task = ["dataset", "fold", "seed"]
    references = {}
    for name in (REFERENCE_ZERO, REFERENCE_ONE):
        rows = frame[(frame["system"] == name) & frame["test_log_loss"].notna()]
        references[name] = rows.groupby(task)["test_log_loss"].mean().rename(f"ref_{name}")
    for series in references.values():
        frame = frame.join(series, on=task)
    failed = frame["test_log_loss"].isna()
    frame["failed"] = failed
    frame["imputed_loss"] = frame["test_log_loss"].where(~failed, frame[f"ref_{REFERENCE_ZERO}"])
    span = frame[f"ref_{REFERENCE_ZERO}"] - frame[f"ref_{REFERENCE_ONE}"]
    frame["normalised"] = (frame[f"ref_{REFERENCE_ZERO}"] - frame["imputed_loss"]) / span.where(
        span > 0
    )
    # a failure scores as the prior: gap ratio 1 wherever the task has a Bayes loss
    frame["gap_ratio"] = frame["gap_ratio"].where(~(failed & frame["bayes_log_loss"].notna()), 1.0)
    return frame


def dataset_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, variant): mean held-out loss, its std over folds and seeds,
    normalised score, Bayes log loss and gap ratio (NaN without true probabilities), rank
    within the dataset (1 = lowest loss), wall seconds, overrun, failures and runs."""
    frame = normalised_results(results)
    grouped = frame.groupby(["dataset", "variant"], sort=False)
    table = pd.DataFrame(
        {
            "system": grouped["system"].first(),
            "budget_seconds": grouped["budget_seconds"].first(),
            "test_log_loss": grouped["imputed_loss"].mean(),
            "std": grouped["imputed_loss"].std(ddof=0),
            "cv_log_loss": grouped["cv_log_loss"].mean(),
            "normalised": grouped["normalised"].mean(),
            "bayes_log_loss": grouped["bayes_log_loss"].mean(),
            "gap_ratio": grouped["gap_ratio"].mean(),
            "wall_seconds": grouped["wall_seconds"].mean(),
            "max_overrun_seconds": grouped["overrun_seconds"].max(),
            "failures": grouped["failed"].sum().astype(int),
            "runs": grouped.size(),
        }
    ).reset_index()
    table["rank"] = table.groupby("dataset")["test_log_loss"].rank(method="min").astype(int)
    return table.sort_values(["dataset", "rank", "variant"]).reset_index(drop=True)


def overall_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: mean normalised score, mean gap ratio (over the datasets with true
    probabilities) and mean rank over the datasets it ran on."""
    table = dataset_table(results)
    grouped = table.groupby("variant", sort=False)
    overall = pd.DataFrame(
        {
            "mean_normalised": grouped["normalised"].mean(),
            "mean_gap_ratio": grouped["gap_ratio"].mean(),
            "mean_rank": grouped["rank"].mean(),
            "datasets": grouped.size(),
            "failures": grouped["failures"].sum(),
        }
    ).reset_index()
    return overall.sort_values(["mean_rank", "variant"]).reset_index(drop=True)


def best_so_far(anytime: pd.DataFrame) -> pd.DataFrame:
    """The anytime points of each run in time order (duplicates of a re-run dropped)."""
    key = ["dataset", "fold", "system", "budget_seconds", "seed", "seconds"]
    frame = anytime.drop_duplicates(subset=key, keep="last").sort_values(key)
    frame = frame.assign(
        variant=[
            variant_name(s, b)
            for s, b in zip(frame["system"], frame["budget_seconds"], strict=True)
        ]
    )
    return frame.reset_index(drop=True)


def format_loss(value: float) -> str:
    """Five decimals, or ``-``."""
    return "-" if value is None or not np.isfinite(value) else f"{value:.5f}"

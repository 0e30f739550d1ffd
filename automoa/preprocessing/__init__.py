"""Fold-fitted preprocessing steps, their registry, the chain that applies them, its cache."""

# Importing the step modules registers them.
from automoa.preprocessing import (  # noqa: F401
    impute,
    labelpowerset,
    mlsmote,
    onehot,
    oversample,
    pca,
    quantile,
    rowstats,
    standardize,
    variance,
)
from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.cache import StepCache, fold_key
from automoa.preprocessing.chain import FittedChain, PreparedFold, prepare_fold
from automoa.preprocessing.registry import get_step, register, step_names

__all__ = [
    "FittedChain",
    "PreparedFold",
    "Step",
    "StepCache",
    "StepState",
    "fold_key",
    "get_step",
    "prepare_fold",
    "register",
    "step_names",
]

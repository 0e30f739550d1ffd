"""Fitted pipelines of one trial's folds and their archive format, shared by search and bundle."""

from automoa.fitted.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    load_fold_models,
    save_fold_models,
)
from automoa.fitted.arrays import read_array
from automoa.fitted.fold_model import FoldModel

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "FoldModel",
    "load_fold_models",
    "read_array",
    "save_fold_models",
]

"""Fitted pipelines of one trial's folds and their archive format, shared by search and bundle."""

from automoa.fitted.fold_model import FoldModel

__all__ = ["FoldModel"]

"""Model families: the base contract, the registry, and the built-in families."""

from automoa.models import linear, mlp, prior, tabnet, xgboost  # noqa: F401  (registers the families)
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.fit_context import ConstantLabels, FitContext
from automoa.models.registry import family_names, get_family, register, restore

__all__ = [
    "ConstantLabels",
    "FitContext",
    "FittedModel",
    "ModelFamily",
    "ModelState",
    "family_names",
    "get_family",
    "register",
    "restore",
]

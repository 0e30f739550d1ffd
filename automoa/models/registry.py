"""Explicit registry of model families."""

from __future__ import annotations

from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.registry import Registry

_FAMILIES: Registry[type[ModelFamily]] = Registry("model family")

register = _FAMILIES.register
family_names = _FAMILIES.names
get_family = _FAMILIES.get


def restore(state: ModelState) -> FittedModel:
    """Restore a fitted model from its saved state."""
    return get_family(state.family).fitted_class.from_state(state)

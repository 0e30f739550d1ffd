"""Explicit registry of model families."""

from __future__ import annotations

import difflib

from automoa.exceptions import SearchSpaceError
from automoa.models.base import FittedModel, ModelFamily, ModelState

_FAMILIES: dict[str, type[ModelFamily]] = {}


def register(cls: type[ModelFamily]) -> type[ModelFamily]:
    """Class decorator that registers a model family under ``cls.name``."""
    if cls.name in _FAMILIES and _FAMILIES[cls.name] is not cls:
        raise ValueError(f"model family {cls.name!r} is already registered")
    _FAMILIES[cls.name] = cls
    return cls


def family_names() -> tuple[str, ...]:
    """Names of all registered families, sorted."""
    return tuple(sorted(_FAMILIES))


def get_family(name: str) -> type[ModelFamily]:
    """The family class registered under ``name``.

    Raises:
        SearchSpaceError: for an unknown name, with the closest known names.
    """
    try:
        return _FAMILIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _FAMILIES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(family_names())
        raise SearchSpaceError(
            f"unknown model family {name!r}{hint}; known families: {known}"
        ) from None


def restore(state: ModelState) -> FittedModel:
    """Restore a fitted model from its saved state."""
    return get_family(state.family).fitted_class.from_state(state)

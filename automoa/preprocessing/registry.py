"""Explicit registry of preprocessing steps."""

from __future__ import annotations

import difflib

from automoa.exceptions import SearchSpaceError
from automoa.preprocessing.base import Step

_STEPS: dict[str, type[Step]] = {}


def register(cls: type[Step]) -> type[Step]:
    """Class decorator that registers a step under ``cls.name``."""
    if cls.name in _STEPS and _STEPS[cls.name] is not cls:
        raise ValueError(f"preprocessing step {cls.name!r} is already registered")
    _STEPS[cls.name] = cls
    return cls


def step_names() -> tuple[str, ...]:
    """Names of all registered steps, sorted."""
    return tuple(sorted(_STEPS))


def get_step(name: str) -> type[Step]:
    """The step class registered under ``name``.

    Raises:
        SearchSpaceError: for an unknown name, with the closest known names.
    """
    try:
        return _STEPS[name]
    except KeyError:
        close = difflib.get_close_matches(name, _STEPS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SearchSpaceError(
            f"unknown preprocessing step {name!r}{hint}; known steps: {', '.join(step_names())}"
        ) from None

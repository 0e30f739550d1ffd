"""A small explicit registry: name -> class, with "did you mean" errors."""

from __future__ import annotations

import difflib
from typing import Generic, TypeVar

from automoa.exceptions import SearchSpaceError

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Classes registered under their ``name`` attribute.

    Args:
        kind: what is registered, for error messages (``"model family"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Class decorator that registers ``cls`` under ``cls.name``."""
        name = cls.name  # type: ignore[attr-defined]
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._classes[name] = cls
        return cls

    def names(self) -> tuple[str, ...]:
        """Registered names, sorted."""
        return tuple(sorted(self._classes))

    def get(self, name: str) -> T:
        """The class registered under ``name``.

        Raises:
            SearchSpaceError: for an unknown name, with the closest known name.
        """
        try:
            return self._classes[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._classes, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(self.names())
            raise SearchSpaceError(f"unknown {self.kind} {name!r}{hint}; known: {known}") from None

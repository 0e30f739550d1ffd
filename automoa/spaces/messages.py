"""Wording shared by the space's error messages: a did-you-mean hint and a short rendering."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


def did_you_mean(word: object, options: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` hint for the closest option, or ``""``."""
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def show(value: object) -> str:
    """A short one-line rendering of a value for error messages (YAML spelling)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    text = repr(value).replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."

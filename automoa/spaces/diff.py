"""Readable differences between two stored search spaces (to refuse resuming a changed study)."""

from __future__ import annotations

import difflib
import json


def _pretty(text: str) -> list[str]:
    try:
        return json.dumps(json.loads(text), sort_keys=True, indent=2).splitlines()
    except (json.JSONDecodeError, TypeError):
        return str(text).splitlines()


def space_diff(
    old_json: str, new_json: str, old_label: str = "stored space", new_label: str = "new space"
) -> str:
    """A unified diff of two spaces' JSON forms, pretty-printed with sorted keys.

    Args:
        old_json: the space stored with the study (:meth:`SearchSpace.to_json`).
        new_json: the space given now.
        old_label: header of the old side.
        new_label: header of the new side.

    Returns:
        The diff (lines joined with newlines), or ``""`` when the spaces are the same.
        Text that is not JSON is compared line by line as is.
    """
    lines = difflib.unified_diff(
        _pretty(old_json), _pretty(new_json), fromfile=old_label, tofile=new_label, lineterm=""
    )
    return "\n".join(lines)


def _changes(old: object, new: object, path: str, out: list[str]) -> None:
    """Append ``path: change`` for each difference, stopping at added or removed subtrees."""

    def short(value: object) -> str:
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:37] + "..."

    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if key == "description":
                continue  # prose, not part of what is searched
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"{child}: removed")
            elif key not in old:
                out.append(f"{child}: added")
            else:
                _changes(old[key], new[key], child, out)
    elif old != new:
        out.append(f"{path or '(root)'}: {short(old)} -> {short(new)}")


def space_changes(old_json: str, new_json: str, limit: int = 4) -> str:
    """The differences of two spaces on one line: ``path: old -> new`` for each change.

    Args:
        old_json: the space stored with the study.
        new_json: the space given now.
        limit: changes listed; the rest are counted.

    Returns:
        e.g. ``models.linear.params.C.high: 10.0 -> 5.0; models.mlp: added`` or ``""``.
    """
    try:
        old, new = json.loads(old_json), json.loads(new_json)
    except (json.JSONDecodeError, TypeError):
        return "" if old_json == new_json else "the stored space is not readable"
    changes: list[str] = []
    _changes(old, new, "", changes)
    shown = "; ".join(changes[:limit])
    more = len(changes) - limit
    return shown + (f"; and {more} more" if more > 0 else "")

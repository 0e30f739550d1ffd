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

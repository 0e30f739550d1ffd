"""Model families whose optional library is missing, checked before a study starts."""

from __future__ import annotations

import dataclasses
import warnings

from automoa.exceptions import SearchSpaceError
from automoa.models.registry import get_family
from automoa.spaces.schema import SearchSpace


def missing_families(space: SearchSpace) -> dict[str, str]:
    """Family name -> what to install, for the space's families that cannot run here."""
    missing = {}
    for name in space.families:
        requirement = get_family(name).missing_requirement()
        if requirement is not None:
            missing[name] = requirement
    return missing


def without_missing_extras(space: SearchSpace, *, explicit: bool) -> SearchSpace:
    """The space without the families whose library is not installed.

    A shipped space loses them with one warning per family, so a search never spends trials
    that can only fail. A space the user wrote (``explicit``) asked for those families: that is
    an error naming what to install, as is a space left with no family.

    Args:
        space: the loaded space.
        explicit: the user's own space file (not a shipped one).

    Returns:
        ``space`` itself when nothing is missing, else a copy without those families and the
        starts that use them.

    Raises:
        SearchSpaceError: ``explicit`` and a family is missing, or no family is left.
    """
    missing = missing_families(space)
    if not missing:
        return space
    label = space.source or space.name
    if explicit or len(missing) == len(space.families):
        name, requirement = next(iter(missing.items()))
        raise SearchSpaceError(
            f"{label}: model family {name!r} cannot run here ({requirement}); install it or "
            "remove the family from the space"
        )
    for name, requirement in missing.items():
        warnings.warn(
            f"model family {name!r} left out of the {space.name!r} space: {requirement}",
            UserWarning,
            stacklevel=2,
        )
    return dataclasses.replace(
        space,
        families={k: v for k, v in space.families.items() if k not in missing},
        starts=tuple(start for start in space.starts if start.family not in missing),
    )

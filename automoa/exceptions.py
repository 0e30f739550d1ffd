"""Exceptions raised by automoa.

Every error a user can cause derives from :class:`AutomoaError`. The CLI prints its message as
one line and exits with code 2, so messages must name the file, column or key at fault and what
was expected. Errors about bad input values (:class:`DataError`, :class:`ConfigError`) are also
``ValueError``s, as scikit-learn's conventions expect of an estimator given bad input.
"""

from __future__ import annotations

import os
from pathlib import Path


class AutomoaError(Exception):
    """Base class of every error automoa reports to the user."""


class DataError(AutomoaError, ValueError):
    """Input data is missing, malformed or inconsistent."""


class SearchSpaceError(AutomoaError):
    """A search space file is invalid."""


class StudyError(AutomoaError):
    """A study cannot be created, resumed or read (wrong data, changed space, unknown name)."""


class ConfigError(AutomoaError, ValueError):
    """A command-line option or API argument is invalid (e.g. a malformed duration)."""


class BundleError(AutomoaError):
    """An exported model bundle is missing, modified, truncated or of an unknown format."""


class BudgetExhausted(AutomoaError):
    """The wall-clock budget ran out before the work could finish."""


class PruneTrial(AutomoaError):
    """A pipeline configuration cannot be evaluated on this data (e.g. it removes every column).

    The objective turns it into a pruned trial with the message as its reason.
    """


class DataWarning(UserWarning):
    """Data is usable but suspicious (e.g. a target with no positive); shown to the user."""


def check_directory_path(path: str | os.PathLike[str], option: str) -> None:
    """Refuse a path that cannot become a directory because a file is in the way.

    Args:
        path: a directory to create or use (it or its parents may not exist yet).
        option: the option that gave it (``--workdir``), for the message.

    Raises:
        ConfigError: ``path`` or one of its parents is an existing file.
    """
    current = Path(path)
    for candidate in (current, *current.parents):
        if candidate.exists():
            if not candidate.is_dir():
                where = "is a file" if candidate == current else f"is under the file {candidate}"
                raise ConfigError(f"{option} {path}: {where}; expected a directory")
            return


#: Seeds are numpy/torch seeds: 0 <= seed < 2**32.
MAX_SEED = 2**32


def check_seed(seed: object, option: str = "--seed") -> int:
    """The seed as an int, refused unless it is an integer in ``[0, 2**32)``.

    Raises:
        ConfigError: naming ``option``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise ConfigError(f"{option}: expected an integer from 0 to {MAX_SEED - 1}, got {seed!r}")
    return seed

"""Exceptions raised by automoa.

Every error a user can cause derives from :class:`AutomoaError`. The CLI prints its message as
one line and exits with code 2, so messages must name the file, column or key at fault and what
was expected.
"""

from __future__ import annotations


class AutomoaError(Exception):
    """Base class of every error automoa reports to the user."""


class DataError(AutomoaError):
    """Input data is missing, malformed or inconsistent."""


class SearchSpaceError(AutomoaError):
    """A search space file is invalid."""


class StudyError(AutomoaError):
    """A study cannot be created, resumed or read (wrong data, changed space, unknown name)."""


class ConfigError(AutomoaError):
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

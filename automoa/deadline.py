"""The wall-clock budget: one Deadline object passed down to trial, fold and fit."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from automoa.exceptions import BudgetExhausted, ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration such as ``90s``, ``10m``, ``6h``, ``1h30m`` or a bare number.

    Args:
        text: the duration; a bare number means seconds.

    Returns:
        The duration in seconds (> 0).

    Raises:
        ConfigError: if the text is not a positive duration.
    """
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        cleaned = text.strip().lower().replace(" ", "")
        try:
            seconds = float(cleaned)
        except ValueError:
            parts = _DURATION_PART.findall(cleaned)
            if not parts or "".join(n + u for n, u in parts) != cleaned:
                raise ConfigError(
                    f"--budget: expected a duration like 90s, 10m, 6h or 1h30m, got {text!r}"
                ) from None
            seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigError(f"--budget: expected a positive duration, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: ``45s``, ``12m05s``, ``2h03m``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


class Deadline:
    """A point in (monotonic) time after which no work may run.

    Args:
        seconds: the budget from now; ``None`` means no limit.
        clock: the time source (monotonic seconds), replaceable in tests.
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.start = clock()
        self.budget = math.inf if seconds is None else float(seconds)
        self.end = self.start + self.budget

    def remaining(self) -> float:
        """Seconds left (may be negative once passed; ``inf`` without a limit)."""
        return self.end - self._clock()

    def elapsed(self) -> float:
        """Seconds since the deadline was created."""
        return self._clock() - self.start

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def can_fit(self, seconds: float) -> bool:
        """Whether work expected to take ``seconds`` can finish before the deadline."""
        return self.remaining() >= seconds

    def check(self, what: str = "work") -> None:
        """Raise :class:`BudgetExhausted` if the deadline has passed."""
        if self.expired():
            raise BudgetExhausted(f"the budget ran out during {what}")

    def sub(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` earlier than this one (to reserve time for later work)."""
        child = Deadline(None, self._clock)
        child.start = self.start
        child.budget = self.budget - seconds
        child.end = self.end - seconds
        return child

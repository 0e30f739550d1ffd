import math

import pytest

from automoa.deadline import Deadline, format_duration, parse_duration
from automoa.exceptions import BudgetExhausted, ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("6h", 21600),
        ("1h30m", 5400),
        ("2m30s", 150),
        ("45", 45),
        ("1.5h", 5400),
        (" 10M ", 600),
        (12, 12),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5m", "0s", "m10", "10m junk", "inf"])
def test_bad_durations_are_config_errors(text):
    with pytest.raises(ConfigError, match="--budget"):
        parse_duration(text)


def test_format_duration():
    assert format_duration(42) == "42s"
    assert format_duration(725) == "12m05s"
    assert format_duration(7380) == "2h03m"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_deadline_counts_down_with_the_clock():
    clock = FakeClock()
    deadline = Deadline(10, clock=clock)
    assert deadline.remaining() == 10 and not deadline.expired()
    assert deadline.can_fit(9.5) and not deadline.can_fit(10.5)
    clock.now += 4
    assert deadline.elapsed() == 4 and deadline.remaining() == 6
    reserved = deadline.sub(5)
    assert reserved.remaining() == 1
    clock.now += 6
    assert deadline.expired()
    with pytest.raises(BudgetExhausted, match="fold 3"):
        deadline.check("fold 3")


def test_unlimited_deadline():
    deadline = Deadline(None)
    assert math.isinf(deadline.remaining()) and not deadline.expired()

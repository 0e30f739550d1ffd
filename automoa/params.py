"""The parameter-spec vocabulary: what a search space says about one parameter.

A spec is a constant or a range/choice to sample from (see :mod:`automoa.spaces.schema` for
the YAML spelling). It lives at the ground floor so that model families and preprocessing
steps can read and adapt specs (``bind``) without importing :mod:`automoa.spaces`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

#: Scalar values allowed as constants and categorical choices.
Scalar: TypeAlias = str | int | float | bool | None


@dataclass(frozen=True)
class ConstantParam:
    """A fixed value, never suggested to Optuna.

    Attributes:
        value: the value, passed as is to the constructor.
    """

    value: Scalar

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form."""
        return {"type": "constant", "value": self.value}


#: The number type of a range: ``float`` for :class:`FloatParam`, ``int`` for :class:`IntParam`.
Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class RangeParam(Generic[Number]):
    """A numeric range to sample from: what :class:`FloatParam` and :class:`IntParam` share.

    Attributes:
        low: lower bound (inclusive).
        high: upper bound (inclusive).
        default: value used by the default configuration (resolved, never missing).
        log: sample on a log scale.
        step: grid spacing (each subclass says what it means when left out).
    """

    #: The ``type`` of the canonical form (set by each subclass).
    kind: ClassVar[str]

    low: Number
    high: Number
    default: Number
    log: bool = False
    step: Number | None = None

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form."""
        return {
            "type": self.kind,
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            "default": self.default,
        }


@dataclass(frozen=True)
class FloatParam(RangeParam[float]):
    """A float range, suggested with ``trial.suggest_float``.

    Fields as :class:`RangeParam`; ``step`` is the grid spacing, or ``None`` for a continuous
    range.
    """

    kind = "float"


@dataclass(frozen=True)
class IntParam(RangeParam[int]):
    """An integer range, suggested with ``trial.suggest_int``.

    Fields as :class:`RangeParam`; ``step`` is the grid spacing (1 for every integer).
    """

    kind = "int"

    step: int = 1


@dataclass(frozen=True)
class CategoricalParam:
    """A choice among scalars, suggested with ``trial.suggest_categorical``.

    Attributes:
        choices: the choices, in the file's order.
        default: value used by the default configuration (resolved, never missing).
    """

    choices: tuple[Scalar, ...]
    default: Scalar

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form."""
        return {"type": "categorical", "choices": list(self.choices), "default": self.default}


#: Any parameter spec.
ParamSpec: TypeAlias = ConstantParam | FloatParam | IntParam | CategoricalParam

#: The spec classes, for ``isinstance`` checks.
PARAM_SPEC_TYPES = (ConstantParam, FloatParam, IntParam, CategoricalParam)


def is_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (booleans excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_scalar(value: object) -> bool:
    """Whether ``value`` is a valid constant or choice (str, int, finite float, bool, None)."""
    return value is None or isinstance(value, str | bool) or is_number(value)


def same_choice(a: object, b: object) -> bool:
    """Equality that keeps booleans apart from the numbers 0 and 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b

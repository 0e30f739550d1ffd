"""Validation of a parsed space document into a :class:`~automoa.spaces.schema.SearchSpace`.

The format is documented in :mod:`automoa.spaces.schema`. Every problem raises
:class:`~automoa.exceptions.SearchSpaceError` with one line
``<file>: <key.path>: <what is wrong>, expected <what>``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from automoa.config import FIT_ON_CHOICES
from automoa.exceptions import SearchSpaceError
from automoa.losses import LOSS_PARAMS
from automoa.models.registry import family_names, get_family
from automoa.params import (
    PARAM_SPEC_TYPES,
    CategoricalParam,
    ConstantParam,
    FloatParam,
    IntParam,
    ParamSpec,
    is_number,
    is_scalar,
    same_choice,
)
from automoa.preprocessing.registry import get_step, step_names
from automoa.spaces.messages import did_you_mean, show
from automoa.spaces.sampler import start_params
from automoa.spaces.schema import (
    DEFAULT_FIT_ON,
    FamilySpec,
    LossSpec,
    SearchSpace,
    StartSpec,
    StepSpec,
)

_TOP_KEYS = ("name", "description", "preprocessing", "models", "losses", "starts")
_START_KEYS = ("name", "family", "params")
_STEP_KEYS = ("step", "id", "optional", "default_enabled", "fit_on", "params")
_ID = re.compile(r"[A-Za-z0-9_-]+")
_BLOCK_KEYS = ("params",)
_LOSS_KEYS = ("params", "default")
_RANGE_KEYS = ("type", "low", "high", "log", "step", "default")
_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("type", "value"),
    "float": _RANGE_KEYS,
    "int": _RANGE_KEYS,
    "categorical": ("type", "choices", "default"),
}
_SCALAR = "a scalar (string, number, boolean or null)"


def _signature(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(accepted keyword names, required names, takes ``**kwargs``) of a constructor."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return (), (), True
    accepted: list[str] = []
    required: list[str] = []
    var_keyword = False
    for p in parameters:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            accepted.append(p.name)
            if p.default is inspect.Parameter.empty:
                required.append(p.name)
    return tuple(accepted), tuple(required), var_keyword


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


class _Validator:
    """Walks one document; ``label`` names the file in every message, ``note`` (if any) starts
    every problem description."""

    def __init__(self, label: str, note: str = "") -> None:
        self.label = label
        self.note = note

    def fail(self, path: str, message: str) -> NoReturn:
        raise SearchSpaceError(f"{self.label}: {path or '(top level)'}: {self.note}{message}")

    # -- generic checks -------------------------------------------------------------------

    def mapping(self, value: Any, path: str, expected: str) -> Mapping[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"expected {expected}, got {show(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(_join(path, show(key)), f"expected a string key, got {show(key)}")
        return value

    def keys(
        self,
        value: Mapping[str, Any],
        path: str,
        allowed: tuple[str, ...],
        required: dict[str, str],
    ) -> None:
        for key in value:
            if key not in allowed:
                self.fail(
                    _join(path, key),
                    f"unknown key{did_you_mean(key, allowed)}, "
                    f"expected one of {', '.join(allowed)}",
                )
        for key, expected in required.items():
            if key not in value:
                self.fail(_join(path, key), f"missing required key, expected {expected}")

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {show(value)}")
        return value

    def number(self, value: Any, path: str) -> float | int:
        if not is_number(value):
            self.fail(path, f"expected a number, got {show(value)}")
        return value

    def integer(self, value: Any, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"expected an integer, got {show(value)}")
        return value

    def text(self, value: Any, path: str, expected: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected {expected}, got {show(value)}")
        return value

    # -- document ---------------------------------------------------------------------------

    def space(self, data: Any) -> SearchSpace:
        doc = self.mapping(
            data,
            "",
            "a mapping with keys name, models and optionally description, preprocessing, losses, "
            "starts",
        )
        if data is None:
            self.fail("", "the document is empty, expected a mapping with keys name and models")
        self.keys(
            doc,
            "",
            _TOP_KEYS,
            {"name": "a non-empty string", "models": "a mapping of model families to settings"},
        )
        description = doc.get("description")
        if description is not None and not isinstance(description, str):
            self.fail("description", f"expected a string, got {show(description)}")
        space = SearchSpace(
            name=self.text(doc["name"], "name", "a non-empty string"),
            description=description or "",
            steps=self.steps(doc.get("preprocessing"), step_names()),
            families=self.families(doc["models"], family_names()),
            losses=self.losses(doc.get("losses")),
            source=self.label,
        )
        return dataclasses.replace(space, starts=self.starts(doc.get("starts"), space))

    def starts(self, value: Any, space: SearchSpace) -> tuple[StartSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("starts", f"expected a list of configurations, got {show(value)}")
        starts: list[StartSpec] = []
        for i, entry in enumerate(value):
            path = f"starts[{i}]"
            entry = self.mapping(entry, path, "a mapping with keys name, family, params")
            families = ", ".join(space.families)
            self.keys(
                entry,
                path,
                _START_KEYS,
                {"name": "a non-empty string", "family": f"one of the space's models ({families})"},
            )
            name = self.text(entry["name"], f"{path}.name", "a non-empty string")
            if any(start.name == name for start in starts):
                self.fail(f"{path}.name", f"duplicate start name {name!r}, expected distinct names")
            family = entry["family"]
            if family not in space.families:
                self.fail(
                    f"{path}.family",
                    f"not a model of this space{did_you_mean(family, space.families)}, "
                    f"expected one of {families}",
                )
            params = self.mapping(entry.get("params"), f"{path}.params", "parameter values")
            for key, scalar in params.items():
                if not is_scalar(scalar):
                    self.fail(_join(f"{path}.params", key), f"expected {_SCALAR}")
            start = StartSpec(name, family, params)
            start_params(space, start, f"{self.label}: {path}")  # raises on a bad value
            starts.append(start)
        return tuple(starts)

    def steps(self, value: Any, known: tuple[str, ...]) -> tuple[StepSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("preprocessing", f"expected a list of steps, got {show(value)}")
        seen: dict[str, int] = {}
        steps = []
        for i, entry in enumerate(value):
            path = f"preprocessing[{i}]"
            entry = self.mapping(entry, path, "a mapping with keys step, optional, params")
            self.keys(entry, path, _STEP_KEYS, {"step": f"a step name, one of {', '.join(known)}"})
            name = entry["step"]
            if not isinstance(name, str) or name not in known:
                self.fail(
                    f"{path}.step",
                    f"unknown preprocessing step {show(name)}{did_you_mean(name, known)}, "
                    f"expected one of {', '.join(known)}",
                )
            key = self.step_id(entry, path, name)
            if key in seen:
                if "id" in entry:
                    self.fail(
                        f"{path}.id",
                        f"duplicate step id {key!r} (already preprocessing[{seen[key]}]), "
                        "expected an id used by no other entry",
                    )
                self.fail(
                    f"{path}.step",
                    f"duplicate step {name!r} (already preprocessing[{seen[key]}]), "
                    "expected each step at most once, or distinct ids (id: <name>)",
                )
            seen[key] = i
            cls = get_step(name)
            optional = self.boolean(entry.get("optional"), f"{path}.optional", True)
            enabled = self.boolean(entry.get("default_enabled"), f"{path}.default_enabled", True)
            if not optional and not enabled:
                self.fail(
                    f"{path}.default_enabled",
                    "a step with optional: false is always applied, "
                    "expected true or no default_enabled",
                )
            fit_on = self.fit_on(entry.get("fit_on"), f"{path}.fit_on", name, cls)
            params = self.params(
                entry.get("params"), f"{path}.params", f"step {name!r}", *_signature(cls)
            )
            steps.append(StepSpec(name, optional, enabled, params, key, fit_on))
        return tuple(steps)

    def step_id(self, entry: Mapping[str, Any], path: str, name: str) -> str:
        if "id" not in entry:
            return name
        value = entry["id"]
        if not isinstance(value, str) or not _ID.fullmatch(value):
            self.fail(
                f"{path}.id",
                f"expected an id made of letters, digits, _ and - (e.g. {name}_1), "
                f"got {show(value)}",
            )
        return value

    def fit_on(self, value: Any, path: str, name: str, cls: type) -> str:
        if value is None:
            return DEFAULT_FIT_ON
        if value not in FIT_ON_CHOICES:
            self.fail(path, f"expected one of {', '.join(FIT_ON_CHOICES)}, got {show(value)}")
        if value != DEFAULT_FIT_ON:
            reasons = [
                reason
                for attribute, reason in (("supervised", "uses labels"), ("resamples", "adds rows"))
                if getattr(cls, attribute, False)
            ]
            if reasons:
                self.fail(
                    path,
                    f"step {name!r} {' / '.join(reasons)} and can only be fitted on training "
                    f"rows, expected {DEFAULT_FIT_ON}",
                )
        return value

    def families(self, value: Any, known: tuple[str, ...]) -> dict[str, FamilySpec]:
        expected = f"a mapping of model family names ({', '.join(known)}) to their settings"
        value = self.mapping(value, "models", expected)
        if not value:
            self.fail("models", f"no model family, expected at least one of {', '.join(known)}")
        families = {}
        for name, block in value.items():
            path = f"models.{name}"
            if name not in known:
                self.fail(
                    path,
                    f"unknown model family{did_you_mean(name, known)}, "
                    f"expected one of {', '.join(known)}",
                )
            block = self.mapping(block, path, "a mapping with the key params")
            self.keys(block, path, _BLOCK_KEYS, {})
            cls = get_family(name)
            params = self.params(
                block.get("params"), f"{path}.params", f"family {name!r}", *_signature(cls)
            )
            families[name] = FamilySpec(name, params, bool(getattr(cls, "uses_loss", False)))
        return families

    def losses(self, value: Any) -> dict[str, LossSpec]:
        known = tuple(LOSS_PARAMS)
        value = self.mapping(value, "losses", f"a mapping of loss names ({', '.join(known)})")
        losses = {}
        for name, block in value.items():
            path = f"losses.{name}"
            if name not in LOSS_PARAMS:
                self.fail(
                    path,
                    f"unknown loss{did_you_mean(name, known)}, expected one of {', '.join(known)}",
                )
            block = self.mapping(block, path, "a mapping with the keys params and default")
            self.keys(block, path, _LOSS_KEYS, {})
            params = self.params(
                block.get("params"),
                f"{path}.params",
                f"loss {name!r}",
                LOSS_PARAMS[name],
                (),
                False,
            )
            is_default = self.boolean(block.get("default"), f"{path}.default", False)
            marked = [other for other, spec in losses.items() if spec.default]
            if is_default and marked:
                self.fail(
                    f"{path}.default",
                    f"loss {marked[0]!r} is already the default, expected at most one "
                    "loss with default: true",
                )
            losses[name] = LossSpec(name, params, is_default)
        return losses

    # -- parameters -----------------------------------------------------------------------

    def params(
        self,
        value: Any,
        path: str,
        owner: str,
        accepted: tuple[str, ...],
        required: tuple[str, ...],
        any_name: bool,
    ) -> dict[str, ParamSpec]:
        value = self.mapping(value, path, "a mapping of parameter names to parameter specs")
        specs = {}
        for name, raw in value.items():
            if not any_name and name not in accepted:
                expected = f"one of {', '.join(accepted)}" if accepted else "no parameters"
                self.fail(
                    _join(path, name),
                    f"{owner} takes no parameter {name!r}{did_you_mean(name, accepted)}, "
                    f"expected {expected}",
                )
            specs[name] = self.spec(raw, _join(path, name))
        for name in required:
            if name not in value:
                self.fail(
                    _join(path, name),
                    f"missing parameter required by {owner}, expected a parameter spec",
                )
        return specs

    def spec(self, raw: Any, path: str) -> ParamSpec:
        if is_scalar(raw):
            return ConstantParam(raw)
        types = tuple(_SPEC_KEYS)
        if not isinstance(raw, Mapping):
            hint = ""
            if isinstance(raw, list):
                hint = " (for a choice write {type: categorical, choices: [...]})"
            self.fail(
                path, f"expected {_SCALAR} or a mapping with a type key{hint}, got {show(raw)}"
            )
        raw = self.mapping(raw, path, "a parameter spec")
        if "type" not in raw:
            self.fail(
                _join(path, "type"), f"missing required key, expected one of {', '.join(types)}"
            )
        kind = raw["type"]
        if kind not in _SPEC_KEYS:
            self.fail(
                _join(path, "type"),
                f"unknown parameter type {show(kind)}{did_you_mean(kind, types)}, "
                f"expected one of {', '.join(types)}",
            )
        required = {
            "constant": {"value": _SCALAR},
            "float": {"low": "a number", "high": "a number"},
            "int": {"low": "an integer", "high": "an integer"},
            "categorical": {"choices": "a non-empty list of scalars"},
        }[kind]
        self.keys(raw, path, _SPEC_KEYS[kind], required)
        if kind == "constant":
            if not is_scalar(raw["value"]):
                self.fail(_join(path, "value"), f"expected {_SCALAR}, got {show(raw['value'])}")
            return ConstantParam(raw["value"])
        if kind == "float":
            return self.float_spec(raw, path)
        if kind == "int":
            return self.int_spec(raw, path)
        return self.categorical_spec(raw, path)

    def float_spec(self, raw: Mapping[str, Any], path: str) -> FloatParam:
        low = float(self.number(raw["low"], f"{path}.low"))
        high = float(self.number(raw["high"], f"{path}.high"))
        log = self.boolean(raw.get("log"), f"{path}.log", False)
        if low >= high:
            self.fail(f"{path}.low", f"expected a number below high ({high!r}), got {low!r}")
        step = raw.get("step")
        if step is not None:
            step = float(self.number(step, f"{path}.step"))
            if step <= 0:
                self.fail(f"{path}.step", f"expected a positive number, got {step!r}")
            if log:
                self.fail(
                    f"{path}.step", "step and log: true cannot be combined, expected one of them"
                )
            if not _on_grid(high, low, step):
                self.fail(
                    f"{path}.step",
                    f"expected a step that divides high - low ({high - low!r}), got {step!r}",
                )
        if log and low <= 0:
            self.fail(f"{path}.low", f"expected a positive number with log: true, got {low!r}")
        if "default" in raw:
            default = float(self.number(raw["default"], f"{path}.default"))
            if not low <= default <= high:
                self.fail(
                    f"{path}.default", f"expected a number in [{low!r}, {high!r}], got {default!r}"
                )
            if step is not None and not _on_grid(default, low, step):
                self.fail(
                    f"{path}.default",
                    f"expected a value on the grid low + k * step ({low!r} + k * {step!r}), "
                    f"got {default!r}",
                )
        else:
            default = _float_midpoint(low, high, log, step)
        return FloatParam(low, high, default, log, step)

    def int_spec(self, raw: Mapping[str, Any], path: str) -> IntParam:
        low = self.integer(raw["low"], f"{path}.low")
        high = self.integer(raw["high"], f"{path}.high")
        log = self.boolean(raw.get("log"), f"{path}.log", False)
        if low > high:
            self.fail(f"{path}.low", f"expected an integer at most high ({high}), got {low}")
        step = raw.get("step")
        step = 1 if step is None else self.integer(step, f"{path}.step")
        if step < 1:
            self.fail(f"{path}.step", f"expected an integer >= 1, got {step}")
        if log and step != 1:
            self.fail(f"{path}.step", "step and log: true cannot be combined, expected one of them")
        if (high - low) % step:
            self.fail(
                f"{path}.step",
                f"expected a step that divides high - low ({high - low}), got {step}",
            )
        if log and low < 1:
            self.fail(f"{path}.low", f"expected an integer >= 1 with log: true, got {low}")
        if "default" in raw:
            default = self.integer(raw["default"], f"{path}.default")
            if not low <= default <= high or (default - low) % step:
                grid = f" on the grid {low} + k * {step}" if step != 1 else ""
                self.fail(
                    f"{path}.default",
                    f"expected an integer in [{low}, {high}]{grid}, got {default}",
                )
        else:
            default = _int_midpoint(low, high, log, step)
        return IntParam(low, high, default, log, step)

    def categorical_spec(self, raw: Mapping[str, Any], path: str) -> CategoricalParam:
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            self.fail(
                f"{path}.choices", f"expected a non-empty list of scalars, got {show(choices)}"
            )
        for i, choice in enumerate(choices):
            if not is_scalar(choice):
                self.fail(f"{path}.choices[{i}]", f"expected {_SCALAR}, got {show(choice)}")
            if any(same_choice(choice, other) for other in choices[:i]):
                self.fail(
                    f"{path}.choices[{i}]",
                    f"duplicate choice {show(choice)}, expected distinct choices",
                )
        if "default" in raw:
            default = raw["default"]
            if not any(same_choice(default, c) for c in choices):
                self.fail(
                    f"{path}.default",
                    f"expected one of the choices ({', '.join(map(show, choices))}), "
                    f"got {show(default)}",
                )
        else:
            default = choices[0]
        return CategoricalParam(tuple(choices), default)


def _on_grid(value: float, low: float, step: float) -> bool:
    k = (value - low) / step
    return abs(k - round(k)) < 1e-8


def _float_midpoint(low: float, high: float, log: bool, step: float | None) -> float:
    mid = math.sqrt(low * high) if log else (low + high) / 2
    if step is not None:
        mid = min(low + round((mid - low) / step) * step, high)
    return float(f"{mid:.12g}")


def _int_midpoint(low: int, high: int, log: bool, step: int) -> int:
    mid = math.sqrt(low * high) if log else (low + high) / 2
    return min(low + math.floor((mid - low) / step + 0.5) * step, high)


def parse_space(data: Any, label: str) -> SearchSpace:
    """Validate a parsed document (from YAML or JSON) into a :class:`SearchSpace`.

    Args:
        data: the document, as loaded by a YAML or JSON parser.
        label: the file name used in error messages and stored as ``source``.

    Returns:
        The validated, frozen space.

    Raises:
        SearchSpaceError: on the first problem found, as one line naming ``label`` and the key.
    """
    return _Validator(label).space(data)


def _plain(value: Any) -> Any:
    """``value`` with numpy-style numbers turned into int and float (lists element-wise)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def check_params(
    params: Any, label: str, path: str, owner: str, cls: type, note: str = ""
) -> dict[str, ParamSpec]:
    """Re-validate parameter specs built in code (e.g. by ``Step.bind``) with the YAML rules.

    Each spec goes through its canonical form and the same checks as a spec read from a file
    (``low < high``, ``default`` in range and on the grid, distinct choices, ...), and the names
    are checked against ``cls``'s constructor. Integer and real numbers of other types (numpy
    scalars) are converted to ``int`` and ``float``.

    Args:
        params: parameter name -> :data:`~automoa.params.ParamSpec`.
        label: file name for error messages.
        path: key path of the params block (``preprocessing[1].params``).
        owner: what takes the parameters, for messages (``step 'pca'``).
        cls: the class whose constructor takes them.
        note: text put in front of every problem description.

    Returns:
        The validated specs (canonical: defaults resolved, floats as ``float``).

    Raises:
        SearchSpaceError: on the first problem, as one line naming ``label`` and the key.
    """
    check = _Validator(label, note)
    params = check.mapping(params, path, "a mapping of parameter names to parameter specs")
    raw: dict[str, Any] = {}
    for name, spec in params.items():
        if not isinstance(spec, PARAM_SPEC_TYPES):
            check.fail(
                _join(path, name),
                "expected a ConstantParam, FloatParam, IntParam or CategoricalParam, "
                f"got {type(spec).__name__}",
            )
        raw[name] = {key: _plain(value) for key, value in spec.to_dict().items()}
    return check.params(raw, path, owner, *_signature(cls))


def space_from_json(text: str, source: str = "stored space") -> SearchSpace:
    """Rebuild (and re-validate) a space from :meth:`SearchSpace.to_json` (as a study stores it).

    Args:
        text: JSON text.
        source: name used in error messages and stored as :attr:`SearchSpace.source`.

    Returns:
        The validated space.

    Raises:
        SearchSpaceError: if the text is not JSON or not a valid space.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        where = f"line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else "(text)"
        msg = getattr(exc, "msg", str(exc))
        raise SearchSpaceError(
            f"{source}: {where}: invalid JSON ({msg}), expected the output of SearchSpace.to_json()"
        ) from None
    except RecursionError:
        raise SearchSpaceError(
            f"{source}: nested too deeply, expected the output of SearchSpace.to_json()"
        ) from None
    return parse_space(data, source)

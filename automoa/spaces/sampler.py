"""Sampling a :class:`~automoa.spaces.schema.SearchSpace` into a ``PipelineConfig``.

:func:`sample` is pure: it only calls ``trial.suggest_float``, ``suggest_int`` and
``suggest_categorical`` with namespaced names (``model.family``, ``model.<family>.<param>``,
``prep.<id>.enabled``, ``prep.<id>.<param>``, ``loss.name``, ``loss.<loss>.<param>``; ``<id>`` is
a preprocessing entry's id, by default its step name), and only for the branch it takes, so it
works with ``optuna.trial.FixedTrial``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from automoa.config import LossConfig, PipelineConfig, StepConfig
from automoa.exceptions import SearchSpaceError
from automoa.params import ConstantParam, FloatParam, IntParam, ParamSpec, is_number, same_choice
from automoa.spaces.messages import did_you_mean, show
from automoa.spaces.schema import SearchSpace, StartSpec

#: Prefixes of the parameter names this module suggests.
NAMESPACES = ("model.", "prep.", "loss.")


class SuggestTrial(Protocol):
    """The part of ``optuna.trial.BaseTrial`` that :func:`sample` uses."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def _suggest(trial: SuggestTrial, name: str, spec: ParamSpec) -> Any:
    if isinstance(spec, ConstantParam):
        return spec.value
    if isinstance(spec, FloatParam):
        return trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)
    if isinstance(spec, IntParam):
        return trial.suggest_int(name, spec.low, spec.high, step=spec.step, log=spec.log)
    return trial.suggest_categorical(name, list(spec.choices))


def _values(trial: SuggestTrial, prefix: str, params: Mapping[str, ParamSpec]) -> dict[str, Any]:
    return {name: _suggest(trial, f"{prefix}.{name}", spec) for name, spec in params.items()}


def sample(trial: SuggestTrial, space: SearchSpace) -> PipelineConfig:
    """Sample one pipeline configuration.

    Args:
        trial: an Optuna trial (``Trial``, ``FixedTrial``, ...).
        space: the search space.

    Returns:
        The configuration; constants are filled in without being suggested, parameter names in
        it are local (``C``, not ``model.linear.C``). Each step carries its entry's ``id``
        (``None`` when it is the step name) and ``fit_on``.
    """
    family = trial.suggest_categorical("model.family", list(space.families))
    family_spec = space.families[family]
    model_params = _values(trial, f"model.{family}", family_spec.params)
    steps = []
    for step in space.steps:
        if step.optional and not trial.suggest_categorical(
            f"prep.{step.key}.enabled", [False, True]
        ):
            continue
        values = _values(trial, f"prep.{step.key}", step.params)
        steps.append(StepConfig(step.name, values, step.id, step.fit_on))
    loss = None
    if family_spec.uses_loss and space.losses:
        loss_name = trial.suggest_categorical("loss.name", list(space.losses))
        loss = LossConfig(
            loss_name, _values(trial, f"loss.{loss_name}", space.losses[loss_name].params)
        )
    return PipelineConfig(family, model_params, tuple(steps), loss)


def _defaults(prefix: str, params: Mapping[str, ParamSpec]) -> dict[str, Any]:
    return {
        f"{prefix}.{name}": spec.default
        for name, spec in params.items()
        if not isinstance(spec, ConstantParam)
    }


def default_params(space: SearchSpace, family: str) -> dict[str, Any]:
    """The Optuna parameters of the default configuration for one family.

    Each spec's default is used (see :mod:`automoa.spaces.schema` for how a missing default is
    resolved); optional steps are enabled per ``default_enabled``; the loss is the space's
    default loss (:attr:`~automoa.spaces.schema.SearchSpace.default_loss`). Only the
    parameters of that branch are included, so the result can be passed to
    ``study.enqueue_trial`` or ``optuna.trial.FixedTrial``.

    Args:
        space: the search space.
        family: one of the space's families.

    Returns:
        Namespaced parameter name -> value.

    Raises:
        SearchSpaceError: if ``family`` is not in the space.
    """
    if family not in space.families:
        known = tuple(space.families)
        raise SearchSpaceError(
            f"{space.source or space.name}: models.{family}: not a family of this space"
            f"{did_you_mean(family, known)}, expected one of {', '.join(known)}"
        )
    family_spec = space.families[family]
    params: dict[str, Any] = {"model.family": family}
    params.update(_defaults(f"model.{family}", family_spec.params))
    for step in space.steps:
        if step.optional:
            params[f"prep.{step.key}.enabled"] = step.default_enabled
            if not step.default_enabled:
                continue
        params.update(_defaults(f"prep.{step.key}", step.params))
    if family_spec.uses_loss and space.losses:
        loss_name = space.default_loss
        params["loss.name"] = loss_name
        params.update(_defaults(f"loss.{loss_name}", space.losses[loss_name].params))
    return params


def start_params(space: SearchSpace, start: StartSpec, label: str | None = None) -> dict[str, Any]:
    """The Optuna parameters of a known-good start (see the space's ``starts``).

    The family's default configuration, with the start's values in place of the defaults; a
    step the start enables or a loss it selects takes its own defaults for what the start does
    not set. The result holds exactly the parameters of the sampled branch, so it can be passed
    to ``study.enqueue_trial``.

    Args:
        space: the search space (bound to the data or not).
        start: the start.
        label: prefix of error messages (default: the space's source).

    Returns:
        Namespaced parameter name -> value.

    Raises:
        SearchSpaceError: if a value is out of its range, or names no parameter of the branch
            the start selects.
    """
    label = label or (space.source or space.name)
    family_spec = space.families[start.family]
    full: dict[str, Any] = {"model.family": start.family}
    full.update(_defaults(f"model.{start.family}", family_spec.params))
    for step in space.steps:
        if step.optional:
            full[f"prep.{step.key}.enabled"] = step.default_enabled
        full.update(_defaults(f"prep.{step.key}", step.params))
    if family_spec.uses_loss and space.losses:
        full["loss.name"] = space.default_loss
        for name, loss in space.losses.items():
            full.update(_defaults(f"loss.{name}", loss.params))
    full.update(start.params)
    trial = _ParamsTrial(full, label)
    sample(trial, space)
    unused = sorted(name for name in start.params if name not in trial.used)
    if unused:
        raise SearchSpaceError(
            f"{label}: params.{unused[0]}: not a parameter of this start's configuration "
            f"(family {start.family!r}), expected one of {', '.join(sorted(trial.used))}"
        )
    return {name: full[name] for name in full if name in trial.used}


class _ParamsTrial:
    """A strict stand-in for ``FixedTrial``: every value must be present and in range."""

    def __init__(self, params: Mapping[str, Any], label: str) -> None:
        self._params = dict(params)
        self._label = label
        self.used: set[str] = set()

    def _fail(self, name: str, message: str) -> SearchSpaceError:
        return SearchSpaceError(f"{self._label}: params.{name}: {message}")

    def _get(self, name: str, expected: str) -> Any:
        if name not in self._params:
            raise self._fail(name, f"missing, expected {expected}")
        self.used.add(name)
        return self._params[name]

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        expected = f"a number in [{low!r}, {high!r}]" + (f" on a grid of {step!r}" if step else "")
        value = self._get(name, expected)
        ok = is_number(value) and low <= value <= high
        if ok and step is not None:
            k = (value - low) / step
            ok = abs(k - round(k)) < 1e-8
        if not ok:
            raise self._fail(name, f"expected {expected}, got {show(value)}")
        return float(value)

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        expected = f"an integer in [{low}, {high}]" + (f" on a grid of {step}" if step > 1 else "")
        value = self._get(name, expected)
        ok = is_number(value) and float(value).is_integer()
        if ok:
            value = int(value)
            ok = low <= value <= high and (value - low) % step == 0
        if not ok:
            raise self._fail(name, f"expected {expected}, got {show(value)}")
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        expected = f"one of {', '.join(map(show, choices))}"
        value = self._get(name, expected)
        for choice in choices:
            if same_choice(value, choice):
                return choice
        raise self._fail(name, f"expected {expected}, got {show(value)}")


def config_from_params(space: SearchSpace, params: Mapping[str, Any]) -> PipelineConfig:
    """Rebuild the configuration of a trial from its Optuna parameters.

    Args:
        space: the space the trial was sampled from.
        params: the trial's parameters (``trial.params``), e.g. from :func:`default_params`.
            Names outside the ``model.``/``prep.``/``loss.`` namespaces are ignored.

    Returns:
        The configuration :func:`sample` would produce with these parameters.

    Raises:
        SearchSpaceError: if a parameter the branch needs is missing or out of its range, or a
            namespaced parameter belongs to no sampled branch (the space has changed).
    """
    trial = _ParamsTrial(params, space.source or space.name)
    config = sample(trial, space)
    unused = sorted(n for n in params if n.startswith(NAMESPACES) and n not in trial.used)
    if unused:
        raise SearchSpaceError(
            f"{space.source or space.name}: params.{unused[0]}: not a parameter of the sampled "
            f"configuration, expected only {', '.join(sorted(trial.used))}"
        )
    return config

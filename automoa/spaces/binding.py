"""Binding a search space to the data: data-dependent parameter bounds, before sampling."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from automoa.exceptions import SearchSpaceError
from automoa.models.registry import get_family
from automoa.preprocessing.registry import get_step
from automoa.spaces.schema import SearchSpace, StepSpec
from automoa.spaces.validation import check_params

#: The step that makes missing values finite (:mod:`automoa.preprocessing.impute`).
IMPUTE = "impute"


def bind_data(
    space: SearchSpace,
    feature_names: Sequence[str],
    n_train_rows: int,
    n_aux_labels: int = 0,
    has_missing: bool = False,
) -> SearchSpace:
    """Adapt every preprocessing step's and model family's parameter specs to the data.

    Each step's specs are replaced by ``Step.bind(params, feature_names, n_train_rows)`` of its
    registered class (e.g. PCA caps ``n_components`` by the column count of its group), each
    family's by ``ModelFamily.bind(params, n_aux_labels)`` (e.g. the torch families fix
    ``aux: none`` when the data has no auxiliary targets), then re-checked with the rules of
    specs read from a file. Losses are unchanged.
    The result's :meth:`~SearchSpace.to_json` and :attr:`~SearchSpace.hash` show the bound
    values: a study stores the bound space, and the same data binds to the same space. A step
    that keeps the default ``bind`` leaves its specs (and so the hash) as they are.

    Args:
        space: the space as loaded.
        feature_names: the feature columns, in order.
        n_train_rows: the number of training rows.
        n_aux_labels: auxiliary target columns with at least one positive.
        has_missing: the features hold NaN: every pipeline then starts with the ``impute``
            step (median and missing indicators, fitted on the training fold), unless the
            space's first step already is one.

    Returns:
        A new space (same ``source``) with the bound specs.

    Raises:
        SearchSpaceError: if a step's ``bind`` returns an invalid spec, as one line naming the
            step's position, its id and the parameter.
    """
    features = tuple(feature_names)
    label = space.source or space.name
    given = space.steps
    imputes = [i for i, step in enumerate(given) if step.name == IMPUTE]
    if has_missing and not imputes:
        given = (StepSpec(name=IMPUTE, optional=False), *given)
    elif has_missing and (imputes[0] != 0 or given[0].optional):
        raise SearchSpaceError(
            f"{label}: preprocessing[{imputes[0]}]: the data has missing values, so step "
            f"{IMPUTE!r} must come first and not be optional (or leave it out: it is then added)"
        )
    steps = []
    for i, step in enumerate(given):
        cls = get_step(step.name)
        bound = cls.bind(step.params, features, n_train_rows)
        note = (
            f"after binding step {step.key!r} to the data ({_count(len(features), 'feature')}, "
            f"{_count(n_train_rows, 'training row')}), "
        )
        params = check_params(
            bound, label, f"preprocessing[{i}].params", f"step {step.name!r}", cls, note
        )
        steps.append(dataclasses.replace(step, params=params))
    families = {}
    for name, family in space.families.items():
        cls = get_family(name)
        bound = cls.bind(family.params, n_aux_labels)
        aux = _count(n_aux_labels, "auxiliary label")
        note = f"after binding model {name!r} to the data ({aux}), "
        params = check_params(bound, label, f"models.{name}.params", f"model {name!r}", cls, note)
        families[name] = dataclasses.replace(family, params=params)
    return dataclasses.replace(space, steps=tuple(steps), families=families)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

"""Preprocessing entries: step ids, fit_on, and binding a space to the data."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import FixedTrial

from automoa.exceptions import SearchSpaceError
from automoa.preprocessing import Step, register
from automoa.spaces import (
    ConstantParam,
    IntParam,
    ParamSpec,
    SearchSpace,
    StepConfig,
    StepSpec,
    bind_data,
    config_from_params,
    default_params,
    load_space,
    sample,
    space_from_json,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- test-only steps (unique names, registered once for the session) --------------------------


class _Identity(Step):
    """A step that changes nothing (only its class attributes and ``bind`` matter here)."""

    def fit(
        self, X: np.ndarray, Y: np.ndarray | None, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> Step:
        self._feature_names_out = feature_names
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X


@register
class CappedStep(_Identity):
    """``k`` is capped by the number of features (as a numpy integer, to test conversion)."""

    name = "test_capped"

    def __init__(self, k: int = 10, note: str = "") -> None:
        super().__init__(k=k, note=note)

    @classmethod
    def bind(
        cls, params: Mapping[str, ParamSpec], feature_names: tuple[str, ...], n_train_rows: int
    ) -> Mapping[str, ParamSpec]:
        spec = params["k"]
        if not isinstance(spec, IntParam):
            return params
        high = min(spec.high, np.int64(len(feature_names)))
        bound = dataclasses.replace(spec, high=high, default=min(spec.default, high))
        return {**params, "k": bound}


_BAD_BIND: dict[str, Any] = {}


@register
class BadBindStep(_Identity):
    """``bind`` returns whatever a test put in ``_BAD_BIND``."""

    name = "test_bad_bind"

    def __init__(self, k: int = 10) -> None:
        super().__init__(k=k)

    @classmethod
    def bind(
        cls, params: Mapping[str, ParamSpec], feature_names: tuple[str, ...], n_train_rows: int
    ) -> Any:
        return _BAD_BIND["value"]


@register
class SupervisedStep(_Identity):
    name = "test_supervised"
    supervised = True


@register
class ResamplingStep(_Identity):
    name = "test_resampling"
    resamples = True


@register
class SupervisedResamplingStep(_Identity):
    name = "test_mlsmote_like"
    supervised = True
    resamples = True


# -- helpers ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, name: str = "space.yaml") -> SearchSpace:
    return load_space(write(tmp_path, text, name))


def with_prep(*entries: str) -> str:
    """A space with one family and the given flow-style preprocessing entries."""
    lines = "".join(f"  - {entry}\n" for entry in entries)
    return f"name: steps\npreprocessing:\n{lines}models:\n  linear: {{}}\n"


def error(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(SearchSpaceError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    return path, message


TWO_QUANTILES = """\
name: twice
preprocessing:
  - step: quantile
    id: rank_a
    params:
      n_quantiles: {type: int, low: 10, high: 100, default: 50}
      output_distribution: normal
  - step: variance
    optional: false
    params:
      threshold: {type: float, low: 0.0, high: 0.5, default: 0.1}
  - step: quantile
    id: rank-b
    default_enabled: false
    fit_on: train+test
    params:
      n_quantiles: {type: int, low: 200, high: 400, default: 300}
      output_distribution: {type: categorical, choices: [uniform, normal]}
models:
  linear:
    params:
      C: {type: float, low: 1.0e-3, high: 1.0, log: true, default: 0.1}
"""


@pytest.fixture
def twice(tmp_path: Path) -> SearchSpace:
    return load_text(tmp_path, TWO_QUANTILES, "twice.yaml")


# -- ids --------------------------------------------------------------------------------------


def test_same_step_twice_with_ids(twice: SearchSpace) -> None:
    assert [(s.name, s.id, s.key) for s in twice.steps] == [
        ("quantile", "rank_a", "rank_a"),
        ("variance", None, "variance"),
        ("quantile", "rank-b", "rank-b"),
    ]
    assert twice.steps[0].params["n_quantiles"] == IntParam(10, 100, 50)
    assert twice.steps[2].params["n_quantiles"] == IntParam(200, 400, 300)
    assert space_from_json(twice.to_json()) == twice


def test_ids_name_the_optuna_parameters(twice: SearchSpace) -> None:
    params = {
        "model.family": "linear",
        "model.linear.C": 0.5,
        "prep.rank_a.enabled": True,
        "prep.rank_a.n_quantiles": 20,
        "prep.variance.threshold": 0.3,
        "prep.rank-b.enabled": True,
        "prep.rank-b.n_quantiles": 250,
        "prep.rank-b.output_distribution": "uniform",
    }
    trial = FixedTrial(params)
    config = sample(trial, twice)
    assert trial.params == params  # exactly these names were suggested
    assert config.preprocessing == (
        StepConfig("quantile", {"n_quantiles": 20, "output_distribution": "normal"}, "rank_a"),
        StepConfig("variance", {"threshold": 0.3}),
        StepConfig(
            "quantile",
            {"n_quantiles": 250, "output_distribution": "uniform"},
            "rank-b",
            "train+test",
        ),
    )
    assert [s.key for s in config.preprocessing] == ["rank_a", "variance", "rank-b"]
    assert config_from_params(twice, params) == config

    only_b = {**params, "prep.rank_a.enabled": False}
    del only_b["prep.rank_a.n_quantiles"]
    keys = [s.key for s in sample(FixedTrial(only_b), twice).preprocessing]
    assert keys == ["variance", "rank-b"]


def test_default_params_use_ids(twice: SearchSpace) -> None:
    params = default_params(twice, "linear")
    assert params == {
        "model.family": "linear",
        "model.linear.C": 0.1,
        "prep.rank_a.enabled": True,
        "prep.rank_a.n_quantiles": 50,
        "prep.variance.threshold": 0.1,
        "prep.rank-b.enabled": False,
    }
    config = config_from_params(twice, params)
    assert [(s.key, dict(s.params)) for s in config.preprocessing] == [
        ("rank_a", {"n_quantiles": 50, "output_distribution": "normal"}),
        ("variance", {"threshold": 0.1}),
    ]


def test_study_with_ids_round_trips(twice: SearchSpace) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        config = sample(trial, twice)
        study.tell(trial, 0.0)
        assert all(not name.startswith("prep.quantile.") for name in trial.params)
        assert config_from_params(twice, study.trials[-1].params) == config
        for step in config.preprocessing:
            if step.key == "rank-b":
                assert step.params["n_quantiles"] >= 200 and step.fit_on == "train+test"
            if step.key == "rank_a":
                assert step.params["n_quantiles"] <= 100 and step.fit_on == "train"


def test_id_equal_to_the_name_is_the_default(tmp_path: Path) -> None:
    plain = load_text(tmp_path, with_prep("{step: quantile}"), "plain.yaml")
    spelled = load_text(tmp_path, with_prep("{step: quantile, id: quantile}"), "spelled.yaml")
    assert plain == spelled and plain.hash == spelled.hash
    assert spelled.steps[0].id is None and spelled.steps[0].key == "quantile"
    assert "id" not in plain.to_dict()["preprocessing"][0]
    assert StepSpec("pca", id="pca") == StepSpec("pca")
    trial = FixedTrial({"model.family": "linear", "prep.quantile.enabled": True})
    (step,) = sample(trial, plain).preprocessing
    assert step == StepConfig("quantile") and step.id is None


def test_id_is_canonical_and_changes_the_hash(tmp_path: Path) -> None:
    plain = load_text(tmp_path, with_prep("{step: quantile}"), "plain.yaml")
    named = load_text(tmp_path, with_prep("{step: quantile, id: rank}"), "named.yaml")
    assert json.loads(named.to_json())["preprocessing"][0]["id"] == "rank"
    assert named.hash != plain.hash
    again = space_from_json(named.to_json())
    assert again == named and again.hash == named.hash and again.steps[0].key == "rank"


@pytest.mark.parametrize(
    ("entries", "key_path", "fragment"),
    [
        pytest.param(
            ("{step: quantile, id: rank}", "{step: variance}", "{step: quantile, id: rank}"),
            "preprocessing[2].id",
            "duplicate step id 'rank' (already preprocessing[0])",
            id="same-id-twice",
        ),
        pytest.param(
            ("{step: quantile}", "{step: variance, id: quantile}"),
            "preprocessing[1].id",
            "duplicate step id 'quantile' (already preprocessing[0])",
            id="id-equal-to-another-entrys-default",
        ),
        pytest.param(
            ("{step: quantile, id: variance}", "{step: variance}"),
            "preprocessing[1].step",
            "duplicate step 'variance' (already preprocessing[0]), expected each step at most "
            "once, or distinct ids",
            id="default-id-equal-to-an-earlier-id",
        ),
        pytest.param(
            ("{step: quantile, id: a}", "{step: quantile}", "{step: quantile}"),
            "preprocessing[2].step",
            "duplicate step 'quantile' (already preprocessing[1])",
            id="same-step-twice-without-ids",
        ),
    ],
)
def test_duplicate_ids(
    tmp_path: Path, entries: tuple[str, ...], key_path: str, fragment: str
) -> None:
    path, message = error(tmp_path, with_prep(*entries))
    assert message.startswith(f"{path}: {key_path}: "), message
    assert fragment in message, message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("'pca genes'", "'pca genes'", id="space"),
        pytest.param("pca.genes", "'pca.genes'", id="dot"),
        pytest.param("'genes/pca'", "'genes/pca'", id="slash"),
        pytest.param("''", "''", id="empty"),
        pytest.param("3", "3", id="number"),
        pytest.param("null", "null", id="null"),
        pytest.param("[a]", "a list", id="list"),
    ],
)
def test_bad_id(tmp_path: Path, value: str, shown: str) -> None:
    path, message = error(tmp_path, with_prep(f"{{step: quantile, id: {value}}}"))
    assert message == (
        f"{path}: preprocessing[0].id: expected an id made of letters, digits, _ and - "
        f"(e.g. quantile_1), got {shown}"
    )


def test_unknown_entry_key_lists_id_and_fit_on(tmp_path: Path) -> None:
    path, message = error(tmp_path, with_prep("{step: quantile, fit: train}"))
    assert message.startswith(f"{path}: preprocessing[0].fit: unknown key")
    assert "expected one of step, id, optional, default_enabled, fit_on, params" in message


# -- fit_on -----------------------------------------------------------------------------------


def test_fit_on_is_carried_by_the_sampled_config(tmp_path: Path) -> None:
    space = load_text(
        tmp_path,
        with_prep("{step: quantile, fit_on: train+test}", "{step: variance, fit_on: train}"),
    )
    assert [s.fit_on for s in space.steps] == ["train+test", "train"]
    params = {
        "model.family": "linear",
        "prep.quantile.enabled": True,
        "prep.variance.enabled": True,
    }
    config = sample(FixedTrial(params), space)
    assert [(s.name, s.fit_on) for s in config.preprocessing] == [
        ("quantile", "train+test"),
        ("variance", "train"),
    ]
    assert config_from_params(space, params) == config


def test_fit_on_is_canonical_and_changes_the_hash(tmp_path: Path) -> None:
    plain = load_text(tmp_path, with_prep("{step: quantile}"), "plain.yaml")
    explicit = load_text(tmp_path, with_prep("{step: quantile, fit_on: train}"), "explicit.yaml")
    transductive = load_text(
        tmp_path, with_prep("{step: quantile, fit_on: train+test}"), "transductive.yaml"
    )
    assert plain == explicit and plain.to_json() == explicit.to_json()
    assert "fit_on" not in plain.to_dict()["preprocessing"][0]
    assert transductive != plain and transductive.hash != plain.hash
    assert json.loads(transductive.to_json())["preprocessing"][0]["fit_on"] == "train+test"
    again = space_from_json(transductive.to_json())
    assert again == transductive and again.hash == transductive.hash


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        pytest.param("test_supervised", "uses labels", id="supervised"),
        pytest.param("test_resampling", "adds rows", id="resamples"),
        pytest.param("test_mlsmote_like", "uses labels / adds rows", id="both"),
    ],
)
def test_fit_on_train_test_refused_for_label_or_row_steps(
    tmp_path: Path, step: str, reason: str
) -> None:
    path, message = error(
        tmp_path, with_prep("{step: quantile}", f"{{step: {step}, fit_on: train+test}}")
    )
    assert message == (
        f"{path}: preprocessing[1].fit_on: step {step!r} {reason} and can only be fitted on "
        "training rows, expected train"
    )
    # fit_on: train (explicit or not) is fine for them.
    space = load_text(tmp_path, with_prep(f"{{step: {step}, fit_on: train}}"))
    assert space.steps[0].fit_on == "train"


@pytest.mark.parametrize("value", ["test", "'train + test'", "true", "[train]"])
def test_bad_fit_on(tmp_path: Path, value: str) -> None:
    path, message = error(tmp_path, with_prep(f"{{step: quantile, fit_on: {value}}}"))
    assert message.startswith(f"{path}: preprocessing[0].fit_on: expected one of train, ")
    assert "train+test, got" in message


# -- bind_data --------------------------------------------------------------------------------

FEATURES = tuple(f"g-{i}" for i in range(8))

CAPPED = """\
name: capped
preprocessing:
  - step: test_capped
    id: capped_a
    params:
      k: {type: int, low: 2, high: 50, default: 20}
      note: a
  - step: quantile
    params:
      n_quantiles: {type: int, low: 10, high: 100, default: 50}
  - step: test_capped
    id: capped_b
    optional: false
    params:
      k: {type: int, low: 1, high: 4, default: 3}
models:
  linear: {}
"""


#: Columns shaped like the MoA data (772 gene and 100 cell columns): no cap of a shipped space
#: binds on them with enough training rows.
MOA_FEATURES = tuple(f"g-{i}" for i in range(772)) + tuple(f"c-{i}" for i in range(100))


@pytest.mark.parametrize("name", ["default", "fast", "moa"])
def test_spaces_with_default_bind_bind_to_themselves(name: str) -> None:
    space = load_space(name)
    bound = bind_data(space, MOA_FEATURES, 1000, n_aux_labels=5)
    assert bound == space
    assert bound.to_json() == space.to_json() and bound.hash == space.hash
    assert bound.source == space.source


def test_without_auxiliary_labels_the_aux_choice_binds_to_none() -> None:
    bound = bind_data(load_space("moa"), MOA_FEATURES, 1000, n_aux_labels=0)
    for family in ("mlp", "tabnet"):
        assert bound.families[family].params["aux"] == ConstantParam("none")
    assert bound.hash != load_space("moa").hash


@pytest.mark.parametrize(
    ("name", "capped"),
    [
        pytest.param("default", {"pca": IntParam(2, 28, 16, log=True)}, id="default"),
        pytest.param(
            "moa",
            {"pca_genes": IntParam(8, 8, 8), "pca_cells": IntParam(10, 20, 20)},
            id="moa",
        ),
        pytest.param("fast", {}, id="fast"),
    ],
)
def test_shipped_spaces_bound_to_small_data_cap_only_pca(
    name: str, capped: dict[str, IntParam]
) -> None:
    space = load_space(name)
    features = FEATURES + tuple(f"c-{i}" for i in range(20))  # 8 gene and 20 cell columns
    bound = bind_data(space, features, 100)
    assert [s.key for s in bound.steps] == [s.key for s in space.steps]
    for before, after in zip(space.steps, bound.steps, strict=True):
        if after.key in capped:
            assert after.params["n_components"] == capped[after.key]
            others = {k: v for k, v in after.params.items() if k != "n_components"}
            assert others == {k: v for k, v in before.params.items() if k != "n_components"}
        else:
            assert after == before
    assert (bound.hash == space.hash) == (not capped)


def test_bind_caps_a_bound_and_shows_in_the_hash(tmp_path: Path) -> None:
    space = load_text(tmp_path, CAPPED)
    bound = bind_data(space, FEATURES, 100)
    k = bound.steps[0].params["k"]
    assert k == IntParam(2, 8, 8)
    assert type(k.high) is int and type(k.default) is int  # numpy integers converted
    assert bound.steps[0].params["note"] == ConstantParam("a")
    assert bound.steps[1] == space.steps[1]  # quantile keeps the default bind
    assert bound.steps[2] == space.steps[2]  # already below the cap
    assert [s.key for s in bound.steps] == ["capped_a", "quantile", "capped_b"]
    assert space.steps[0].params["k"] == IntParam(2, 50, 20)  # the input is not changed

    assert bound.hash != space.hash
    assert json.loads(bound.to_json())["preprocessing"][0]["params"]["k"]["high"] == 8
    assert bind_data(space, FEATURES, 100).hash == bound.hash  # same data, same space
    assert bind_data(space, FEATURES[:4], 100).hash != bound.hash
    again = space_from_json(bound.to_json())
    assert again == bound and again.hash == bound.hash

    params = default_params(bound, "linear")
    assert params["prep.capped_a.k"] == 8
    assert config_from_params(bound, params).preprocessing[0] == StepConfig(
        "test_capped", {"k": 8, "note": "a"}, "capped_a"
    )
    with pytest.raises(SearchSpaceError, match=r"params\.prep\.capped_a\.k: expected an integer"):
        config_from_params(bound, {**params, "prep.capped_a.k": 9})

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = sample(study.ask(), bound)
        assert all(s.params["k"] <= 8 for s in config.preprocessing if s.name == "test_capped")


def test_bind_producing_an_invalid_spec_names_the_step_and_parameter(tmp_path: Path) -> None:
    space = load_text(tmp_path, CAPPED)
    with pytest.raises(SearchSpaceError) as info:
        bind_data(space, FEATURES[:1], 30)
    assert str(info.value) == (
        f"{space.source}: preprocessing[0].params.k.low: after binding step 'capped_a' to the "
        "data (1 feature, 30 training rows), expected an integer at most high (1), got 2"
    )


@pytest.mark.parametrize(
    ("value", "key_path", "fragment"),
    [
        pytest.param(
            {"k": IntParam(1, 10, 20)},
            "preprocessing[0].params.k.default",
            "expected an integer in [1, 10], got 20",
            id="default-out-of-range",
        ),
        pytest.param(
            {"k": IntParam(1, 10, 5, step=4)},
            "preprocessing[0].params.k.step",
            "expected a step that divides high - low (9), got 4",
            id="step-not-dividing",
        ),
        pytest.param(
            {"k": IntParam(1.5, 10, 5)},  # type: ignore[arg-type]
            "preprocessing[0].params.k.low",
            "expected an integer, got 1.5",
            id="float-bound-for-int",
        ),
        pytest.param(
            {"k": 5},
            "preprocessing[0].params.k",
            "expected a ConstantParam, FloatParam, IntParam or CategoricalParam, got int",
            id="not-a-spec",
        ),
        pytest.param(
            {"j": ConstantParam(3)},
            "preprocessing[0].params.j",
            "step 'test_bad_bind' takes no parameter 'j'",
            id="unknown-parameter",
        ),
        pytest.param(
            [("k", ConstantParam(3))],
            "preprocessing[0].params",
            "expected a mapping of parameter names to parameter specs, got a list",
            id="not-a-mapping",
        ),
    ],
)
def test_bind_results_are_checked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: Any,
    key_path: str,
    fragment: str,
) -> None:
    space = load_text(tmp_path, with_prep("{step: test_bad_bind, id: bad, params: {k: 3}}"))
    monkeypatch.setitem(_BAD_BIND, "value", value)
    with pytest.raises(SearchSpaceError) as info:
        bind_data(space, FEATURES, 10)
    message = str(info.value)
    assert "\n" not in message
    prefix = f"{space.source}: {key_path}: after binding step 'bad' to the data "
    assert message.startswith(prefix), message
    assert fragment in message, message


def test_bind_result_is_canonicalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    space = load_text(tmp_path, with_prep("{step: test_bad_bind, params: {k: 3}}"))
    monkeypatch.setitem(_BAD_BIND, "value", {"k": IntParam(np.int64(1), np.int64(9), 4)})
    bound = bind_data(space, FEATURES, 10)
    assert bound.steps[0].params["k"] == IntParam(1, 9, 4)
    assert [type(v) for v in (bound.steps[0].params["k"].low, bound.steps[0].params["k"].high)] == [
        int,
        int,
    ]
    json.loads(bound.to_json())  # JSON-ready

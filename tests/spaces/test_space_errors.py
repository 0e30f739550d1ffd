"""Invalid spaces: each raises one SearchSpaceError line naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from automoa.exceptions import SearchSpaceError
from automoa.spaces import load_space


def space(models: str = "linear: {}", extra: str = "", name: str = "name: bad") -> str:
    """A small YAML space; ``models`` is the flow mapping of the models block."""
    return f"{name}\nmodels: {{{models}}}\n{extra}"


def prep(*entries: str) -> str:
    return "preprocessing:\n" + "".join(f"  - {entry}\n" for entry in entries)


CASES = [
    # structure
    pytest.param("", "(top level)", "the document is empty", id="empty-document"),
    pytest.param("- a\n- b\n", "(top level)", "expected a mapping", id="document-is-a-list"),
    pytest.param(
        space(extra="model: {}\n"),
        "model",
        "unknown key (did you mean 'models'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(space(name=""), "name", "missing required key", id="missing-name"),
    pytest.param(
        space(name="name: 3"), "name", "expected a non-empty string, got 3", id="bad-name"
    ),
    pytest.param("name: bad\n", "models", "missing required key", id="missing-models"),
    pytest.param(
        space(""), "models", "no model family, expected at least one of", id="empty-models"
    ),
    pytest.param("name: bad\nmodels: [linear]\n", "models", "got a list", id="models-is-a-list"),
    # names checked against the registries
    pytest.param(
        space("lineer: {}"),
        "models.lineer",
        "unknown model family (did you mean 'linear'?), expected one of linear, mlp, prior, tabnet",
        id="unknown-family",
    ),
    pytest.param(
        space("linear: {paramz: {}}"),
        "models.linear.paramz",
        "unknown key (did you mean 'params'?), expected one of params",
        id="unknown-family-key",
    ),
    pytest.param(
        space("linear: {params: {max_iters: 10}}"),
        "models.linear.params.max_iters",
        "family 'linear' takes no parameter 'max_iters' (did you mean 'max_iter'?)",
        id="unknown-model-param",
    ),
    pytest.param(
        space(extra=prep("{step: quantle}")),
        "preprocessing[0].step",
        "unknown preprocessing step 'quantle' (did you mean 'quantile'?)",
        id="unknown-step",
    ),
    pytest.param(
        space(extra=prep("{optional: true}")),
        "preprocessing[0].step",
        "missing required key, expected a step name",
        id="missing-step-name",
    ),
    pytest.param(
        space(extra=prep("{step: quantile}", "{step: standardize}", "{step: quantile}")),
        "preprocessing[2].step",
        "duplicate step 'quantile' (already preprocessing[0])",
        id="duplicate-step",
    ),
    pytest.param(
        space(extra=prep("{step: quantile, params: {n_quantile: 10}}")),
        "preprocessing[0].params.n_quantile",
        "step 'quantile' takes no parameter 'n_quantile' (did you mean 'n_quantiles'?)",
        id="unknown-step-param",
    ),
    pytest.param(
        space(extra=prep("{step: standardize, params: {with_mean: false}}")),
        "preprocessing[0].params.with_mean",
        "expected no parameters",
        id="param-for-step-without-params",
    ),
    pytest.param(
        space(extra=prep("{step: variance, optionl: true}")),
        "preprocessing[0].optionl",
        "unknown key (did you mean 'optional'?)",
        id="unknown-step-key",
    ),
    pytest.param(
        space(extra=prep("{step: variance, optional: yes}")),
        "preprocessing[0].optional",
        "expected true or false, got 'yes'",
        id="optional-not-boolean",
    ),
    pytest.param(
        space(extra=prep("{step: variance, optional: false, default_enabled: false}")),
        "preprocessing[0].default_enabled",
        "a step with optional: false is always applied",
        id="always-on-step-disabled-by-default",
    ),
    pytest.param(
        space(extra="preprocessing: {step: quantile}\n"),
        "preprocessing",
        "expected a list of steps, got a mapping",
        id="preprocessing-not-a-list",
    ),
    pytest.param(
        space(extra="losses: {focall: {}}\n"),
        "losses.focall",
        "unknown loss (did you mean 'focal'?), expected one of bce, smoothed_bce, focal",
        id="unknown-loss",
    ),
    pytest.param(
        space(extra="losses: {focal: {params: {gama: 2.0}}}\n"),
        "losses.focal.params.gama",
        "loss 'focal' takes no parameter 'gama' (did you mean 'gamma'?)",
        id="unknown-loss-param",
    ),
    # parameter specs
    pytest.param(
        space("linear: {params: {C: {type: float, low: 20.0, high: 10.0}}}"),
        "models.linear.params.C.low",
        "expected a number below high (10.0), got 20.0",
        id="float-low-not-below-high",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 1.0, high: 1.0}}}"),
        "models.linear.params.C.low",
        "expected a number below high (1.0), got 1.0",
        id="float-low-equals-high",
    ),
    pytest.param(
        space("linear: {params: {max_iter: {type: int, low: 300, high: 100}}}"),
        "models.linear.params.max_iter.low",
        "expected an integer at most high (100), got 300",
        id="int-low-above-high",
    ),
    pytest.param(
        space("linear: {params: {max_iter: {type: int, low: 10.5, high: 100}}}"),
        "models.linear.params.max_iter.low",
        "expected an integer, got 10.5",
        id="int-with-float-bound",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.0, high: 1.0, log: true}}}"),
        "models.linear.params.C.low",
        "expected a positive number with log: true, got 0.0",
        id="log-with-zero-low",
    ),
    pytest.param(
        space("linear: {params: {max_iter: {type: int, low: 0, high: 100, log: true}}}"),
        "models.linear.params.max_iter.low",
        "expected an integer >= 1 with log: true, got 0",
        id="int-log-with-zero-low",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.1, high: 1.0, log: true, step: 0.1}}}"),
        "models.linear.params.C.step",
        "step and log: true cannot be combined",
        id="log-with-step",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.0, high: 1.0, step: 0.3}}}"),
        "models.linear.params.C.step",
        "expected a step that divides high - low (1.0), got 0.3",
        id="step-not-dividing-range",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.1, high: 1.0, default: 2.0}}}"),
        "models.linear.params.C.default",
        "expected a number in [0.1, 1.0], got 2.0",
        id="float-default-out-of-range",
    ),
    pytest.param(
        space(
            "linear: {params: {max_iter: {type: int, low: 10, high: 100, step: 10, default: 15}}}"
        ),
        "models.linear.params.max_iter.default",
        "expected an integer in [10, 100] on the grid 10 + k * 10, got 15",
        id="int-default-off-grid",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: abc, high: 1.0}}}"),
        "models.linear.params.C.low",
        "expected a number, got 'abc'",
        id="bound-not-a-number",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.1}}}"),
        "models.linear.params.C.high",
        "missing required key, expected a number",
        id="missing-high",
    ),
    pytest.param(
        space("linear: {params: {C: {type: float, low: 0.1, high: 1.0, defualt: 0.5}}}"),
        "models.linear.params.C.defualt",
        "unknown key (did you mean 'default'?), expected one of type, low, high, log, step",
        id="unknown-spec-key",
    ),
    pytest.param(
        space("linear: {params: {C: {type: flaot, low: 0.1, high: 1.0}}}"),
        "models.linear.params.C.type",
        "unknown parameter type 'flaot' (did you mean 'float'?)",
        id="unknown-spec-type",
    ),
    pytest.param(
        space("linear: {params: {C: {low: 0.1, high: 1.0}}}"),
        "models.linear.params.C.type",
        "missing required key, expected one of constant, float, int, categorical",
        id="missing-spec-type",
    ),
    pytest.param(
        space("linear: {params: {class_weight: {type: categorical, choices: []}}}"),
        "models.linear.params.class_weight.choices",
        "expected a non-empty list of scalars, got an empty list",
        id="empty-choices",
    ),
    pytest.param(
        space("linear: {params: {class_weight: {type: categorical, choices: [none, none]}}}"),
        "models.linear.params.class_weight.choices[1]",
        "duplicate choice 'none', expected distinct choices",
        id="duplicate-choices",
    ),
    pytest.param(
        space(
            "linear: {params: {class_weight: "
            "{type: categorical, choices: [none, balanced], default: balancd}}}"
        ),
        "models.linear.params.class_weight.default",
        "expected one of the choices ('none', 'balanced'), got 'balancd'",
        id="categorical-default-not-a-choice",
    ),
    pytest.param(
        space("linear: {params: {class_weight: [none, balanced]}}"),
        "models.linear.params.class_weight",
        "(for a choice write {type: categorical, choices: [...]})",
        id="bare-list-as-spec",
    ),
    pytest.param(
        space("linear: {params: {C: {type: constant}}}"),
        "models.linear.params.C.value",
        "missing required key",
        id="constant-without-value",
    ),
]


def load_message(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SearchSpaceError) as info:
        load_space(path)
    return path, str(info.value)


@pytest.mark.parametrize(("text", "key_path", "fragment"), CASES)
def test_invalid_space(tmp_path: Path, text: str, key_path: str, fragment: str) -> None:
    path, message = load_message(tmp_path, text)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key_path}: "), message
    assert fragment in message, message
    assert "expected" in message


def test_brief_example_message(tmp_path: Path) -> None:
    path = tmp_path / "default.yaml"
    path.write_text(
        space("linear: {params: {C: {type: float, low: 20.0, high: 10.0, log: true}}}"),
        encoding="utf-8",
    )
    with pytest.raises(SearchSpaceError) as info:
        load_space(path)
    assert str(info.value) == (
        f"{path}: models.linear.params.C.low: expected a number below high (10.0), got 20.0"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("name: bad\nmodels: [linear\n", "invalid YAML", id="yaml-syntax-error"),
        pytest.param(
            "name: bad\nmodels:\n  linear: {}\n  linear: {}\n",
            "line 4, column 3: duplicate key 'linear', expected each key once per mapping",
            id="duplicate-yaml-key",
        ),
        pytest.param("name: a\n---\nname: b\n", "invalid YAML", id="two-documents"),
    ],
)
def test_invalid_yaml(tmp_path: Path, text: str, fragment: str) -> None:
    path, message = load_message(tmp_path, text)
    assert "\n" not in message
    assert message.startswith(f"{path}: line "), message
    assert fragment in message, message

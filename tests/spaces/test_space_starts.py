"""Known-good starts: validated at load, enqueued first, skipped when the data rules them out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automoa.exceptions import SearchSpaceError
from automoa.spaces import (
    SearchSpace,
    config_from_params,
    load_space,
    space_from_json,
    start_params,
)

BASE = """\
name: with-starts
preprocessing:
  - step: quantile
    default_enabled: false
    params:
      n_quantiles: {type: int, low: 10, high: 100, default: 50}
  - step: pca
    default_enabled: false
    params:
      group: all
      n_components: {type: int, low: 2, high: 40, default: 8}
      mode: append
models:
  linear:
    params:
      C: {type: float, low: 1.0e-4, high: 1.0, log: true, default: 0.01}
  mlp:
    params:
      hidden_size: {type: int, low: 16, high: 64, default: 32}
      aux: {type: categorical, choices: [none, multitask], default: none}
losses:
  bce: {}
  focal:
    params:
      gamma: {type: float, low: 0.5, high: 3.0, default: 2.0}
"""


def load(tmp_path: Path, starts: str) -> SearchSpace:
    path = tmp_path / "space.yaml"
    path.write_text(BASE + starts, encoding="utf-8")
    return load_space(path)


def test_a_start_overrides_defaults_and_fills_enabled_branches(tmp_path):
    space = load(
        tmp_path,
        """starts:
  - name: focal-mlp
    family: mlp
    params:
      model.mlp.hidden_size: 64
      prep.pca.enabled: true
      loss.name: focal
""",
    )
    params = start_params(space, space.starts[0])
    assert params["model.mlp.hidden_size"] == 64
    assert params["prep.pca.n_components"] == 8  # the enabled step's default
    assert params["loss.focal.gamma"] == 2.0  # the selected loss's default
    assert params["prep.quantile.enabled"] is False
    assert "prep.quantile.n_quantiles" not in params  # a disabled branch has no parameters
    config = config_from_params(space, params)
    assert config.family == "mlp" and config.loss.name == "focal"
    assert [step.name for step in config.preprocessing] == ["pca"]
    assert space_from_json(space.to_json()) == space


def test_spaces_without_starts_keep_their_canonical_form(tmp_path):
    space = load(tmp_path, "")
    assert "starts" not in space.to_dict()


@pytest.mark.parametrize(
    ("starts", "fragment"),
    [
        ("starts: {a: 1}", "starts: expected a list"),
        ("starts:\n  - {family: mlp}", "starts[0].name: missing required key"),
        ("starts:\n  - {name: a, family: xgb}", "starts[0].family: not a model of this space"),
        ("starts:\n  - {name: a, family: mlp, extra: 1}", "starts[0].extra: unknown key"),
        (
            "starts:\n  - {name: a, family: mlp}\n  - {name: a, family: linear}",
            "starts[1].name: duplicate start name 'a'",
        ),
        (
            "starts:\n  - {name: a, family: mlp, params: {model.mlp.hidden_size: 500}}",
            "starts[0]: params.model.mlp.hidden_size: expected an integer in [16, 64]",
        ),
        (
            "starts:\n  - {name: a, family: linear, params: {model.mlp.hidden_size: 32}}",
            "starts[0]: params.model.mlp.hidden_size: not a parameter of this start's",
        ),
        (
            "starts:\n  - {name: a, family: mlp, params: {prep.pca.n_components: 4}}",
            "starts[0]: params.prep.pca.n_components: not a parameter",
        ),
        (
            "starts:\n  - {name: a, family: mlp, params: {model.mlp.hidden_size: [1, 2]}}",
            "starts[0].params.model.mlp.hidden_size: expected a scalar",
        ),
    ],
)
def test_invalid_starts(tmp_path, starts, fragment):
    path = tmp_path / "space.yaml"
    path.write_text(BASE + starts + "\n", encoding="utf-8")
    with pytest.raises(SearchSpaceError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert fragment in message, message


def test_starts_are_enqueued_first_and_skipped_when_binding_rules_them_out(tmp_path):
    from automoa.data.dataset import Dataset
    from automoa.search.controller import run_search
    from automoa.search.settings import SearchSettings
    from automoa.search.study import resolve_location

    space = load(
        tmp_path,
        """starts:
  - name: strong-linear
    family: linear
    params:
      model.linear.C: 0.5
  - name: needs-aux
    family: mlp
    params:
      model.mlp.aux: multitask
""",
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    dataset = Dataset(
        X=X,
        Y=(X[:, :3] > 0.5).astype(np.uint8),
        feature_names=tuple(f"f{i}" for i in range(6)),
        target_names=("a", "b", "c"),
        ids=np.array([str(i) for i in range(120)]),
    )
    location = resolve_location("starts", tmp_path / "work")
    # The data has no auxiliary targets: `aux` binds to `none`, so the second start is skipped.
    with pytest.warns(UserWarning, match="start 'needs-aux' skipped"):
        outcome = run_search(
            dataset,
            location,
            space,
            SearchSettings(budget_seconds=120, n_splits=3, seed=0, max_trials=2),
        )
    first, second = outcome.study.trials[:2]
    assert first.params == {
        "model.family": "linear",
        "model.linear.C": 0.5,
        "prep.quantile.enabled": False,
        "prep.pca.enabled": False,
    }
    # Then the defaults of the families without a start (the linear default would repeat the
    # linear start, so it is dropped): the mlp's, whose start was skipped.
    assert second.params["model.family"] == "mlp"
    assert second.params["model.mlp.hidden_size"] == 32

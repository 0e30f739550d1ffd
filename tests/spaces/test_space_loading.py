"""Loading shipped and custom spaces; canonical JSON, hash, from_json and diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automoa.exceptions import SearchSpaceError
from automoa.spaces import (
    CategoricalParam,
    ConstantParam,
    FloatParam,
    IntParam,
    StepSpec,
    load_space,
    shipped_spaces,
    space_diff,
    space_from_json,
    start_params,
)

SPACE = """\
# a comment that must not matter
name: custom
description: a test space
preprocessing:
  - step: variance
    optional: true
    default_enabled: false
    params:
      threshold: {type: float, low: 0.0, high: 0.5}
  - step: quantile
    params:
      n_quantiles: {type: int, low: 20, high: 200, log: true}
      output_distribution: normal
models:
  linear:
    params:
      C: {type: float, low: 1.0e-4, high: 10.0, log: true, default: 1.0}
      class_weight: {type: categorical, choices: [none, balanced]}
  prior:
    params:
      smoothing: {type: float, low: 0.0, high: 2.0, step: 0.5}
losses:
  bce: {}
  focal:
    params:
      gamma: {type: float, low: 0.5, high: 3.0, default: 2.0}
"""

# The same space: keys reordered, flow/block style swapped, other comments, explicit defaults
# equal to the resolved ones.
SPACE_REORDERED = """\
losses:
  focal: {params: {gamma: {default: 2.0, high: 3.0, low: 0.5, type: float}}}
  bce:
models:
  # families in another order
  prior: {params: {smoothing: {step: 0.5, high: 2, low: 0, type: float, default: 1.0}}}
  linear:
    params:
      class_weight: {choices: [none, balanced], type: categorical, default: none}
      C: {log: true, default: 1, type: float, high: 10, low: 0.0001}
preprocessing:
  - params: {threshold: {type: float, high: 0.5, low: 0, log: false}}
    default_enabled: false
    step: variance
  - step: quantile
    optional: true
    params:
      output_distribution: {type: constant, value: normal}
      n_quantiles: {type: int, high: 200, low: 20, log: true, default: 63}
description: a test space
name: custom
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["default", "fast", "moa"])
def test_shipped_space_loads(name: str) -> None:
    space = load_space(name)
    assert space.name == name
    assert space.source == f"{name}.yaml"
    assert space.description
    assert "linear" in space.families
    assert "prior" not in space.families
    assert space_from_json(space.to_json()) == space
    assert name in shipped_spaces()


OVERSAMPLE = StepSpec(
    "oversample",
    default_enabled=False,
    params={
        "min_positives": IntParam(5, 50, 20, log=True),
        "max_repeats": IntParam(1, 10, 5),
    },
)
MLSMOTE = StepSpec(
    "mlsmote",
    default_enabled=False,
    params={
        "k": IntParam(3, 10, 5),
        "amount": FloatParam(0.25, 3.0, 1.0, log=True),
        "max_new_fraction": ConstantParam(0.5),
    },
)
ROWSTATS = StepSpec(
    "rowstats",
    default_enabled=False,
    params={
        "group": ConstantParam("auto"),
        "stats": CategoricalParam(("mean_std", "all"), "all"),
    },
)
N_QUANTILES = CategoricalParam((50, 100, 200), 100)


def test_shipped_space_contents() -> None:
    default = load_space("default")
    assert [(s.key, s.optional, s.default_enabled) for s in default.steps] == [
        ("onehot", True, False),
        ("quantile", True, True),
        ("pca", True, False),
        ("rowstats", True, False),
        ("variance", True, False),
        ("oversample", True, False),
        ("mlsmote", True, False),
    ]
    assert default.steps == (
        StepSpec("onehot", default_enabled=False, params={"max_levels": ConstantParam(10)}),
        StepSpec(
            "quantile",
            params={"n_quantiles": N_QUANTILES, "output_distribution": ConstantParam("normal")},
        ),
        StepSpec(
            "pca",
            default_enabled=False,
            params={
                "group": ConstantParam("all"),
                "n_components": IntParam(2, 64, 16, log=True),
                "mode": ConstantParam("append"),
            },
        ),
        ROWSTATS,
        StepSpec(
            "variance", default_enabled=False, params={"threshold": FloatParam(0.0, 0.5, 0.0)}
        ),
        OVERSAMPLE,
        MLSMOTE,
    )
    assert all(s.id is None and s.fit_on == "train" for s in default.steps)
    linear = default.families["linear"].params
    assert linear["C_min"] == ConstantParam(1e-4) and linear["C_max"] == ConstantParam(0.3)
    assert linear["path_size"] == ConstantParam(8)
    assert linear["class_weight"] == CategoricalParam(("none", "balanced"), "none")
    assert "C" not in linear and "max_iter" not in linear  # the path replaces both
    assert set(default.families) == {"linear", "mlp", "tabnet", "xgboost"}
    mlp = default.families["mlp"].params
    assert mlp["aux"] == CategoricalParam(("none", "multitask", "pretrain", "two_stage"), "none")
    assert mlp["architecture"] == CategoricalParam(("mlp", "resnet2"), "mlp")
    assert mlp["n_layers"] == IntParam(1, 4, 2)
    assert default.families["tabnet"].params["precision"] == ConstantParam("float32")
    xgb = default.families["xgboost"].params
    assert xgb["n_estimators"] == ConstantParam(500)
    assert xgb["multi_strategy"] == ConstantParam("one_output_per_tree")
    assert xgb["min_child_weight"] == FloatParam(1.0, 100.0, 5.0, log=True)
    assert set(default.losses) == {"bce", "smoothed_bce", "focal"}
    assert set(default.losses["focal"].params) == {"gamma", "alpha"}

    fast = load_space("fast")
    (step,) = fast.steps
    assert step.name == "quantile" and not step.optional
    assert step.params["n_quantiles"] == ConstantParam(100)
    assert fast.families["linear"].params["path_size"] == ConstantParam(8)
    assert fast.families["linear"].params["class_weight"] == ConstantParam("none")
    assert set(fast.families) == {"linear", "mlp", "tabnet", "xgboost"}
    assert fast.families["xgboost"].params["n_estimators"] == ConstantParam(100)
    assert set(fast.losses) == {"bce", "smoothed_bce"}
    assert not fast.starts

    moa = load_space("moa")
    assert set(moa.families) == {"linear", "mlp", "tabnet", "xgboost"}
    assert [start.name for start in moa.starts] == [
        "mlp-fast",
        "mlp-starter",
        "mlp-aux-multitask",
        "resnet2",
        "tabnet-moa",
    ]
    starter = start_params(moa, moa.starts[1])
    assert starter["model.family"] == "mlp"
    assert starter["loss.name"] == "smoothed_bce"
    assert starter["loss.smoothed_bce.smoothing"] == 0.001
    assert starter["prep.pca_genes.enabled"] and starter["prep.pca_cells.enabled"]
    assert starter["prep.variance.enabled"]
    assert moa.families["xgboost"].params["multi_strategy"] == ConstantParam("one_output_per_tree")
    assert [(s.name, s.key, s.optional, s.default_enabled) for s in moa.steps] == [
        ("quantile", "quantile", False, True),
        ("pca", "pca_genes", True, True),
        ("pca", "pca_cells", True, True),
        ("variance", "variance", True, True),
        ("rowstats", "rowstats", True, False),
        ("oversample", "oversample", True, False),
        ("mlsmote", "mlsmote", True, False),
    ]
    assert moa.steps == (
        StepSpec(
            "quantile",
            optional=False,
            params={"n_quantiles": N_QUANTILES, "output_distribution": ConstantParam("normal")},
        ),
        StepSpec(
            "pca",
            id="pca_genes",
            params={
                "group": ConstantParam("g-"),
                "n_components": IntParam(50, 600, 100, step=50),
                "mode": ConstantParam("append"),
            },
        ),
        StepSpec(
            "pca",
            id="pca_cells",
            params={
                "group": ConstantParam("c-"),
                "n_components": IntParam(10, 60, 30, step=10),
                "mode": ConstantParam("append"),
            },
        ),
        StepSpec("variance", params={"threshold": FloatParam(0.5, 0.9, 0.8, step=0.05)}),
        ROWSTATS,
        OVERSAMPLE,
        MLSMOTE,
    )
    assert all(s.fit_on == "train" for s in moa.steps)
    linear = moa.families["linear"].params
    assert linear["C_min"] == ConstantParam(1e-4) and linear["C_max"] == ConstantParam(0.3)
    assert linear["path_size"] == ConstantParam(8)
    assert linear["class_weight"] == ConstantParam("none")
    assert set(moa.losses) == {"bce", "smoothed_bce"}  # focal did not help on MoA


def test_shipped_names_and_paths_agree(tmp_path: Path) -> None:
    assert set(shipped_spaces()) >= {"default", "fast", "moa"}
    shipped = load_space("fast")
    copy = write(tmp_path, Path(str(shipped_path("fast"))).read_text(), "copy.yaml")
    for given in (copy, str(copy)):
        space = load_space(given)
        assert space == shipped
        assert space.hash == shipped.hash
        assert space.source == str(copy)


def shipped_path(name: str) -> Path:
    from importlib.resources import files

    return Path(str(files("automoa.search_spaces").joinpath(f"{name}.yaml")))


def test_canonical_json_is_sorted_and_stable(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, SPACE))
    text = space.to_json()
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert data == space.to_dict()
    assert load_space(write(tmp_path, SPACE, "again.yaml")).to_json() == text
    assert len(space.hash) == 64 and space.hash == load_space(write(tmp_path, SPACE)).hash
    assert "space.yaml" not in text and "comment" not in text


def test_canonical_json_ignores_key_order_comments_and_explicit_defaults(tmp_path: Path) -> None:
    one = load_space(write(tmp_path, SPACE, "one.yaml"))
    two = load_space(write(tmp_path, SPACE_REORDERED, "two.yaml"))
    assert one == two
    assert one.to_json() == two.to_json()
    assert one.hash == two.hash
    assert space_diff(one.to_json(), two.to_json()) == ""


def test_resolved_defaults(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, SPACE))
    assert space.steps[0].params["threshold"].default == 0.25  # midpoint
    assert space.steps[1].params["n_quantiles"].default == 63  # round(sqrt(20 * 200))
    assert space.families["linear"].params["class_weight"].default == "none"  # first choice
    assert space.families["prior"].params["smoothing"].default == 1.0  # on the 0.5 grid
    assert list(space.families) == ["linear", "prior"]


def test_hash_changes_with_a_range_and_diff_shows_it(tmp_path: Path) -> None:
    old = load_space(write(tmp_path, SPACE, "old.yaml"))
    new = load_space(write(tmp_path, SPACE.replace("high: 10.0", "high: 5.0"), "new.yaml"))
    assert old.hash != new.hash
    diff = space_diff(old.to_json(), new.to_json())
    assert diff.startswith("--- stored space\n+++ new space")
    lines = diff.splitlines()
    changed = [line for line in lines[2:] if line.startswith(("-", "+"))]
    assert [line[0] + line[1:].strip() for line in changed] == ['-"high": 10.0,', '+"high": 5.0,']
    assert any('"C": {' in line for line in lines)  # the context names the parameter


def test_from_json_round_trip_and_errors(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, SPACE))
    again = space_from_json(space.to_json())
    assert again == space and again.hash == space.hash
    assert again.source == "stored space"
    assert len({space, again}) == 1  # hashable, consistent with equality
    with pytest.raises(SearchSpaceError, match=r"^stored space: line 1, column 2: invalid JSON"):
        space_from_json("{oops")
    broken = json.loads(space.to_json())
    broken["models"]["linear"]["params"]["C"]["low"] = 100.0
    with pytest.raises(SearchSpaceError, match=r"^study: models\.linear\.params\.C\.low: "):
        space_from_json(json.dumps(broken), source="study")


def test_yaml_12_scalars(tmp_path: Path) -> None:
    text = """\
name: dialect
models:
  linear:
    params:
      C: {type: float, low: 1e-4, high: 1E1, log: true}
      class_weight: {type: categorical, choices: [none, balanced]}
  prior:
    params:
      smoothing: {type: categorical, choices: [yes, no, 1, 1.5, true, null]}
"""
    space = load_space(write(tmp_path, text))
    assert space.families["linear"].params["C"].low == 1e-4
    assert space.families["linear"].params["C"].high == 10.0
    choices = space.families["prior"].params["smoothing"].choices
    assert choices == ("yes", "no", 1, 1.5, True, None)
    assert [type(c) for c in choices] == [str, str, int, float, bool, type(None)]


def test_unknown_shipped_name_suggests_one() -> None:
    with pytest.raises(SearchSpaceError) as info:
        load_space("defualt")
    message = str(info.value)
    assert message.startswith("defualt: unknown search space (did you mean 'default'?)")
    assert "default, fast, moa" in message and "\n" not in message


def test_missing_file_lists_shipped_spaces(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SearchSpaceError) as info:
        load_space(missing)
    message = str(info.value)
    assert message.startswith(f"{missing}: file not found")
    assert "default, fast, moa" in message and "\n" not in message
    with pytest.raises(SearchSpaceError, match="not a file"):
        load_space(tmp_path)


def test_space_diff_of_non_json_text_still_works() -> None:
    assert "+b" in space_diff("a", "b")
    assert space_diff("{}", "{ }") == ""


def test_space_changes_fit_on_one_line(tmp_path: Path) -> None:
    from automoa.spaces import space_changes

    old = load_space(write(tmp_path, SPACE, "old.yaml"))
    new = load_space(write(tmp_path, SPACE.replace("high: 10.0", "high: 5.0"), "new.yaml"))
    changes = space_changes(old.to_json(), new.to_json())
    assert "\n" not in changes and changes.endswith(".high: 10.0 -> 5.0")
    assert space_changes(old.to_json(), old.to_json()) == ""
    many = space_changes(load_space("fast").to_json(), load_space("default").to_json(), limit=2)
    assert many.count(";") == 2 and many.endswith("more") and "description" not in many

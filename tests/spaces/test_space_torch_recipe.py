"""The torch recipe of the shipped spaces and the `default: true` mark of a loss."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import FixedTrial

from automoa.exceptions import SearchSpaceError
from automoa.spaces import (
    ConstantParam,
    FloatParam,
    LossConfig,
    SearchSpace,
    default_params,
    load_space,
    sample,
    space_from_json,
    start_params,
)

SHIPPED = ("default", "fast", "moa")
TORCH = ("mlp", "tabnet")

LOSSES = """\
name: losses
models:
  mlp:
    params:
      hidden_size: 16
losses:
  bce: {{}}
  focal:
    params:
      gamma: {{type: float, low: 0.5, high: 3.0, default: 2.0}}
  smoothed_bce:{mark}
    params:
      smoothing: {{type: float, low: 1.0e-4, high: 2.0e-3, log: true, default: 1.0e-3}}
{starts}"""


def write(tmp_path: Path, mark: str = "", starts: str = "") -> SearchSpace:
    path = tmp_path / "losses.yaml"
    path.write_text(LOSSES.format(mark=mark, starts=starts), encoding="utf-8")
    return load_space(path)


@pytest.mark.parametrize("family", TORCH)
@pytest.mark.parametrize("name", SHIPPED)
def test_a_family_default_trial_trains_with_smoothed_bce(name: str, family: str) -> None:
    space = load_space(name)
    config = sample(FixedTrial(default_params(space, family)), space)
    assert config.loss == LossConfig("smoothed_bce", {"smoothing": 0.001})
    # The winners' optimiser: Adam with a coupled L2 of 1e-5.
    assert config.model_params["optimizer"] == "adam"
    assert config.model_params["l2"] == pytest.approx(1e-5)
    # Seed averaging is left to the final ensemble's members.
    assert space.families[family].params["n_seeds"] == ConstantParam(1)


@pytest.mark.parametrize("name", SHIPPED)
def test_smoothing_stays_near_the_winners_value(name: str) -> None:
    smoothing = load_space(name).losses["smoothed_bce"].params["smoothing"]
    assert smoothing == FloatParam(1e-4, 2e-3, 1e-3, log=True)


def test_focal_is_an_option_of_default_only() -> None:
    assert "focal" in load_space("default").losses
    assert "focal" not in load_space("moa").losses
    assert "focal" not in load_space("fast").losses


@pytest.mark.parametrize("name", ["default", "moa"])
def test_adamw_decay_range_acts(name: str) -> None:
    for family in TORCH:
        params = load_space(name).families[family].params
        assert params["optimizer"].choices == ("adam", "adamw")
        # Decoupled decay shrinks the weights by lr x decay per step: below 1e-2 it does nothing.
        assert params["weight_decay"].low >= 1e-2


def test_the_marked_loss_is_the_default(tmp_path: Path) -> None:
    unmarked = write(tmp_path)
    assert unmarked.default_loss == "bce"  # the first in sorted order
    assert default_params(unmarked, "mlp")["loss.name"] == "bce"
    assert "default" not in unmarked.to_dict()["losses"]["bce"]  # old spaces keep their hash

    marked = write(tmp_path, "\n    default: true")
    assert marked.default_loss == "smoothed_bce"
    assert marked.hash != unmarked.hash
    params = default_params(marked, "mlp")
    assert params["loss.name"] == "smoothed_bce"
    assert params["loss.smoothed_bce.smoothing"] == pytest.approx(1e-3)
    again = space_from_json(marked.to_json())
    assert again == marked and again.default_loss == "smoothed_bce"


def test_a_start_without_a_loss_takes_the_default_loss(tmp_path: Path) -> None:
    starts = "starts:\n  - {name: wide, family: mlp, params: {}}\n"
    space = write(tmp_path, "\n    default: true", starts)
    assert start_params(space, space.starts[0])["loss.name"] == "smoothed_bce"


@pytest.mark.parametrize(
    ("mark", "fragment"),
    [
        ("\n    default: yes", "losses.smoothed_bce.default: expected true or false"),
        (
            "\n    defualt: true",
            "losses.smoothed_bce.defualt: unknown key (did you mean 'default'?)",
        ),
    ],
)
def test_bad_default_marks(tmp_path: Path, mark: str, fragment: str) -> None:
    with pytest.raises(SearchSpaceError) as info:
        write(tmp_path, mark)
    assert fragment in str(info.value)


def test_at_most_one_default_loss(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\nmodels: {mlp: {}}\nlosses:\n  bce: {default: true}\n"
        "  smoothed_bce: {default: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(SearchSpaceError, match=r"losses\.smoothed_bce\.default: .*'bce'"):
        load_space(path)

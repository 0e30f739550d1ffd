"""Sampling spaces into PipelineConfigs: FixedTrial branches, studies, defaults, round trips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import FixedTrial

from automoa.exceptions import SearchSpaceError
from automoa.losses import LOSS_PARAMS
from automoa.models import get_family
from automoa.preprocessing import get_step
from automoa.spaces import (
    LossConfig,
    PipelineConfig,
    SearchSpace,
    StepConfig,
    config_from_params,
    default_params,
    load_space,
    sample,
    space_from_json,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

TWO_FAMILIES = """\
name: two
preprocessing:
  - step: standardize
    optional: false
  - step: quantile
    default_enabled: false
    params:
      n_quantiles: {type: int, low: 10, high: 100, step: 10}
      output_distribution: {type: categorical, choices: [normal, uniform]}
models:
  linear:
    params:
      C: {type: float, low: 1.0e-3, high: 1.0, log: true}
      max_iter: 50
  prior:
    params:
      smoothing: {type: float, low: 0.0, high: 2.0, step: 0.5, default: 1.0}
losses:
  smoothed_bce:
    params:
      smoothing: {type: float, low: 0.0, high: 0.01, default: 0.001}
      pos_weight: null
  focal:
    params:
      gamma: {type: float, low: 0.5, high: 3.0, default: 2.0}
      alpha: 0.25
"""
NAME = re.compile(
    r"^(model\.family|model\.\w+\.\w+|prep\.\w+\.enabled|prep\.\w+\.\w+|loss\.name|loss\.\w+\.\w+)$"
)


@pytest.fixture
def two(tmp_path: Path) -> SearchSpace:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_FAMILIES, encoding="utf-8")
    return load_space(path)


@pytest.fixture
def linear_uses_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend ``linear`` trains with a loss (no registered family does yet)."""
    monkeypatch.setattr(get_family("linear"), "uses_loss", True)


def config(family: str, model: dict[str, Any], steps=(), loss=None) -> PipelineConfig:
    """``steps``: ``(name, params)`` or ``(name, params, id)`` tuples."""
    return PipelineConfig(
        family,
        model,
        tuple(StepConfig(*step) for step in steps),
        LossConfig(*loss) if loss else None,
    )


#: The shipped spaces' ``linear`` constants: each label chooses its C from this path.
LINEAR_PATH = {"C_min": 1e-4, "C_max": 0.3, "path_size": 8}
#: Every optional step of the shipped ``default`` space switched off.
DEFAULT_OFF = {
    f"prep.{key}.enabled": False
    for key in ("onehot", "quantile", "pca", "rowstats", "variance", "oversample", "mlsmote")
}
#: Every optional step of the shipped ``moa`` space switched off.
MOA_OFF = {
    f"prep.{key}.enabled": False
    for key in ("pca_genes", "pca_cells", "variance", "rowstats", "oversample", "mlsmote")
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {
                "model.family": "linear",
                "model.linear.class_weight": "balanced",
                "prep.onehot.enabled": True,
                "prep.quantile.enabled": True,
                "prep.quantile.n_quantiles": 50,
                "prep.pca.enabled": True,
                "prep.pca.n_components": 8,
                "prep.rowstats.enabled": True,
                "prep.rowstats.stats": "mean_std",
                "prep.variance.enabled": True,
                "prep.variance.threshold": 0.1,
                "prep.oversample.enabled": True,
                "prep.oversample.min_positives": 10,
                "prep.oversample.max_repeats": 3,
                "prep.mlsmote.enabled": True,
                "prep.mlsmote.k": 4,
                "prep.mlsmote.amount": 2.0,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "balanced"},
                [
                    ("onehot", {"max_levels": 10}),
                    ("quantile", {"n_quantiles": 50, "output_distribution": "normal"}),
                    ("pca", {"group": "all", "n_components": 8, "mode": "append"}),
                    ("rowstats", {"group": "auto", "stats": "mean_std"}),
                    ("variance", {"threshold": 0.1}),
                    ("oversample", {"min_positives": 10, "max_repeats": 3}),
                    ("mlsmote", {"k": 4, "amount": 2.0, "max_new_fraction": 0.5}),
                ],
            ),
            id="all-steps",
        ),
        pytest.param(
            {
                **DEFAULT_OFF,
                "model.family": "linear",
                "model.linear.class_weight": "balanced",
                "prep.variance.enabled": True,
                "prep.variance.threshold": 0.1,
                "prep.quantile.enabled": True,
                "prep.quantile.n_quantiles": 50,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "balanced"},
                [
                    ("quantile", {"n_quantiles": 50, "output_distribution": "normal"}),
                    ("variance", {"threshold": 0.1}),
                ],
            ),
            id="both-steps",
        ),
        pytest.param(
            {
                **DEFAULT_OFF,
                "model.family": "linear",
                "model.linear.class_weight": "none",
                "prep.quantile.enabled": True,
                "prep.quantile.n_quantiles": 200,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "none"},
                [("quantile", {"n_quantiles": 200, "output_distribution": "normal"})],
            ),
            id="quantile-only",
        ),
        pytest.param(
            {
                **DEFAULT_OFF,
                "model.family": "linear",
                "model.linear.class_weight": "none",
                "prep.variance.enabled": True,
                "prep.variance.threshold": 0.0,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "none"},
                [("variance", {"threshold": 0.0})],
            ),
            id="variance-only",
        ),
        pytest.param(
            {
                **DEFAULT_OFF,
                "model.family": "linear",
                "model.linear.class_weight": "none",
            },
            config("linear", {**LINEAR_PATH, "class_weight": "none"}),
            id="no-steps",
        ),
    ],
)
def test_fixed_trial_branches_of_default(params: dict[str, Any], expected: PipelineConfig) -> None:
    space = load_space("default")
    trial = FixedTrial(params)
    assert sample(trial, space) == expected
    assert trial.params == params  # exactly the branch's parameters were suggested
    assert config_from_params(space, params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {
                "model.family": "linear",
                "prep.quantile.n_quantiles": 200,
                "prep.pca_genes.enabled": True,
                "prep.pca_genes.n_components": 450,
                "prep.pca_cells.enabled": True,
                "prep.pca_cells.n_components": 20,
                "prep.variance.enabled": True,
                "prep.variance.threshold": 0.65,
                "prep.rowstats.enabled": True,
                "prep.rowstats.stats": "all",
                "prep.oversample.enabled": True,
                "prep.oversample.min_positives": 50,
                "prep.oversample.max_repeats": 10,
                "prep.mlsmote.enabled": True,
                "prep.mlsmote.k": 10,
                "prep.mlsmote.amount": 0.25,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "none"},
                [
                    ("quantile", {"n_quantiles": 200, "output_distribution": "normal"}),
                    ("pca", {"group": "g-", "n_components": 450, "mode": "append"}, "pca_genes"),
                    ("pca", {"group": "c-", "n_components": 20, "mode": "append"}, "pca_cells"),
                    ("variance", {"threshold": 0.65}),
                    ("rowstats", {"group": "auto", "stats": "all"}),
                    ("oversample", {"min_positives": 50, "max_repeats": 10}),
                    ("mlsmote", {"k": 10, "amount": 0.25, "max_new_fraction": 0.5}),
                ],
            ),
            id="all-steps",
        ),
        pytest.param(
            {
                **MOA_OFF,
                "model.family": "linear",
                "prep.quantile.n_quantiles": 50,
                "prep.pca_cells.enabled": True,
                "prep.pca_cells.n_components": 60,
                "prep.mlsmote.enabled": True,
                "prep.mlsmote.k": 3,
                "prep.mlsmote.amount": 1.0,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "none"},
                [
                    ("quantile", {"n_quantiles": 50, "output_distribution": "normal"}),
                    ("pca", {"group": "c-", "n_components": 60, "mode": "append"}, "pca_cells"),
                    ("mlsmote", {"k": 3, "amount": 1.0, "max_new_fraction": 0.5}),
                ],
            ),
            id="cells-and-mlsmote",
        ),
        pytest.param(
            {
                **MOA_OFF,
                "model.family": "linear",
                "prep.quantile.n_quantiles": 100,
            },
            config(
                "linear",
                {**LINEAR_PATH, "class_weight": "none"},
                [("quantile", {"n_quantiles": 100, "output_distribution": "normal"})],
            ),
            id="quantile-only",
        ),
    ],
)
def test_fixed_trial_branches_of_moa(params: dict[str, Any], expected: PipelineConfig) -> None:
    space = load_space("moa")
    trial = FixedTrial(params)
    assert sample(trial, space) == expected
    assert trial.params == params  # exactly the branch's parameters were suggested
    assert config_from_params(space, params) == expected


def test_fixed_trial_branches_with_two_families(two: SearchSpace) -> None:
    prior = {"model.family": "prior", "model.prior.smoothing": 1.5, "prep.quantile.enabled": False}
    assert sample(FixedTrial(prior), two) == config(
        "prior", {"smoothing": 1.5}, [("standardize", {})]
    )
    linear = {
        "model.family": "linear",
        "model.linear.C": 0.1,
        "prep.quantile.enabled": True,
        "prep.quantile.n_quantiles": 30,
        "prep.quantile.output_distribution": "uniform",
    }
    expected = config(
        "linear",
        {"C": 0.1, "max_iter": 50},
        [("standardize", {}), ("quantile", {"n_quantiles": 30, "output_distribution": "uniform"})],
    )
    assert sample(FixedTrial(linear), two) == expected  # no loss: linear has no uses_loss


def test_fixed_trial_loss_branches(two: SearchSpace, linear_uses_loss: None) -> None:
    two = space_from_json(two.to_json())  # uses_loss is read from the registry on load
    base = {"model.family": "linear", "model.linear.C": 0.1, "prep.quantile.enabled": False}
    focal = {**base, "loss.name": "focal", "loss.focal.gamma": 1.0}
    assert sample(FixedTrial(focal), two).loss == LossConfig("focal", {"alpha": 0.25, "gamma": 1.0})
    smoothed = {**base, "loss.name": "smoothed_bce", "loss.smoothed_bce.smoothing": 0.005}
    assert sample(FixedTrial(smoothed), two).loss == LossConfig(
        "smoothed_bce", {"pos_weight": None, "smoothing": 0.005}
    )
    # prior does not use a loss: no loss.name is suggested even though the space has losses.
    prior = {"model.family": "prior", "model.prior.smoothing": 0.0, "prep.quantile.enabled": False}
    trial = FixedTrial(prior)
    assert sample(trial, two).loss is None
    assert "loss.name" not in trial.params


def test_fixed_trial_needs_only_the_branch_parameters() -> None:
    space = load_space("default")
    params = {
        "model.family": "linear",
        "model.linear.C": 1.0,
        "model.linear.class_weight": "none",
        "model.linear.max_iter": 100,
    }
    with pytest.raises(ValueError, match=r"prep\.onehot\.enabled"):
        sample(FixedTrial(params), space)
    # Every enabled flag of the branch is needed too: one missing is reported by name.
    flags = {**params, **DEFAULT_OFF}
    del flags["prep.variance.enabled"]
    with pytest.raises(ValueError, match=r"prep\.variance\.enabled"):
        sample(FixedTrial(flags), space)
    # ... but not the parameters of a disabled step.
    assert sample(FixedTrial({**params, **DEFAULT_OFF}), space).preprocessing == ()


def test_single_family_and_single_loss_are_still_suggested(
    tmp_path: Path, linear_uses_loss: None
) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nmodels:\n  linear: {}\nlosses:\n  bce:\n", encoding="utf-8")
    space = load_space(path)
    trial = FixedTrial({"model.family": "linear", "loss.name": "bce"})
    assert sample(trial, space) == config("linear", {}, loss=("bce", {}))
    assert trial.params == {"model.family": "linear", "loss.name": "bce"}


def test_constants_are_not_suggested() -> None:
    space = load_space("fast")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"model.family": "linear"})
    trial = study.ask()
    cfg = sample(trial, space)
    assert set(trial.params) == {"model.family"}  # every linear parameter is a constant
    assert cfg.preprocessing == (
        StepConfig("quantile", {"n_quantiles": 100, "output_distribution": "normal"}),
    )
    assert cfg.model_params["class_weight"] == "none"


def check_config(cfg: PipelineConfig, space: SearchSpace) -> None:
    """Every part of the config can be constructed by the registries."""
    assert cfg.family in space.families
    get_family(cfg.family)(**cfg.model_params)
    keys = [step.key for step in cfg.preprocessing]
    assert len(set(keys)) == len(keys)
    assert keys == [s.key for s in space.steps if s.key in keys]  # order kept
    for spec in space.steps:
        assert spec.optional or spec.key in keys
    by_key = {spec.key: spec for spec in space.steps}
    for step in cfg.preprocessing:
        assert (step.name, step.id, step.fit_on) == (
            by_key[step.key].name,
            by_key[step.key].id,
            by_key[step.key].fit_on,
        )
        get_step(step.name)(**step.params)
    if space.families[cfg.family].uses_loss and space.losses:
        assert cfg.loss is not None and cfg.loss.name in space.losses
        assert set(cfg.loss.params) <= set(LOSS_PARAMS[cfg.loss.name])
    else:
        assert cfg.loss is None


@pytest.mark.parametrize("space_name", ["default", "fast", "moa", "two", "two-with-loss"])
def test_real_study_samples_valid_configs(
    space_name: str, two: SearchSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    if space_name.startswith("two"):
        if space_name == "two-with-loss":
            monkeypatch.setattr(get_family("linear"), "uses_loss", True)
            two = space_from_json(two.to_json())  # re-read uses_loss from the registry
        space = two
    else:
        space = load_space(space_name)
    configs: list[PipelineConfig] = []

    def objective(trial: optuna.Trial) -> float:
        cfg = sample(trial, space)
        check_config(cfg, space)
        assert all(NAME.match(name) for name in trial.params), trial.params
        assert config_from_params(space, trial.params) == cfg
        configs.append(cfg)
        return float(len(cfg.preprocessing)) + sum(
            v for v in cfg.model_params.values() if isinstance(v, float)
        )

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    study.optimize(objective, n_trials=30)
    assert len(configs) == 30
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if space_name.startswith("two"):
        assert {c.family for c in configs} == {"linear", "prior"}
    if space_name == "two-with-loss":
        assert {c.loss.name for c in configs if c.family == "linear"} == {"focal", "smoothed_bce"}


@pytest.mark.parametrize("space_name", ["default", "fast", "moa"])
def test_default_params_enqueued_reproduce_the_defaults(space_name: str) -> None:
    space = load_space(space_name)
    params = default_params(space, "linear")
    expected = config_from_params(space, params)
    seen: list[PipelineConfig] = []

    def objective(trial: optuna.Trial) -> float:
        seen.append(sample(trial, space))
        return 0.0

    study = optuna.create_study()
    study.enqueue_trial(params)
    study.optimize(objective, n_trials=1)
    assert seen == [expected]
    assert study.trials[0].params == params


def test_default_params_of_default_space() -> None:
    space = load_space("default")
    assert default_params(space, "linear") == {
        "model.family": "linear",
        "model.linear.class_weight": "none",
        "prep.onehot.enabled": False,
        "prep.quantile.enabled": True,
        "prep.quantile.n_quantiles": 100,
        "prep.pca.enabled": False,
        "prep.rowstats.enabled": False,
        "prep.variance.enabled": False,
        "prep.oversample.enabled": False,
        "prep.mlsmote.enabled": False,
    }
    assert config_from_params(space, default_params(space, "linear")) == config(
        "linear",
        {**LINEAR_PATH, "class_weight": "none"},
        [("quantile", {"n_quantiles": 100, "output_distribution": "normal"})],
    )


def test_default_params_resolved_defaults_and_loss(
    two: SearchSpace, linear_uses_loss: None
) -> None:
    space = space_from_json(two.to_json())
    assert default_params(space, "linear") == {
        "model.family": "linear",
        "model.linear.C": pytest.approx(10**-1.5),  # geometric midpoint
        "prep.quantile.enabled": False,
        "loss.name": "focal",  # first in sorted order
        "loss.focal.gamma": 2.0,
    }
    assert default_params(space, "prior") == {
        "model.family": "prior",
        "model.prior.smoothing": 1.0,
        "prep.quantile.enabled": False,
    }


def test_default_params_unknown_family() -> None:
    with pytest.raises(SearchSpaceError, match=r"models\.lineer: .*did you mean 'linear'"):
        default_params(load_space("default"), "lineer")
    with pytest.raises(SearchSpaceError, match="not a family of this space"):
        default_params(load_space("default"), "prior")


def test_config_from_params_round_trip() -> None:
    space = load_space("moa")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(10):
        trial = study.ask()
        cfg = sample(trial, space)
        study.tell(trial, 0.0)
        stored = study.trials[-1].params
        rebuilt = config_from_params(space, stored)
        assert rebuilt == cfg
        assert PipelineConfig.from_dict(rebuilt.to_dict()) == cfg
    # Parameters outside automoa's namespaces (e.g. a seed) are ignored.
    params = {**default_params(space, "linear"), "seed": 7}
    assert config_from_params(space, params) == config_from_params(space, params | {"seed": 8})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"prep.variance.threshold": None},
            r"params\.prep\.variance\.threshold: missing, expected a number in \[0\.5, 0\.9\]",
            id="missing",
        ),
        pytest.param(
            {"prep.variance.threshold": 5.0},
            r"params\.prep\.variance\.threshold: expected a number in \[0\.5, 0\.9\] on a "
            r"grid of 0\.05, got 5\.0",
            id="out-of-range",
        ),
        pytest.param(
            {"prep.pca_genes.n_components": 700},
            r"params\.prep\.pca_genes\.n_components: expected an integer in \[50, 600\] on a "
            r"grid of 50, got 700",
            id="int-out-of-range",
        ),
        pytest.param(
            {"prep.pca_genes.n_components": 75},
            r"params\.prep\.pca_genes\.n_components: expected an integer in \[50, 600\] on a "
            r"grid of 50, got 75",
            id="int-off-grid",
        ),
        pytest.param(
            {"prep.variance.threshold": 0.62},
            r"params\.prep\.variance\.threshold: expected a number in \[0\.5, 0\.9\] on a "
            r"grid of 0\.05, got 0\.62",
            id="float-off-grid",
        ),
        pytest.param(
            {"prep.quantile.n_quantiles": 10},
            r"params\.prep\.quantile\.n_quantiles: expected one of 50, 100, 200, got 10",
            id="categorical-not-a-choice",
        ),
        pytest.param(
            {"model.family": "catboost"},
            r"params\.model\.family: expected one of 'linear', 'mlp', 'tabnet', 'xgboost', "
            r"got 'catboost'",
            id="unknown-choice",
        ),
        pytest.param(
            {"prep.variance.enabled": 1},
            r"params\.prep\.variance\.enabled: expected one of false, true, got 1",
            id="bool-is-not-int",
        ),
        pytest.param(
            {"prep.standardize.enabled": True},
            r"params\.prep\.standardize\.enabled: not a parameter of the sampled configuration",
            id="stale-parameter",
        ),
    ],
)
def test_config_from_params_errors(change: dict[str, Any], message: str) -> None:
    space = load_space("moa")
    params = default_params(space, "linear")
    for name, value in change.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    with pytest.raises(SearchSpaceError, match=r"^moa\.yaml: " + message) as info:
        config_from_params(space, params)
    assert "\n" not in str(info.value)

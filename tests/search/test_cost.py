"""The cost model: fold seconds from data size and configuration, calibrated on observed folds."""

from __future__ import annotations

import optuna
import pytest

from automoa.config import PipelineConfig, StepConfig
from automoa.search.cost import CostModel, DataShape, reference_fold_seconds

SHAPE = DataShape(n_rows=19000, n_features=875, n_labels=206, n_aux=402, n_splits=5)
LINEAR = PipelineConfig("linear", {"path_size": 8})
MLP = PipelineConfig(
    "mlp", {"hidden_size": 1024, "n_layers": 2, "epochs": 20, "n_seeds": 1, "aux": "none"}
)


def test_cost_grows_with_the_data_and_the_configuration() -> None:
    small = DataShape(n_rows=1900, n_features=875, n_labels=206)
    assert reference_fold_seconds(MLP, SHAPE) > 5 * reference_fold_seconds(MLP, small)
    longer = PipelineConfig("mlp", {**MLP.model_params, "epochs": 40})
    seeds = PipelineConfig("mlp", {**MLP.model_params, "n_seeds": 3})
    base = reference_fold_seconds(MLP, SHAPE)
    assert reference_fold_seconds(longer, SHAPE) == pytest.approx(2 * base, rel=0.05)
    assert reference_fold_seconds(seeds, SHAPE) == pytest.approx(3 * base, rel=0.05)
    shallow = PipelineConfig("xgboost", {"n_estimators": 100, "max_depth": 2})
    deep = PipelineConfig("xgboost", {"n_estimators": 300, "max_depth": 6})
    assert reference_fold_seconds(deep, SHAPE) > 8 * reference_fold_seconds(shallow, SHAPE)
    # Appended PCA components widen what the model sees.
    pca = StepConfig("pca", {"n_components": 400, "mode": "append"})
    wide = PipelineConfig("linear", LINEAR.model_params, (pca,))
    assert reference_fold_seconds(wide, SHAPE) > 1.3 * reference_fold_seconds(LINEAR, SHAPE)


def test_small_batches_cost_more_per_epoch_than_their_products() -> None:
    # Measured on 2 cores (benchmarks/results/mlp_sizes.md): 2 x 1024 at batch 128 took ~3x the
    # seconds per epoch of the same network at batch 512; the products alone are equal.
    def epoch_cost(batch_size: int) -> float:
        params = {**MLP.model_params, "batch_size": batch_size, "epochs": 1}
        return reference_fold_seconds(PipelineConfig("mlp", params), SHAPE)

    assert 2.0 < epoch_cost(128) / epoch_cost(512) < 4.0
    assert epoch_cost(1024) < epoch_cost(512)
    # A narrower network is cheaper at the same batch size, but not in proportion to its
    # products: the per-step work stays.
    narrow = {**MLP.model_params, "hidden_size": 256, "batch_size": 512}
    wide = {**MLP.model_params, "batch_size": 512}
    ratio = reference_fold_seconds(PipelineConfig("mlp", narrow), SHAPE) / reference_fold_seconds(
        PipelineConfig("mlp", wide), SHAPE
    )
    assert 0.2 < ratio < 0.6


def test_resnet2_and_deeper_networks_cost_more_per_step() -> None:
    # resnet2's second head doubles the work of each row and of each step: measured 2.5x what
    # a plain MLP's cost predicted for the same width (25-32 s a 24k-row fold).
    plain = {**MLP.model_params, "batch_size": 256}
    resnet = {**plain, "architecture": "resnet2"}
    ratio = reference_fold_seconds(PipelineConfig("mlp", resnet), SHAPE) / reference_fold_seconds(
        PipelineConfig("mlp", plain), SHAPE
    )
    assert 2.0 < ratio < 2.4
    deeper = {**plain, "n_layers": 4}
    assert reference_fold_seconds(PipelineConfig("mlp", deeper), SHAPE) > 1.3 * (
        reference_fold_seconds(PipelineConfig("mlp", plain), SHAPE)
    )


def test_calibration_learns_the_family_and_the_machine() -> None:
    model = CostModel(SHAPE)
    assert model.fold_seconds(MLP) == reference_fold_seconds(MLP, SHAPE)  # nothing seen yet
    # This machine runs linear folds 3x slower than the reference.
    for _ in range(20):
        model.observe(LINEAR, [3 * reference_fold_seconds(LINEAR, SHAPE)])
    assert model.fold_seconds(LINEAR) == pytest.approx(
        3 * reference_fold_seconds(LINEAR, SHAPE), rel=0.15
    )
    # The first MLP trial is predicted with the machine factor, not blind.
    assert model.fold_seconds(MLP) > 2.5 * reference_fold_seconds(MLP, SHAPE)
    # Once MLP folds are seen, their own factor takes over.
    for _ in range(20):
        model.observe(MLP, [0.5 * reference_fold_seconds(MLP, SHAPE)])
    assert model.fold_seconds(MLP) == pytest.approx(
        0.5 * reference_fold_seconds(MLP, SHAPE), rel=0.3
    )
    assert model.trial_seconds(MLP) == pytest.approx(5 * model.fold_seconds(MLP))


def _finished(number: int, state, config: PipelineConfig, seconds: list[float]):
    return optuna.trial.create_trial(
        state=state,
        value=0.1 if state == optuna.trial.TrialState.COMPLETE else None,
        user_attrs={"config": config.to_dict(), "fold_seconds": seconds},
    ), number


def test_pruned_trials_folds_count_and_each_trial_is_read_once() -> None:
    model = CostModel(SHAPE)
    reference = reference_fold_seconds(LINEAR, SHAPE)
    trials = []
    for number, state in enumerate(
        [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE]
    ):
        trial, _ = _finished(number, state, LINEAR, [2 * reference])
        trial.number = number
        trials.append(trial)
    model.observe_trials(trials)
    assert len(model.log_ratios["linear"]) == 2
    model.observe_trials(trials)  # already seen: not counted twice
    assert len(model.log_ratios["linear"]) == 2
    assert model.fold_seconds(LINEAR) == pytest.approx(2 * reference, rel=0.35)


def test_first_trials_put_linear_first_then_cheapest_and_drop_defaults_that_repeat_a_start():
    from automoa.search.controller import first_trials
    from automoa.spaces import config_from_params, load_space

    space = load_space("moa")
    queue = first_trials(space, SHAPE)
    configs = [config_from_params(space, params) for params in queue]
    assert configs[0].family == "linear"
    model = CostModel(SHAPE)
    costs = [model.fold_seconds(config) for config in configs[1:]]
    assert costs == sorted(costs)
    # mlp and tabnet have starts (the winners' recipes): their plain defaults are not queued.
    started = {start.family for start in space.starts}
    defaults = [c for c in configs if c.family not in started]
    assert {c.family for c in defaults} == set(space.families) - started
    assert len(configs) == len(space.starts) + len(defaults)

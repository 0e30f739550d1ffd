"""The cost model: predicted seconds of one fold of a pipeline, calibrated on finished folds.

A fold's seconds are predicted as ``work units x seconds per unit``. The units come from the
data size (training rows, features after preprocessing, labels) and the configuration (path
points, trees x depth, epochs x network size, seeds, ...); the seconds per unit start from
figures measured once on a 2-core machine (``benchmarks/family_fold_time.py``) and are
corrected online from every fold the study has finished, pruned trials' folds included:

- a machine factor, from all families' folds (a faster machine speeds every family up);
- a family factor, from that family's folds, shrunk towards the machine factor while they are
  few (so the first trial of a family is not predicted blind).

Predictions decide what may start: no trial or fold starts when it is predicted to miss the
deadline, and the first trials are queued cheapest first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from automoa.config import PipelineConfig
from automoa.data.dataset import Dataset
from automoa.search.record import TrialRecord

#: Seconds per work unit on the reference machine (2 cores, x86_64, CPU), per family; see
#: each ``_units`` function for what a unit is.
REFERENCE_SECONDS_PER_UNIT: dict[str, float] = {
    # one (row x feature x label) cell per path point: 12 s for a 17.6k-row fold of 875
    # features and 206 labels with the 8-point path
    "linear": 2.6e-10,
    # one (row x sampled feature x label x tree level) histogram update: the moa space's default
    # (120 rounds, depth 3, 7% of the columns, 64 bins) took 213 s for a 19k-row fold
    "xgboost": 6.0e-9,
    # one multiply-accumulate of a training step (forward + backward = 3 products), plus
    # _MLP_STEP_UNITS per optimiser step; fitted on one 14k-row fold of 905 features and 206
    # labels: 2 x 1024 at batch 128 for 25 epochs 24 s, at batch 512 for 15 epochs 6.5 s,
    # 2 x 512 at batch 512 for 15 epochs 3.6 s
    "mlp": 2.8e-12,
    "tabnet": 6.0e-11,
    "prior": 0.0,
}
#: Work units of one optimiser step of an MLP beyond its products (BatchNorm, weight norm, the
#: optimiser update, Python): about 6.5 ms on the reference machine, so that small batches cost
#: more per epoch than their products say (batch 128 against 512: 3x the seconds per epoch for
#: the same network).
_MLP_STEP_UNITS = 2.3e9
#: ``resnet2``'s work against a plain MLP of the same width, per row and per step: a second head
#: over the features and the first head's output. Measured on 24k-row MoA-like folds: 2 x 768 at
#: batch 256 for 20 epochs took 25-32 s a fold, 2.5x what the products and the plain MLP's
#: per-step cost predicted.
_RESNET2_FACTOR = 2.2
#: Rows per step when a configuration does not say.
_DEFAULT_BATCH_SIZE = 256
#: Seconds per (row x feature) of a fitted preprocessing step that is not cached (the moa
#: space's rank-gauss, two PCAs and variance filter took 4.7 s on a 17.7k x 875 fold).
_STEP_SECONDS_PER_CELL = 5e-8
#: Fixed seconds of any fold (data copies, bookkeeping, prediction).
_FOLD_OVERHEAD_SECONDS = 0.05
#: Folds of a family kept for its factor (the most recent), and the shrinkage weight.
_WINDOW = 60
_SHRINK = 2.0


@dataclass(frozen=True)
class DataShape:
    """The sizes a fold's cost depends on.

    Attributes:
        n_rows: training rows of one fold (known negatives excluded).
        n_features: raw feature columns.
        n_labels: scored labels.
        n_aux: auxiliary labels.
        n_splits: folds of the study.
    """

    n_rows: int
    n_features: int
    n_labels: int
    n_aux: int = 0
    n_splits: int = 5

    @classmethod
    def of(cls, dataset: Dataset, n_splits: int) -> DataShape:
        """The shape of one training fold of ``dataset``."""
        trainable = int(dataset.trainable_mask.sum())
        return cls(
            n_rows=max(1, trainable * (n_splits - 1) // n_splits),
            n_features=dataset.X.shape[1],
            n_labels=dataset.n_labels,
            n_aux=0 if dataset.Y_aux is None else dataset.Y_aux.shape[1],
            n_splits=n_splits,
        )


def _after_preprocessing(config: PipelineConfig, shape: DataShape) -> tuple[float, float, float]:
    """(rows, features, preprocessing seconds) of a fold after the configuration's steps."""
    rows, features = float(shape.n_rows), float(shape.n_features)
    step_seconds = 0.0
    for step in config.preprocessing:
        params = step.params
        if step.name in ("quantile", "standardize", "variance", "onehot", "rowstats"):
            step_seconds += _STEP_SECONDS_PER_CELL * rows * features
        if step.name == "pca":
            components = float(params.get("n_components", 16))
            step_seconds += _STEP_SECONDS_PER_CELL * rows * features * max(1.0, components / 50)
            if params.get("mode", "append") == "append":
                features += components
            else:
                features = components
        elif step.name == "rowstats":
            features += 8
        elif step.name == "mlsmote":
            # k-nearest neighbours within each minority label's bag, then new rows
            step_seconds += _STEP_SECONDS_PER_CELL * rows * features
            rows *= 1.0 + min(float(params.get("max_new_fraction", 0.5)), 0.5)
        elif step.name == "oversample":
            rows *= 1.2
    return rows, features, step_seconds


def _linear_units(params: Mapping[str, Any], rows: float, d: float, shape: DataShape) -> float:
    # The inner split's path plus the final fit on the whole fold: about 1.8 paths; a fixed C
    # is one solve.
    points = 1.0 / 1.8 if params.get("C") is not None else float(params.get("path_size", 8))
    return 1.8 * points * rows * d * shape.n_labels


def _xgboost_units(params: Mapping[str, Any], rows: float, d: float, shape: DataShape) -> float:
    trees = float(params.get("n_estimators", 300))
    depth = float(params.get("max_depth", 4))
    sampled = d * float(params.get("colsample_bytree", 0.5)) * float(params.get("subsample", 0.8))
    bins = float(params.get("max_bin", 256)) / 256.0
    # one tree per label per round, histograms of the sampled rows and columns at every level
    return trees * depth * rows * sampled * shape.n_labels * (0.5 + 0.5 * bins)


def _mlp_macs(params: Mapping[str, Any], d: float, n_out: float) -> float:
    """Multiply-accumulates of one row's forward pass."""
    width = float(params.get("hidden_size", 512))
    decay = float(params.get("hidden_decay", 1.0))
    layers = int(params.get("n_layers", 2))
    macs, n_in = 0.0, d
    for _ in range(layers):
        macs += n_in * width
        n_in, width = width, max(8.0, width * decay)
    if params.get("architecture", "mlp") == "resnet2":
        macs *= _RESNET2_FACTOR
    return macs + n_in * n_out


def _mlp_step_units(params: Mapping[str, Any]) -> float:
    """Per-step units of an MLP: each layer's BatchNorm, weight norm and update is launched
    once a step, so a deeper network and ``resnet2``'s second head cost more per step."""
    layers = int(params.get("n_layers", 2))
    units = _MLP_STEP_UNITS * (1 + layers) / 3
    if params.get("architecture", "mlp") == "resnet2":
        units *= _RESNET2_FACTOR
    return units


def _torch_units(
    params: Mapping[str, Any],
    rows: float,
    d: float,
    shape: DataShape,
    macs: float,
    step_units: float = 0.0,
) -> float:
    """Units of training: 3 products per multiply-accumulate of every row of every epoch, and
    ``step_units`` per optimiser step, times seeds and auxiliary stages."""
    epochs = float(params.get("epochs", 20))
    seeds = float(params.get("n_seeds", 1))
    aux = params.get("aux", "none")
    factor = 1.0
    if aux == "pretrain":
        factor += float(params.get("pretrain_epochs", 10)) / max(epochs, 1.0)
    elif aux == "two_stage":
        inner = float(params.get("stage1_folds", 3))
        factor += inner * (inner - 1) / inner  # stage-1 networks on inner training folds
    steps_per_epoch = math.ceil(rows / max(int(params.get("batch_size", _DEFAULT_BATCH_SIZE)), 1))
    per_epoch = 3.0 * macs * rows + step_units * steps_per_epoch
    return per_epoch * epochs * seeds * factor


def work_units(config: PipelineConfig, shape: DataShape) -> tuple[float, float]:
    """(model work units, preprocessing seconds) of one fold of ``config``."""
    rows, d, step_seconds = _after_preprocessing(config, shape)
    params = config.model_params
    family = config.family
    n_out = shape.n_labels + (shape.n_aux if params.get("aux", "none") == "multitask" else 0)
    if family == "linear":
        units = _linear_units(params, rows, d, shape)
    elif family == "xgboost":
        units = _xgboost_units(params, rows, d, shape)
    elif family == "mlp":
        macs = _mlp_macs(params, d, n_out)
        units = _torch_units(params, rows, d, shape, macs, _mlp_step_units(params))
    elif family == "tabnet":
        width = float(params.get("n_d", 32)) + float(params.get("n_a", 32))
        steps = float(params.get("n_steps", 1))
        shared = float(params.get("n_independent", 1)) + float(params.get("n_shared", 1))
        macs = steps * (d * width * shared + width * d) + width * n_out
        units = _torch_units(params, rows, d, shape, macs)
    else:
        # an unknown (user-registered) family: as expensive as a network over the features
        units = _torch_units({}, rows, d, shape, _mlp_macs({}, d, n_out), _mlp_step_units({}))
    return units, step_seconds


def reference_fold_seconds(config: PipelineConfig, shape: DataShape) -> float:
    """Uncalibrated seconds of one fold on the reference machine."""
    units, step_seconds = work_units(config, shape)
    rate = REFERENCE_SECONDS_PER_UNIT.get(config.family, REFERENCE_SECONDS_PER_UNIT["mlp"])
    return _FOLD_OVERHEAD_SECONDS + step_seconds + rate * units


@dataclass
class CostModel:
    """Fold-time predictions for one dataset, calibrated on observed folds.

    Attributes:
        shape: the data size.
        log_ratios: per family, log(actual / reference) of recent observed folds.
        seen_trials: numbers of the trials already learnt from.
    """

    shape: DataShape
    log_ratios: dict[str, list[float]] = field(default_factory=dict)
    seen_trials: set[int] = field(default_factory=set)

    def observe(self, config: PipelineConfig, fold_seconds: Iterable[float]) -> None:
        """Learn from the measured seconds of finished folds of ``config``."""
        reference = reference_fold_seconds(config, self.shape)
        if reference <= 0:
            return
        ratios = self.log_ratios.setdefault(config.family, [])
        for seconds in fold_seconds:
            if seconds > 0 and math.isfinite(seconds):
                ratios.append(math.log(seconds / reference))
        del ratios[:-_WINDOW]

    def machine_factor(self) -> float:
        """exp(mean log ratio) over every family's observed folds (1 with none)."""
        every = [r for ratios in self.log_ratios.values() for r in ratios]
        return math.exp(sum(every) / len(every)) if every else 1.0

    def family_factor(self, family: str) -> float:
        """The family's factor, shrunk towards the machine factor while observations are few."""
        machine = math.log(self.machine_factor())
        ratios = self.log_ratios.get(family, [])
        return math.exp((sum(ratios) + _SHRINK * machine) / (len(ratios) + _SHRINK))

    def fold_seconds(self, config: PipelineConfig) -> float:
        """Predicted seconds of one fold of ``config``."""
        # No safety margin: a prediction only decides whether the first fold starts; from then
        # on each fold's measured time decides, and a fit still running at the deadline stops.
        return reference_fold_seconds(config, self.shape) * self.family_factor(config.family)

    def trial_seconds(self, config: PipelineConfig) -> float:
        """Predicted seconds of a full cross-validation of ``config``."""
        return self.fold_seconds(config) * self.shape.n_splits

    def observe_trials(self, trials: Iterable[optuna.trial.FrozenTrial]) -> None:
        """Learn from the fold times recorded by finished trials not seen before."""
        for trial in trials:
            if not trial.state.is_finished() or trial.number in self.seen_trials:
                continue
            self.seen_trials.add(trial.number)
            record = TrialRecord.read(trial)
            seconds, config = record.fold_seconds, record.config
            if not seconds or not isinstance(config, dict):
                continue
            try:
                self.observe(PipelineConfig.from_dict(config), seconds)
            except (KeyError, TypeError, ValueError):
                continue  # a record from another automoa version: not worth failing over

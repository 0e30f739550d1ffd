"""The ensemble of a study's trials: selection, level-2 stages, clipping and the combiner."""

from automoa.ensemble.checks import Candidates
from automoa.ensemble.clipping import Clip, HonestClip, fit_clip, honest_clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.crosslabel import (
    CrossLabelStacker,
    HonestCrossLabel,
    fit_cross_label,
    honest_cross_label,
)
from automoa.ensemble.level2 import Level2Model, Level2Stage, level2_from_arrays, standard_stages
from automoa.ensemble.pipeline import PipelineOptions, PipelineResult, StageRecord, run_pipeline
from automoa.ensemble.selection import (
    SCREEN_STRIDE,
    Ensemble,
    HonestResult,
    honest_evaluation,
    honest_score,
    select,
)
from automoa.ensemble.stacking import HonestStacking, Stacker, fit_stacker, honest_stacking
from automoa.ensemble.variants import SelectionVariant, diverse_pool, standard_variants
from automoa.ensemble.weights import fit_constrained_weights

__all__ = [
    "SCREEN_STRIDE",
    "Candidates",
    "Clip",
    "Combiner",
    "CrossLabelStacker",
    "Ensemble",
    "HonestClip",
    "HonestCrossLabel",
    "HonestResult",
    "HonestStacking",
    "Level2Model",
    "Level2Stage",
    "PipelineOptions",
    "PipelineResult",
    "SelectionVariant",
    "Stacker",
    "StageRecord",
    "diverse_pool",
    "fit_clip",
    "fit_constrained_weights",
    "fit_cross_label",
    "fit_stacker",
    "honest_clip",
    "honest_cross_label",
    "honest_evaluation",
    "honest_score",
    "honest_stacking",
    "level2_from_arrays",
    "run_pipeline",
    "select",
    "standard_stages",
    "standard_variants",
]

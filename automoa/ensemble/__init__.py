"""The ensemble of a study's trials: selection, level-2 stages, clipping and the combiner."""

from automoa.ensemble.checks import Candidates
from automoa.ensemble.clipping import Clip, HonestClip, fit_clip, honest_clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.selection import (
    SCREEN_STRIDE,
    Ensemble,
    HonestResult,
    honest_evaluation,
    honest_score,
    select,
)
from automoa.ensemble.stacking import HonestStacking, Stacker, fit_stacker, honest_stacking

__all__ = [
    "SCREEN_STRIDE",
    "Candidates",
    "Clip",
    "Combiner",
    "Ensemble",
    "HonestClip",
    "HonestResult",
    "HonestStacking",
    "Stacker",
    "fit_clip",
    "fit_stacker",
    "honest_clip",
    "honest_evaluation",
    "honest_score",
    "honest_stacking",
    "select",
]

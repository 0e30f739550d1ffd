"""Fold-fitted preprocessing steps, their registry, and the chain that applies them."""

from automoa.preprocessing import steps  # noqa: F401  (registers the built-in steps)
from automoa.preprocessing.base import Step
from automoa.preprocessing.chain import FittedChain, fit_chain
from automoa.preprocessing.registry import get_step, register, step_names

__all__ = ["FittedChain", "Step", "fit_chain", "get_step", "register", "step_names"]

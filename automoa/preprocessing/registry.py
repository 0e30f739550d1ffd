"""Explicit registry of preprocessing steps."""

from __future__ import annotations

from automoa.preprocessing.base import Step
from automoa.registry import Registry

_STEPS: Registry[type[Step]] = Registry("preprocessing step")

register = _STEPS.register
step_names = _STEPS.names
get_step = _STEPS.get

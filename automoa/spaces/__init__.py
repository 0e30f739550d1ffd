"""Search spaces: the YAML schema, loading, sampling trials into pipeline configurations."""

from automoa.config import LossConfig, PipelineConfig, StepConfig
from automoa.params import CategoricalParam, ConstantParam, FloatParam, IntParam, ParamSpec
from automoa.spaces.binding import bind_data
from automoa.spaces.diff import space_changes, space_diff
from automoa.spaces.extras import missing_families, without_missing_extras
from automoa.spaces.loader import is_shipped, load_space, shipped_spaces
from automoa.spaces.sampler import config_from_params, default_params, sample, start_params
from automoa.spaces.schema import FamilySpec, LossSpec, SearchSpace, StartSpec, StepSpec
from automoa.spaces.validation import parse_space, space_from_json

__all__ = [
    "CategoricalParam",
    "ConstantParam",
    "FamilySpec",
    "FloatParam",
    "IntParam",
    "LossConfig",
    "LossSpec",
    "ParamSpec",
    "PipelineConfig",
    "SearchSpace",
    "StartSpec",
    "StepConfig",
    "StepSpec",
    "bind_data",
    "config_from_params",
    "default_params",
    "is_shipped",
    "load_space",
    "missing_families",
    "parse_space",
    "sample",
    "shipped_spaces",
    "space_changes",
    "space_diff",
    "space_from_json",
    "start_params",
    "without_missing_extras",
]

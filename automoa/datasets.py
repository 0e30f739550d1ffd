"""Bundled and synthetic datasets: ``automoa.datasets.load_yeast()``, ``make_moa_like(...)``."""

from automoa.data.examples import (
    load_yeast,
    load_yeast_frames,
    load_yeast_test_targets,
    make_moa_like,
    make_moa_like_dataset,
)

__all__ = [
    "load_yeast",
    "load_yeast_frames",
    "load_yeast_test_targets",
    "make_moa_like",
    "make_moa_like_dataset",
]

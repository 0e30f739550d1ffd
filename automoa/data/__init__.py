"""Data layer: loading, validation, fingerprints, bundled and synthetic data, summaries."""

from automoa.data.arrays import from_arrays
from automoa.data.dataset import Dataset
from automoa.data.examples import (
    load_yeast,
    load_yeast_test_targets,
    make_moa_like,
    make_moa_like_dataset,
)
from automoa.data.fingerprint import dataset_fingerprint, fingerprint
from automoa.data.io import load
from automoa.data.summary import DataSummary, describe

__all__ = [
    "DataSummary",
    "Dataset",
    "dataset_fingerprint",
    "describe",
    "fingerprint",
    "from_arrays",
    "load",
    "load_yeast",
    "load_yeast_test_targets",
    "make_moa_like",
    "make_moa_like_dataset",
]

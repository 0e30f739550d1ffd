"""automoa: AutoML for multi-label tabular classification under heavy label imbalance."""

__version__ = "0.1.0"

from automoa import datasets
from automoa.api import load_data, open_study, search
from automoa.bundle import ExportedModel, load
from automoa.data import Dataset, describe, from_arrays
from automoa.estimator import AutoMoAClassifier
from automoa.metrics import mean_columnwise_log_loss
from automoa.report.leaderboard import leaderboard
from automoa.result import SearchResult

__all__ = [
    "AutoMoAClassifier",
    "Dataset",
    "ExportedModel",
    "SearchResult",
    "__version__",
    "datasets",
    "describe",
    "from_arrays",
    "leaderboard",
    "load",
    "load_data",
    "mean_columnwise_log_loss",
    "open_study",
    "search",
]

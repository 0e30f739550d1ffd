"""automoa: AutoML for multi-label tabular classification under heavy label imbalance."""

__version__ = "0.1.0"

from automoa import datasets
from automoa.api import load_data, open_study, search
from automoa.bundle import ExportedModel, load
from automoa.data import Dataset, describe
from automoa.metrics import mean_columnwise_log_loss
from automoa.report.leaderboard import leaderboard

__all__ = [
    "Dataset",
    "ExportedModel",
    "__version__",
    "datasets",
    "describe",
    "leaderboard",
    "load",
    "load_data",
    "mean_columnwise_log_loss",
    "open_study",
    "search",
]

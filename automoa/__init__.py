"""automoa: AutoML for multi-label tabular classification under heavy label imbalance.

The public names below are imported on first use (PEP 562), so that ``import automoa`` and the
command line's ``--help`` and ``--version`` do not pay for torch, Optuna and scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from automoa._version import __version__

# public name -> the module that defines it
_LAZY = {
    "AutoMoAClassifier": "automoa.estimator",
    "Dataset": "automoa.data",
    "ExportedModel": "automoa.bundle",
    "SearchResult": "automoa.result",
    "datasets": "automoa.datasets",
    "describe": "automoa.data",
    "from_arrays": "automoa.data",
    "leaderboard": "automoa.report.leaderboard",
    "load": "automoa.bundle",
    "load_data": "automoa.api",
    "mean_columnwise_log_loss": "automoa.metrics",
    "open_study": "automoa.api",
    "search": "automoa.api",
}

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

if TYPE_CHECKING:
    from automoa import datasets
    from automoa.api import load_data, open_study, search
    from automoa.bundle import ExportedModel, load
    from automoa.data import Dataset, describe, from_arrays
    from automoa.estimator import AutoMoAClassifier
    from automoa.metrics import mean_columnwise_log_loss
    from automoa.report.leaderboard import leaderboard
    from automoa.result import SearchResult


# The subpackage automoa.search shares its name with the search() function. Importing it binds
# the name to the subpackage, once; it is imported here (it is light) and unbound again, so that
# ``automoa.search`` is always the function, whatever is imported later.
import_module("automoa.search")
globals().pop("search", None)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'automoa' has no attribute {name!r}")
    module = import_module(module_name)
    value = module if module_name == f"automoa.{name}" else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

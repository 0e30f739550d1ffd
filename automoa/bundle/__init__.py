"""Export of a study's ensemble as a verified, self-contained directory, and loading it back.

The reader (:func:`load`, :class:`ExportedModel`) is imported at once; the exporter only on first
use (PEP 562), because it needs the search package and Optuna and loading a bundle needs neither.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from automoa.bundle.model import ExportedModel, load

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "ExportReport": "automoa.bundle.export",
    "export_bundle": "automoa.bundle.export",
}

__all__ = ["ExportReport", "ExportedModel", "export_bundle", "load"]

if TYPE_CHECKING:
    from automoa.bundle.export import ExportReport, export_bundle


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'automoa.bundle' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

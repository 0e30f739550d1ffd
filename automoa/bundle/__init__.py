"""Export of a study's ensemble as a verified, self-contained directory, and loading it back."""

from automoa.bundle.export import ExportReport, export_bundle
from automoa.bundle.model import ExportedModel, load

__all__ = ["ExportReport", "ExportedModel", "export_bundle", "load"]

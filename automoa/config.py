"""PipelineConfig: one sampled point of a search space (what a trial evaluates).

The configuration objects live at the ground floor: :mod:`automoa.spaces` produces them, and
model families, preprocessing and the search read them without importing the spaces package.
Their JSON form (:meth:`PipelineConfig.to_dict`) is stored with every trial and bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(params: dict[str, Any] | None) -> MappingProxyType:
    return MappingProxyType(dict(params or {}))


#: Where a preprocessing step is fitted; the first is the default.
FIT_ON_CHOICES = ("train", "train+test")


@dataclass(frozen=True)
class StepConfig:
    """One preprocessing step with its parameter values.

    Attributes:
        name: the registered name of the step (e.g. ``"quantile"``).
        params: parameter values, with names local to the step (``n_quantiles``, not
            ``prep.quantile.n_quantiles``).
        id: the step's name in the space when it differs from ``name`` (a space may use one
            step type twice, e.g. ``pca_genes`` and ``pca_cells``); ``None`` means ``name``.
        fit_on: ``"train"`` (default): fitted on the training fold's rows only.
            ``"train+test"``: transductive opt-in for unsupervised steps, fitted on the
            features (never the labels) of every row it transforms in a fold: training,
            validation and test rows.
    """

    name: str
    params: MappingProxyType = field(default_factory=lambda: _frozen(None))
    id: str | None = None
    fit_on: str = "train"

    def __post_init__(self) -> None:
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", _frozen(self.params))
        if self.fit_on not in FIT_ON_CHOICES:
            raise ValueError(f"fit_on must be one of {FIT_ON_CHOICES}, got {self.fit_on!r}")

    @property
    def key(self) -> str:
        """The step's id in the space (``id`` or ``name``)."""
        return self.id or self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (only non-default ``id`` / ``fit_on`` are written)."""
        data: dict[str, Any] = {"name": self.name, "params": dict(self.params)}
        if self.id is not None:
            data["id"] = self.id
        if self.fit_on != "train":
            data["fit_on"] = self.fit_on
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["name"], data.get("params", {}), data.get("id"), data.get("fit_on", "train")
        )


@dataclass(frozen=True)
class LossConfig:
    """The training loss with its parameter values.

    Attributes:
        name: the loss name, a key of :data:`automoa.losses.LOSS_PARAMS` (e.g. ``"focal"``).
        params: parameter values, with names local to the loss (``gamma``, not
            ``loss.focal.gamma``).
    """

    name: str
    params: MappingProxyType = field(default_factory=lambda: _frozen(None))

    def __post_init__(self) -> None:
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", _frozen(self.params))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"name": ..., "params": {...}}``."""
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LossConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(data["name"], data.get("params", {}))


@dataclass(frozen=True)
class PipelineConfig:
    """A complete pipeline: preprocessing chain, model family and parameters, loss.

    Attributes:
        family: registered model family name (``"linear"``, ``"prior"``, ...).
        model_params: the family's parameter values, with local names (``C``, not
            ``model.linear.C``).
        preprocessing: ordered steps, applied first to last.
        loss: the training loss for families that take one, else ``None``.
    """

    family: str
    model_params: MappingProxyType = field(default_factory=lambda: _frozen(None))
    preprocessing: tuple[StepConfig, ...] = ()
    loss: LossConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model_params, MappingProxyType):
            object.__setattr__(self, "model_params", _frozen(self.model_params))
        object.__setattr__(self, "preprocessing", tuple(self.preprocessing))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return {
            "family": self.family,
            "model_params": dict(self.model_params),
            "preprocessing": [step.to_dict() for step in self.preprocessing],
            "loss": self.loss.to_dict() if self.loss else None,
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        """Rebuild a config from :meth:`to_dict` output."""
        loss = data.get("loss")
        return cls(
            family=data["family"],
            model_params=data.get("model_params", {}),
            preprocessing=tuple(StepConfig.from_dict(s) for s in data.get("preprocessing", [])),
            loss=LossConfig.from_dict(loss) if loss else None,
        )

"""PipelineConfig: one sampled point of a search space (what a trial evaluates)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(params: dict[str, Any] | None) -> MappingProxyType:
    return MappingProxyType(dict(params or {}))


@dataclass(frozen=True)
class StepConfig:
    """One preprocessing step (or the loss) with its parameter values.

    Attributes:
        name: the registered name of the step (e.g. ``"quantile"``) or loss (``"focal"``).
        params: parameter values, with names local to the step (``n_quantiles``, not
            ``prep.quantile.n_quantiles``).
    """

    name: str
    params: MappingProxyType = field(default_factory=lambda: _frozen(None))

    def __post_init__(self) -> None:
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", _frozen(self.params))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "params": dict(self.params)}


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
    loss: StepConfig | None = None

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
            preprocessing=tuple(
                StepConfig(s["name"], s.get("params", {})) for s in data.get("preprocessing", [])
            ),
            loss=StepConfig(loss["name"], loss.get("params", {})) if loss else None,
        )

"""The ModelFamily contract every model family implements.

A family is constructed from its sampled parameters, fitted on one training fold, and returns a
:class:`FittedModel` whose state is saved in safe formats (JSON + numpy arrays, never a pickle).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from automoa.config import LossConfig
    from automoa.deadline import Deadline
    from automoa.params import ParamSpec


@dataclass
class ModelState:
    """A fitted model in safe formats.

    Attributes:
        family: the family name, used to find the class that restores it.
        meta: JSON-serialisable settings.
        arrays: named numpy arrays (saved with ``allow_pickle=False``).
    """

    family: str
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


class FittedModel(ABC):
    """A model fitted on one training fold."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Predicted probabilities, float32 of shape (n, L), in [0, 1]."""

    @abstractmethod
    def state(self) -> ModelState:
        """The model in safe formats (see :class:`ModelState`)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: ModelState) -> FittedModel:
        """Restore a model saved by :meth:`state`."""


class ModelFamily(ABC):
    """A searchable model family.

    Subclasses set :attr:`name`, implement :meth:`fit`, and are registered with
    :func:`automoa.models.registry.register`. Parameters arrive as keyword arguments with the
    names used in the family's YAML block; unknown names raise ``TypeError`` early.

    Attributes:
        name: registry name, as written in search spaces.
        uses_loss: whether the family trains with a selectable loss (torch families).
        fitted_class: the :class:`FittedModel` subclass it produces.
        requires: ``(module, how to install it)`` for a family that needs an optional library,
            checked before a study starts (:meth:`missing_requirement`).
    """

    name: ClassVar[str]
    uses_loss: ClassVar[bool] = False
    fitted_class: ClassVar[type[FittedModel]]
    requires: ClassVar[tuple[str, str] | None] = None

    def __init__(self, **params: Any) -> None:
        self.params = params

    @classmethod
    def missing_requirement(cls) -> str | None:
        """What to install for this family, or ``None`` when its library can be imported.

        The library is looked up, not imported (``importlib.util.find_spec``), so the check
        is cheap enough to run for every family of a space.
        """
        if cls.requires is None:
            return None
        module, install = cls.requires
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed installation
            found = False
        return None if found else f"the {module} package is missing: {install}"

    @classmethod
    def bind(cls, params: Mapping[str, ParamSpec], n_aux_labels: int) -> Mapping[str, ParamSpec]:
        """Adapt the family's parameter specs to the data, once per study, before sampling.

        Args:
            params: the specs from the search space.
            n_aux_labels: auxiliary target columns with at least one positive.

        Returns:
            The specs to sample from; the default keeps them as they are.
        """
        return params

    @abstractmethod
    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        X_valid: np.ndarray | None = None,
        Y_valid: np.ndarray | None = None,
        deadline: Deadline | None = None,
        seed: int = 0,
        device: str = "cpu",
        loss: LossConfig | None = None,
        Y_aux: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> FittedModel:
        """Fit on one training fold.

        Args:
            X: float32 (n, d) training features.
            Y: uint8 (n, L) training labels.
            X_valid: validation features, for early stopping only (never fitted on).
            Y_valid: validation labels, for early stopping only.
            deadline: the budget; long loops check it and stop or raise
                :class:`~automoa.exceptions.BudgetExhausted`.
            seed: random seed.
            device: ``"cpu"`` or ``"cuda"``; families that cannot use it ignore it.
            loss: the trial's training loss (families with ``uses_loss``; others ignore it).
            Y_aux: auxiliary (non-scored) labels of the first ``len(Y_aux)`` training rows
                (rows added by oversampling come after them and have none), or ``None``;
                families that cannot use them ignore them.
            groups: group labels (e.g. drug ids) of the first ``len(groups)`` training rows,
                like ``Y_aux``, or ``None``. Inner splits of the training fold (per-label
                penalty choice, two-stage models) keep each group whole; rows added by
                oversampling have no group and never sit on an inner validation side.

        Returns:
            The fitted model.
        """

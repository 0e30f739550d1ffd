"""The ModelFamily contract every model family implements.

A family is constructed from its sampled parameters and fitted on one training fold by
:meth:`ModelFamily.fit`, a template method: it checks the arrays, sets aside the labels that are
constant in the training fold (:class:`~automoa.models.fit_context.ConstantLabels`) and calls the
family's ``_fit(X, Y, ctx)`` with the other labels and a
:class:`~automoa.models.fit_context.FitContext`. The :class:`FittedModel` it returns splices the
constant labels' priors back into its predictions, and its state is saved in safe formats
(JSON + numpy arrays, never a pickle).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from automoa.deadline import Deadline
from automoa.models.fit_context import ConstantLabels, FitContext, check_fit_inputs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from automoa.config import LossConfig
    from automoa.params import ParamSpec


def constructor_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """A family constructor's ``locals()`` as its parameters (without ``self``/``__class__``).

    Call it before the constructor binds any other local name, so that the result
    is exactly the constructor's arguments in signature order.

    Args:
        arguments: the constructor's ``locals()``.

    Returns:
        The arguments by name, in the constructor's order.
    """
    return {k: v for k, v in arguments.items() if k not in ("self", "__class__")}


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
    """A model fitted on one training fold.

    A family implements :meth:`_predict_proba` for the labels its ``_fit`` was given;
    :meth:`predict_proba` adds the labels that were constant in the training fold.

    Attributes:
        constant: the training fold's constant labels and their priors, set by
            :meth:`ModelFamily.fit` and by ``from_state``; ``None`` where the model predicts
            every label itself (a state format that never saved them, such as ``prior``'s).
    """

    constant: ConstantLabels | None = None

    def with_constant(self, constant: ConstantLabels | None) -> Self:
        """This model, predicting the constant labels of ``constant`` with their priors."""
        self.constant = constant
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Predicted probabilities, float32 of shape (n, L), in [0, 1].

        Labels constant in the training fold get their training prior.
        """
        proba = self._predict_proba(X)
        return proba if self.constant is None else self.constant.splice(proba)

    @abstractmethod
    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Float32 probabilities of the labels ``_fit`` was given: (n, k), in [0, 1]."""

    @abstractmethod
    def state(self) -> ModelState:
        """The model in safe formats (see :class:`ModelState`)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: ModelState) -> FittedModel:
        """Restore a model saved by :meth:`state`."""


class ModelFamily(ABC):
    """A searchable model family.

    Subclasses set :attr:`name`, implement :meth:`_fit`, and are registered with
    :func:`automoa.models.registry.register`. Parameters arrive as keyword arguments with the
    names used in the family's YAML block; unknown names raise ``TypeError`` early.

    Attributes:
        name: registry name, as written in search spaces.
        uses_loss: whether the family trains with a selectable loss (torch families).
        fitted_class: the :class:`FittedModel` subclass it produces.
        requires: ``(module, how to install it)`` for a family that needs an optional library,
            checked before a study starts (:meth:`missing_requirement`).
        fits_constant_labels: whether ``_fit`` is given the labels constant in the training
            fold too (they are predicted with their prior all the same). Only for families
            whose other labels' numbers depend on them: xgboost and the torch families train
            one output per label, and leaving some out would change the random streams, the
            mean loss and the early-stopping metric of the others. New families leave it off.
        prior_smoothing: additive smoothing of the prior that constant labels are predicted
            with (1: Laplace).
    """

    name: ClassVar[str]
    uses_loss: ClassVar[bool] = False
    fitted_class: ClassVar[type[FittedModel]]
    requires: ClassVar[tuple[str, str] | None] = None
    fits_constant_labels: ClassVar[bool] = False
    prior_smoothing: float = 1.0

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
        """Fit on one training fold: check the arrays, set aside constant labels, call ``_fit``.

        Args:
            X: float32 (n, d) training features.
            Y: uint8 (n, L) training labels.
            X_valid: validation features, for early stopping only (never fitted on).
            Y_valid: validation labels (all L), for early stopping only.
            deadline: the budget; long loops check it and stop or raise
                :class:`~automoa.exceptions.BudgetExhausted`. ``None``: no limit.
            seed: random seed.
            device: ``"cpu"`` or ``"cuda"``; families that cannot use it ignore it.
            loss: the trial's training loss (families with ``uses_loss``; others ignore it).
            Y_aux: auxiliary (non-scored) labels of the first ``len(Y_aux)`` training rows
                (see :class:`~automoa.models.fit_context.FitContext`), or ``None``.
            groups: group labels of the first ``len(groups)`` training rows, or ``None``.

        Returns:
            The fitted model; labels constant in ``Y`` are predicted with their prior.

        Raises:
            DataError: if the arrays' shapes do not fit together.
        """
        check_fit_inputs(X, Y, X_valid, Y_valid, Y_aux, groups)
        # Decided on the training fold only: a label may vary in the validation rows.
        constant = ConstantLabels.of(Y, self.prior_smoothing)
        if not self.fits_constant_labels:
            Y = constant.restrict(Y)
            Y_valid = None if Y_valid is None else constant.restrict(Y_valid)
        ctx = FitContext(
            X_val=X_valid,
            Y_val=Y_valid,
            deadline=Deadline(None) if deadline is None else deadline,
            seed=seed,
            device=device,
            loss=loss,
            Y_aux=Y_aux,
            groups=groups,
        )
        return self._fit(X, Y, ctx).with_constant(constant)

    @abstractmethod
    def _fit(self, X: np.ndarray, Y: np.ndarray, ctx: FitContext) -> FittedModel:
        """Fit the family on one training fold (called by :meth:`fit`).

        Args:
            X: float32 (n, d) training features.
            Y: uint8 (n, k) labels: those that vary in the training fold, or all of them for a
                family with :attr:`fits_constant_labels`.
            ctx: validation rows (the same labels as ``Y``), deadline, seed, device, loss,
                auxiliary targets and groups.

        Returns:
            The fitted model, predicting the same k labels.
        """

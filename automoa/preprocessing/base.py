"""The preprocessing Step contract: fitted on the training fold, applied to any rows.

Two kinds of step:

- **transforms** (``resamples = False``): ``fit`` on training rows, then ``transform`` any rows
  (training, validation, test, new data) with the fitted state;
- **resamplers** (``resamples = True``, e.g. MLSMOTE): ``fit_resample`` returns the training
  rows plus synthetic rows; they never touch validation, test or new rows (``transform`` is the
  identity) and keep no state.

Fitted state is saved as :class:`StepState` (JSON + numpy arrays, no pickle) for export.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from automoa.preprocessing.resampler_inputs import check_resample_inputs

if TYPE_CHECKING:
    from automoa.params import ParamSpec


@dataclass
class StepState:
    """A fitted step in safe formats.

    Attributes:
        name: the registered step name, used to find the class that restores it.
        params: the step's constructor parameters (JSON-serialisable).
        meta: other JSON-serialisable fitted values (e.g. output column names).
        arrays: named numpy arrays (saved with ``allow_pickle=False``).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


class Step(ABC):
    """A fold-fitted preprocessing step.

    Subclasses set :attr:`name`, take their parameters as keyword arguments (the names used in
    the search space), and implement :meth:`fit`, :meth:`transform`, :meth:`state` and
    :meth:`from_state` (transforms) or :meth:`fit_resample` (resamplers). ``fit`` and
    ``fit_resample`` only ever see training-fold rows (or, for an unsupervised step the space
    opts in with ``fit_on: train+test``, the features of every row the fold transforms).

    Attributes:
        name: registry name, as written in search spaces.
        resamples: True for steps that add or remove training rows (resamplers).
        supervised: True for steps whose fit uses the labels (never fitted on test rows).
    """

    name: ClassVar[str]
    resamples: ClassVar[bool] = False
    supervised: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(
        self, X: np.ndarray, Y: np.ndarray | None, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> Step:
        """Fit on training rows; returns ``self``. Transforms must override this."""
        raise TypeError(f"step {self.name!r} is a resampler: use fit_resample")

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Transform rows with the fitted state; returns float32. Resamplers: identity."""
        return X

    def fit_resample(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Resamplers: the training rows followed by synthetic rows (float32, uint8).

        An undersampler returns only some of the input rows, in their input order, before any
        synthetic row, and says which through :meth:`kept_rows`.
        """
        raise TypeError(f"step {self.name!r} is not a resampler")

    def kept_rows(self) -> np.ndarray | None:
        """After :meth:`fit_resample`: the sorted indices of the input rows it kept (they are
        its first output rows), or ``None`` when it kept every input row (oversamplers)."""
        return None

    @property
    def feature_names_out(self) -> tuple[str, ...]:
        """Column names after the transform (resamplers: unchanged)."""
        return self._feature_names_out

    def state(self) -> StepState:
        """The fitted step in safe formats. Stateless steps need not override this."""
        return StepState(
            self.name, dict(self.params), {"feature_names_out": list(self.feature_names_out)}
        )

    @classmethod
    def from_state(cls, state: StepState) -> Step:
        """Restore a step saved by :meth:`state`. Stateless steps need not override this."""
        step = cls(**state.params)
        step._feature_names_out = tuple(state.meta["feature_names_out"])
        return step

    @classmethod
    def bind(
        cls,
        params: Mapping[str, ParamSpec],
        feature_names: tuple[str, ...],
        n_train_rows: int,
    ) -> Mapping[str, ParamSpec]:
        """Adapt the step's parameter specs to the data (e.g. cap PCA components).

        Called once per study, before sampling; the default keeps the specs as they are.
        """
        return params


class Oversampler(Step):
    """A resampler that keeps every training row and appends new rows (MLSMOTE, oversampling).

    Subclasses implement :meth:`new_rows`; :meth:`fit_resample` checks the inputs and puts the
    new rows after the original ones.
    """

    resamples = True
    supervised = True

    def fit_resample(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The training rows, unchanged, followed by the new rows.

        Args:
            X: training-fold features, shape ``(n, d)``.
            Y: training-fold binary labels, shape ``(n, L)``.
            feature_names: the ``d`` column names (kept as they are).
            seed: seed of the random draws; the same seed gives the same rows.

        Returns:
            ``(X_out, Y_out)``, float32 and uint8, the ``n`` original rows first.
        """
        Xf, Yb = check_resample_inputs(X, Y, feature_names)
        X_new, Y_new = self.new_rows(Xf, Yb, np.random.default_rng(seed))
        self._feature_names_out = tuple(feature_names)
        return np.concatenate([Xf, X_new]), np.concatenate([Yb, Y_new])

    @abstractmethod
    def new_rows(
        self, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows to append, from checked inputs.

        Args:
            X: training-fold features, float32, shape ``(n, d)``.
            Y: training-fold labels, uint8, shape ``(n, L)``.
            rng: the generator of all random draws.

        Returns:
            ``(X_new, Y_new)``, float32 and uint8.
        """

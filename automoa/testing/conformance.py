"""Conformance checks every model family must pass (used by the test suite).

Call :func:`check_model_family` with a family class and parameters; it raises
``AssertionError`` (this is test code) naming the first broken rule.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np

from automoa.config import LossConfig, StepConfig
from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted
from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import restore
from automoa.preprocessing.base import Step, StepState


def tiny_problem(seed: int = 0, n: int = 120, d: int = 8, labels: int = 5):
    """Tiny learnable data: a common label, rare labels (1 and 0 positives), a full label."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    logits = X @ rng.normal(size=(d, labels))
    Y = (logits > np.quantile(logits, 0.7, axis=0)).astype(np.uint8)
    Y[:, 1] = 0
    Y[0, 1] = 1  # a label with one positive
    Y[:, 2] = 0  # a label with no positive
    Y[:, 3] = 1  # a label that is always on
    return X, Y


def _roundtrip(state: ModelState) -> ModelState:
    """Pass a state through the safe formats (JSON meta, arrays without pickle)."""
    import io

    meta = json.loads(json.dumps(state.meta))
    arrays = {}
    for name, array in state.arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        buffer.seek(0)
        arrays[name] = np.load(buffer, allow_pickle=False)
    return ModelState(state.family, meta, arrays)


def check_model_family(family: type[ModelFamily], params: dict[str, Any] | None = None) -> None:
    """Check the :class:`ModelFamily` contract on tiny data.

    Rules: registered name; fit returns a model whose ``predict_proba`` is float32 (n, L) in
    [0, 1] and finite; degenerate labels (0, 1 and all positives) do not crash; the same seed
    gives the same predictions; the state survives JSON + ``np.save(allow_pickle=False)`` and
    restores identical predictions; an expired deadline stops the fit promptly (either
    :class:`BudgetExhausted` or a model) rather than running on; ``_fit`` never sees a label
    constant in the training fold (unless the family ``fits_constant_labels``), and such labels
    are predicted with their training prior.
    """
    params = dict(params or {})
    X, Y = tiny_problem()
    X_new, _ = tiny_problem(seed=1, n=30)
    model = family(**params).fit(X, Y, X_valid=X_new, Y_valid=Y[:30], seed=0)
    proba = model.predict_proba(X_new)
    assert proba.dtype == np.float32, f"{family.name}: predict_proba dtype {proba.dtype}"
    assert proba.shape == (30, Y.shape[1]), f"{family.name}: shape {proba.shape}"
    assert np.isfinite(proba).all(), f"{family.name}: non-finite predictions"
    assert (proba >= 0).all() and (proba <= 1).all(), f"{family.name}: outside [0, 1]"

    again = family(**params).fit(X, Y, X_valid=X_new, Y_valid=Y[:30], seed=0)
    assert np.array_equal(again.predict_proba(X_new), proba), f"{family.name}: not deterministic"

    state = model.state()
    assert state.family == family.name, f"{family.name}: state family {state.family!r}"
    restored = restore(_roundtrip(state))
    assert np.array_equal(restored.predict_proba(X_new), proba), f"{family.name}: state lost"

    # Past its deadline a family either raises BudgetExhausted or returns a usable model, and
    # it notices at its first check (each check is one epoch / round / iteration).
    deadline = _TripwireDeadline(checks_before_expiry=1)
    late: FittedModel | None = None
    with contextlib.suppress(BudgetExhausted):
        late = family(**params).fit(X, Y, X_valid=X_new, Y_valid=Y[:30], deadline=deadline, seed=0)
    if late is not None:
        late_proba = late.predict_proba(X_new)
        assert late_proba.shape == proba.shape, f"{family.name}: bad model after the deadline"
    assert deadline.checks_after_expiry <= 1, (
        f"{family.name}: went on after the deadline ({deadline.checks_after_expiry} checks)"
    )

    _check_constant_labels(family, params, X, Y, X_new)
    if family.uses_loss:
        _check_losses_and_aux(family, params, X, Y, X_new, proba)


def _check_constant_labels(family, params, X, Y, X_new) -> None:
    """Labels constant in training never reach ``_fit`` and are predicted with their prior."""
    seen: list[np.ndarray] = []

    class Watched(family):
        def _fit(self, X, Y, ctx):
            seen.append(Y)
            return super()._fit(X, Y, ctx)

    watched = Watched(**params)
    proba = watched.fit(X, Y, seed=0).predict_proba(X_new)
    positives = Y.sum(axis=0)
    constant = (positives == 0) | (positives == len(Y))
    (given,) = seen
    if family.fits_constant_labels:  # an exception kept for numbers' sake (see ModelFamily)
        assert given.shape == Y.shape, f"{family.name}: _fit was not given every label"
    else:
        given_positives = given.sum(axis=0)
        assert given.shape == (len(Y), (~constant).sum()), f"{family.name}: _fit saw {given.shape}"
        assert ((given_positives > 0) & (given_positives < len(Y))).all(), (
            f"{family.name}: _fit saw a constant label"
        )
    prior = prior_probabilities(Y, watched.prior_smoothing).astype(np.float32)
    assert np.array_equal(proba[:, constant], np.tile(prior[constant], (len(X_new), 1))), (
        f"{family.name}: constant labels not predicted with their training prior"
    )


class _TripwireDeadline(Deadline):
    """A deadline that passes after a number of ``expired()`` checks; counts the later ones."""

    def __init__(self, checks_before_expiry: int) -> None:
        super().__init__(None)
        self.left = checks_before_expiry
        self.checks_after_expiry = 0

    def expired(self) -> bool:
        if self.left > 0:
            self.left -= 1
            return False
        self.checks_after_expiry += 1
        return True

    def remaining(self) -> float:
        return -1.0 if self.left <= 0 else float("inf")


def _check_losses_and_aux(family, params, X, Y, X_new, proba) -> None:
    """Families that train with a loss honour it and take auxiliary labels of the first rows."""
    from automoa.losses import LOSS_NAMES

    for loss_name in LOSS_NAMES:
        fitted = family(**params).fit(X, Y, seed=0, loss=LossConfig(loss_name, {}))
        out = fitted.predict_proba(X_new)
        assert out.shape == proba.shape and np.isfinite(out).all(), f"{family.name}: {loss_name}"
    bce = family(**params).fit(X, Y, seed=0, loss=LossConfig("bce", {})).predict_proba(X_new)
    focal = family(**params).fit(X, Y, seed=0, loss=LossConfig("focal", {})).predict_proba(X_new)
    assert not np.array_equal(bce, focal), f"{family.name}: the loss is ignored"
    # Oversampled rows come after the original rows and have no auxiliary labels.
    rng = np.random.default_rng(0)
    Y_aux = (rng.random((len(X) - 10, 3)) < 0.3).astype(np.uint8)
    fitted = family(**params).fit(X, Y, seed=0, Y_aux=Y_aux)
    assert fitted.predict_proba(X_new).shape == proba.shape, f"{family.name}: with Y_aux"


def tiny_table(seed: int = 0, n: int = 90):
    """Tiny grouped features (``g-*``, ``c-*``, an integer ``cat``) and rare labels."""
    rng = np.random.default_rng(seed)
    genes = rng.normal(size=(n, 10))
    cells = genes[:, :5] @ rng.normal(size=(5, 5)) + 0.3 * rng.normal(size=(n, 5))
    cat = rng.integers(0, 4, size=(n, 1))
    X = np.hstack([genes, cells, cat]).astype(np.float32)
    names = (*(f"g-{i}" for i in range(10)), *(f"c-{i}" for i in range(5)), "cat")
    Y = np.zeros((n, 4), dtype=np.uint8)
    Y[:, 0] = genes[:, 0] > 0.5
    Y[rng.choice(n, 6, replace=False), 1] = 1
    Y[rng.choice(n, 3, replace=False), 2] = 1
    Y[rng.choice(n, 30, replace=False), 3] = 1
    return X, Y, names


def _roundtrip_step(state: StepState) -> StepState:
    model_like = _roundtrip(ModelState(state.name, state.meta, state.arrays))
    return StepState(
        state.name, json.loads(json.dumps(state.params)), model_like.meta, model_like.arrays
    )


def check_step(step_cls: type[Step], params: dict[str, Any] | None = None) -> None:
    """Check the :class:`Step` contract on tiny data.

    Transforms: float32 output of the announced width, finite; the same seed gives the same
    output; the state survives JSON + ``np.save(allow_pickle=False)``; fitting through
    :func:`~automoa.preprocessing.prepare_fold` never reads validation or test rows (they are
    NaN here, and the training output and fitted state must not change). Resamplers: the input
    rows they keep (all but an undersampler's, see :meth:`Step.kept_rows`) come first and
    unchanged, float32 / uint8, deterministic, identity on other rows.
    """
    from automoa.preprocessing.chain import prepare_fold

    params = dict(params or {})
    X, Y, names = tiny_table()
    X_train, Y_train, X_valid = X[:60], Y[:60], X[60:]
    label = step_cls.name
    if step_cls.resamples:
        resampler = step_cls(**params)
        X_out, Y_out = resampler.fit_resample(X_train, Y_train, names, seed=0)
        assert X_out.dtype == np.float32 and Y_out.dtype == np.uint8, f"{label}: dtypes"
        kept = resampler.kept_rows()
        if kept is None:  # an oversampler: every input row first
            kept = np.arange(60)
        assert np.array_equal(kept, np.unique(kept)) and kept.max() < 60, f"{label}: kept rows"
        assert np.array_equal(X_out[: len(kept)], X_train[kept]), f"{label}: input rows changed"
        assert np.array_equal(Y_out[: len(kept)], Y_train[kept]), f"{label}: labels changed"
        again = step_cls(**params).fit_resample(X_train, Y_train, names, seed=0)
        assert np.array_equal(again[0], X_out), f"{label}: not deterministic"
        assert np.array_equal(step_cls(**params).transform(X_valid), X_valid), f"{label}: rows"
        return

    step = step_cls(**params).fit(X_train, Y_train, names, seed=0)
    out = step.transform(X_valid)
    assert out.dtype == np.float32, f"{label}: dtype {out.dtype}"
    assert out.shape == (30, len(step.feature_names_out)), f"{label}: shape {out.shape}"
    assert np.isfinite(out).all(), f"{label}: non-finite output"
    again = step_cls(**params).fit(X_train, Y_train, names, seed=0).transform(X_valid)
    assert np.array_equal(again, out), f"{label}: not deterministic"
    restored = step_cls.from_state(_roundtrip_step(step.state()))
    assert np.array_equal(restored.transform(X_valid), out), f"{label}: state lost"
    assert restored.feature_names_out == step.feature_names_out, f"{label}: names lost"

    config = [StepConfig(step_cls.name, params)]
    clean = prepare_fold(config, X_train, Y_train, X_valid, X_valid, names)
    poisoned = np.full_like(X_valid, np.nan)
    leaky = prepare_fold(config, X_train, Y_train, poisoned, poisoned, names)
    assert np.array_equal(leaky.X_train, clean.X_train), f"{label}: fitted on validation rows"
    assert np.array_equal(leaky.chain.transform(X_valid), clean.X_valid), (
        f"{label}: fitted state depends on validation rows"
    )

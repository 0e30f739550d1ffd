"""Conformance checks every model family must pass (used by the test suite).

Call :func:`check_model_family` with a family class and parameters; it raises
``AssertionError`` (this is test code) naming the first broken rule.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from automoa.exceptions import BudgetExhausted
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import restore
from automoa.search.deadline import Deadline


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
    import json

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
    :class:`BudgetExhausted` or a model) rather than running on.
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

    # Past its deadline a family either raises BudgetExhausted or returns a usable model.
    late: FittedModel | None = None
    with contextlib.suppress(BudgetExhausted):
        late = family(**params).fit(X, Y, deadline=Deadline(1e-9), seed=0)
    if late is not None:
        late_proba = late.predict_proba(X_new)
        assert late_proba.shape == proba.shape, f"{family.name}: bad model after the deadline"

"""Search-space schema: the YAML format and the frozen objects it is parsed into.

A search space is a YAML file (shipped ones live in ``automoa/search_spaces/``, packaged as
``automoa.search_spaces``). It is validated by :func:`automoa.spaces.validation.parse_space`
into the frozen :class:`SearchSpace` defined here, and sampled by
:func:`automoa.spaces.sampler.sample` into a :class:`~automoa.config.PipelineConfig`.

The format
==========

.. code-block:: yaml

    name: default                 # required, non-empty string
    description: "..."            # optional string
    preprocessing:                # optional, ordered list; applied first to last
      - step: quantile            # required: a registered step name (automoa.preprocessing)
        id: quantile              # optional, default the step name: names the entry in
                                  #   Optuna names; distinct per entry (see Step ids)
        optional: true            # optional, default true: sampled as categorical
                                  #   `prep.quantile.enabled` in [false, true];
                                  #   false => always applied
        default_enabled: true     # optional, default true: enabled in the default
                                  #   configuration (must be true when optional is false)
        fit_on: train             # optional: train (default) or train+test (see fit_on)
        params:                   # optional: parameter name -> parameter spec (below)
          n_quantiles: {type: int, low: 20, high: 200, log: true, default: 100}
          output_distribution: normal   # a bare scalar is a constant
    models:                       # required, at least one registered family;
      linear:                     #   sampled as categorical `model.family`
        params:                   # optional (a family with no block, `linear: {}` or
          C: {type: float, low: 1.0e-4, high: 10.0, log: true, default: 1.0}
          class_weight: {type: categorical, choices: [none, balanced], default: none}
    losses:                       # optional; sampled as `loss.name` only when the chosen
      bce: {}                     #   family trains with a loss (its ``uses_loss``)
      focal:
        default: true             # optional: the default configuration's loss (at most one
        params:                   #   loss; without it, the first loss in sorted order)
          gamma: {type: float, low: 0.5, high: 3.0, default: 2.0}
    starts:                       # optional: known-good configurations tried first
      - name: strong-linear       # required, distinct
        family: linear            # required: a family of `models`
        params:                   # Optuna parameter values overriding the family's default
          model.linear.C: 0.001   #   configuration (see Starts)

Keys
----
Top level: ``name`` (required), ``description``, ``preprocessing``, ``models`` (required),
``losses``, ``starts``; nothing else. A preprocessing entry: ``step`` (required), ``id``,
``optional``, ``default_enabled``, ``fit_on``, ``params``. A model entry: ``params`` only; a
loss entry: ``params`` and ``default`` (an empty entry, ``{}`` or nothing at all, is allowed).
A start: ``name`` and ``family``
(required), ``params``. Family, step and parameter names
are checked against the registries (:func:`automoa.models.family_names`,
:func:`automoa.preprocessing.step_names`) and the constructor signatures (a constructor that
takes ``**kwargs`` accepts any name; a constructor argument without a default must be given).
Loss names and their parameters are checked against :data:`automoa.losses.LOSS_PARAMS`.

Step ids
--------
Every preprocessing entry has an id: ``id: <name>`` (letters, digits, ``_`` and ``-``), by
default its step name. Ids must be distinct, so a step without an id appears at most once, and
the same step type can appear several times with distinct ids, each with its own parameters:

.. code-block:: yaml

    preprocessing:
      - step: pca
        id: pca_genes
        params:
          group: g-          # columns whose name starts with g-
          n_components: {type: int, low: 10, high: 100, log: true, default: 50}
          mode: append
      - step: pca
        id: pca_cells
        params:
          group: c-
          n_components: {type: int, low: 2, high: 20, default: 5}
          mode: append

The id names the entry's Optuna parameters (``prep.pca_genes.enabled``,
``prep.pca_genes.n_components``) and is carried by the sampled
:class:`~automoa.config.StepConfig` (``id=None`` when it equals the step name; its
``key`` is the id either way).

fit_on
------
``fit_on: train`` (the default) fits the step on the training rows of a fold only.
``fit_on: train+test`` is a transductive opt-in: the step is fitted on the features (never the
labels) of every row it transforms in the fold (training, validation and test rows), as is
common for rank-gauss or PCA in competitions. It is refused for a step that uses the labels
(class attribute ``supervised``) or adds rows (``resamples``), e.g. MLSMOTE. The sampled
:class:`~automoa.config.StepConfig` carries it.

Binding to the data
-------------------
:func:`automoa.spaces.bind_data` (``space, feature_names, n_train_rows``) returns a new space in
which every step's specs are replaced by its class's
:meth:`~automoa.preprocessing.base.Step.bind` (data-dependent bounds, e.g. PCA components
capped by the column count of the group). The returned specs are re-checked with the rules
below and an invalid one raises :class:`~automoa.exceptions.SearchSpaceError` naming the
entry's position, its id and the parameter. A study binds the space before sampling and stores
the bound space (its canonical JSON shows the bound values; the same data binds to the same
space). The default ``bind`` keeps the specs, so such a space binds to itself.

Parameter specs
---------------
Each is read into one of the frozen specs of :mod:`automoa.params`:

- a bare scalar (string, integer, float, boolean or null): a constant;
- ``{type: constant, value: X}``: the same, spelled out (``X`` a scalar);
- ``{type: float, low, high, log?, step?, default?}``: ``low < high``; ``log: true`` needs
  ``low > 0``; ``step`` (> 0, ``high - low`` a multiple of it) is a grid and cannot be combined
  with ``log``;
- ``{type: int, low, high, log?, step?, default?}``: integers, ``low <= high``; ``log: true``
  needs ``low >= 1``; ``step`` is an integer >= 1 dividing ``high - low``, not combined with
  ``log``;
- ``{type: categorical, choices: [...], default?}``: a non-empty list of distinct scalars.

``default`` must lie in the range (on the ``step`` grid) or among the choices. When it is left
out, the default configuration uses the midpoint of the range (geometric when ``log``, rounded
for ``int``, snapped to the ``step`` grid) or the first choice. Constants are never suggested to
Optuna; they go straight into the sampled configuration.

Optuna parameter names
----------------------
Names are namespaced by branch, so a conditional branch never reuses a name:
``model.family``, ``model.<family>.<param>``, ``prep.<id>.enabled`` (optional steps only),
``prep.<id>.<param>``, ``loss.name``, ``loss.<loss>.<param>``, where ``<id>`` is the entry's id
(by default its step name). ``model.family`` is suggested
even when the space has one family (a one-choice categorical), and ``loss.name`` even with one
loss, so names stay stable when a space grows. Family and loss choices are offered in sorted
order. The default loss (used by the default configuration and by starts that do not name one)
is the loss marked ``default: true``, else the first loss in sorted order.
When the chosen family uses a loss but the space has no ``losses`` block, the configuration's
loss is ``None`` (the family's own default).

Starts
------
``starts`` lists configurations a new study evaluates first, in order, before the default
configuration of each family (:func:`automoa.spaces.start_params`). Each names a family and
overrides values of that family's default configuration, by Optuna parameter name
(``model.mlp.hidden_size``, ``prep.pca_genes.enabled``, ``loss.name``,
``loss.smoothed_bce.smoothing``); a step it enables or a loss it selects starts from its own
defaults. Every value is checked against the space when it is loaded, so a start is always a
configuration the sampler could produce. After binding to the data, a start that no longer
fits the bound ranges is skipped with a warning.

YAML dialect
------------
Files are read with a safe loader that follows YAML 1.2 for scalars: ``1e-4`` is a float (YAML
1.1 would read it as a string), only ``true``/``false`` are booleans (``yes``, ``no``, ``on``,
``off`` stay strings), ``null``/``~`` are null. A key repeated within one mapping is an error.

Errors
------
Every problem raises :class:`~automoa.exceptions.SearchSpaceError` with one line
``<file>: <key.path>: <what is wrong>, expected <what>``, for example
``default.yaml: models.linear.params.C.low: expected a number below high (10.0), got 20.0``.
List entries are addressed by their zero-based index: ``preprocessing[1].params.n_quantiles``;
the document itself is ``(top level)``; YAML syntax errors and duplicate keys give
``line L, column C`` instead of a key path.

Canonical form
--------------
:meth:`SearchSpace.to_dict` is itself a valid space document with every key spelled out and
every default resolved, except that a preprocessing entry's ``id`` and ``fit_on`` and a loss's
``default`` are written only when they differ from their defaults (the step name, ``train``,
``false``), so spaces that do not use them keep their hash; :meth:`SearchSpace.to_json`
(sorted keys, compact) is therefore independent of comments, key order and the file's location,
and :attr:`SearchSpace.hash` is its sha256. The name, description, ids, ``fit_on`` and the
default loss are part of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from automoa.config import FIT_ON_CHOICES
from automoa.params import ParamSpec, Scalar

#: ``fit_on`` when a preprocessing entry does not say (one of :data:`FIT_ON_CHOICES`).
DEFAULT_FIT_ON = FIT_ON_CHOICES[0]


def _params_dict(params: Mapping[str, ParamSpec]) -> dict[str, Any]:
    return {name: spec.to_dict() for name, spec in params.items()}


def _freeze(params: Mapping[str, Any] | None) -> MappingProxyType:
    return MappingProxyType(dict(sorted((params or {}).items())))


@dataclass(frozen=True)
class StepSpec:
    """One preprocessing step of the space.

    Attributes:
        name: registered step name.
        optional: whether the step is switched on and off by ``prep.<id>.enabled``.
        default_enabled: whether the default configuration applies it.
        params: parameter name -> spec (read-only mapping, sorted by name).
        id: the entry's id when it differs from ``name``, else ``None`` (an id equal to the name
            is stored as ``None``, so both spellings compare equal); see :attr:`key`.
        fit_on: ``"train"`` (fitted on training rows) or ``"train+test"`` (transductive: fitted
            on the features of every row it transforms).
    """

    name: str
    optional: bool = True
    default_enabled: bool = True
    params: Mapping[str, ParamSpec] = field(default_factory=lambda: _freeze(None))
    id: str | None = None
    fit_on: str = DEFAULT_FIT_ON

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(self.params))
        if self.id == self.name:
            object.__setattr__(self, "id", None)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @property
    def key(self) -> str:
        """The entry's id in the space (``id`` or ``name``), used in Optuna parameter names."""
        return self.id or self.name

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (a valid ``preprocessing`` entry).

        ``id`` and ``fit_on`` are written only when they differ from their defaults (the step
        name and ``"train"``), so spaces that do not use them keep their hash.
        """
        data: dict[str, Any] = {
            "step": self.name,
            "optional": self.optional,
            "default_enabled": self.default_enabled,
            "params": _params_dict(self.params),
        }
        if self.id is not None:
            data["id"] = self.id
        if self.fit_on != DEFAULT_FIT_ON:
            data["fit_on"] = self.fit_on
        return data


@dataclass(frozen=True)
class FamilySpec:
    """One model family of the space.

    Attributes:
        name: registered family name.
        params: parameter name -> spec (read-only mapping, sorted by name).
        uses_loss: whether the family trains with a selectable loss (from the registry; not
            part of the canonical form).
    """

    name: str
    params: Mapping[str, ParamSpec] = field(default_factory=lambda: _freeze(None))
    uses_loss: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(self.params))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (a valid ``models`` entry)."""
        return {"params": _params_dict(self.params)}


@dataclass(frozen=True)
class LossSpec:
    """One training loss of the space.

    Attributes:
        name: loss name (a key of :data:`automoa.losses.LOSS_PARAMS`).
        params: parameter name -> spec (read-only mapping, sorted by name).
        default: whether this is the space's default loss (``default: true``).
    """

    name: str
    params: Mapping[str, ParamSpec] = field(default_factory=lambda: _freeze(None))
    default: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(self.params))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (a valid ``losses`` entry)."""
        data: dict[str, Any] = {"params": _params_dict(self.params)}
        if self.default:  # written only when set: spaces without it keep their hash
            data["default"] = True
        return data


@dataclass(frozen=True)
class StartSpec:
    """A known-good configuration evaluated first (see Starts).

    Attributes:
        name: a label, distinct within the space.
        family: one of the space's families.
        params: Optuna parameter name -> value, overriding the family's default configuration.
    """

    name: str
    family: str
    params: Mapping[str, Scalar] = field(default_factory=lambda: _freeze(None))

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(self.params))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form (a valid ``starts`` entry)."""
        return {"name": self.name, "family": self.family, "params": dict(self.params)}


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space.

    Build it with :func:`automoa.spaces.load_space` or :func:`automoa.spaces.space_from_json`,
    not by hand (the constructor does not validate).

    Attributes:
        name: the space's name.
        description: free text.
        steps: preprocessing steps, in application order.
        families: family name -> spec (read-only mapping, sorted by name).
        losses: loss name -> spec (read-only mapping, sorted by name; may be empty).
        starts: known-good configurations, in the order they are tried.
        source: where the space was read from (not part of the canonical form or equality).
    """

    name: str
    description: str = ""
    steps: tuple[StepSpec, ...] = ()
    families: Mapping[str, FamilySpec] = field(default_factory=lambda: _freeze(None))
    losses: Mapping[str, LossSpec] = field(default_factory=lambda: _freeze(None))
    starts: tuple[StartSpec, ...] = ()
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "starts", tuple(self.starts))
        object.__setattr__(self, "families", _freeze(self.families))
        object.__setattr__(self, "losses", _freeze(self.losses))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-ready form; itself a valid space document."""
        data = {
            "name": self.name,
            "description": self.description,
            "preprocessing": [step.to_dict() for step in self.steps],
            "models": {name: spec.to_dict() for name, spec in self.families.items()},
            "losses": {name: spec.to_dict() for name, spec in self.losses.items()},
        }
        if self.starts:  # absent when empty: spaces without starts keep their hash
            data["starts"] = [start.to_dict() for start in self.starts]
        return data

    @property
    def default_loss(self) -> str | None:
        """The loss of the default configuration: the one marked ``default``, else the first
        in sorted order (``None`` without losses)."""
        marked = [name for name, spec in self.losses.items() if spec.default]
        return marked[0] if marked else next(iter(self.losses), None)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, compact, independent of the source file's layout."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @property
    def hash(self) -> str:
        """sha256 (hex) of :meth:`to_json`; a study stores it to detect a changed space."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

"""The base of the torch families (``mlp``, ``tabnet``): training plan, auxiliary targets, state.

A torch family only says how to build its network body (:meth:`TorchFamily.body_spec` and
:meth:`FittedTorchModel.build_body`); this module does the rest, the same way for every family:

- **Loss**: the trial's loss (:mod:`automoa.losses`) on the scored targets; validation always
  uses plain log loss on hard labels.
- **Optimiser**: ``adam`` with a coupled L2 penalty ``l2`` (the MoA winners' Adam with
  ``weight_decay=1e-5``) or ``adamw`` with decoupled ``weight_decay``, which only acts at
  around 1e-2 (each step shrinks the weights by lr x decay, about 5e-5 per step at lr 5e-3).
  ``adamw`` is the constructor default so that configurations written before the choice
  existed train as they did; the shipped spaces default to ``adam``.
- **Schedule**: OneCycle runs all its epochs and keeps the best one; patience stops only the
  ``plateau`` and ``constant`` schedules.
- **Seeds**: ``n_seeds`` networks with different seeds, probabilities averaged.
- **Auxiliary targets** (``aux``), used when the data has non-scored targets:

  - ``none``: ignore them.
  - ``multitask``: a second head predicts them; its BCE, times ``aux_weight``, joins the loss.
  - ``pretrain``: train body + auxiliary head on them for ``pretrain_epochs``, then train the
    scored head (the body keeps learning).
  - ``two_stage``: stage 1 predicts them; stage 2 sees the features plus those predictions,
    rank-gaussed. Stage 1's predictions for the training rows are out-of-fold over
    ``stage1_folds`` inner folds of the *training fold* that keep each group (drug) whole
    (:func:`automoa.folds.make_folds`, as the study's folds), so stage 2 never trains on a
    prediction from a model that saw the row or another replicate of its drug, just as
    validation and test rows, which get the mean of the inner models' predictions. A
    quantile-to-normal transform fitted on the training rows' out-of-fold predictions maps
    every stage-1 prediction before stage 2 sees it.

  Rows added by oversampling have no auxiliary labels and no group: they are left out of the
  auxiliary loss, of pre-training and of stage-1 training. For ``two_stage`` such a row is
  predicted by the inner model that held out its nearest labelled row (its source, see
  :func:`stage1_fold_of_resampled`), never by the average of models trained on that source.
- **Budget**: the deadline is checked after every epoch; past it the fit raises
  :class:`~automoa.exceptions.BudgetExhausted` and the trial is pruned.
- **Threads**: the worker's share of cores (:func:`~automoa.models.torch_training.worker_threads`).
- **Determinism**: all randomness comes from the seed (torch's global generator is forked, so
  fitting does not disturb the caller's random state).
- **State**: the networks' ``state_dict`` tensors as numpy arrays plus a JSON spec; no pickle.

Labels constant in the training fold are trained on like the others (``fits_constant_labels``:
leaving them out would change the other labels' numbers) and predicted with their smoothed prior
by :class:`~automoa.models.base.FittedModel`, as in the other families.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.fit_context import ConstantLabels
from automoa.params import ConstantParam

if TYPE_CHECKING:
    from automoa.models.fit_context import FitContext

AUX_MODES = ("none", "multitask", "pretrain", "two_stage")
#: Quantiles of the rank-gauss of stage-1 predictions (the MoA winners' rank-gauss used 100).
STAGE1_QUANTILES = 100
#: Prefix of the stage-1 rank-gauss arrays in a model's state.
QUANTILE_PREFIX = "stage1_quantile."
#: Multiply-adds of one batch's first layer below which training uses one thread.
SMALL_BATCH_WORK = 4_000_000


def _torch():
    import torch

    from automoa.models import torch_training

    return torch, torch_training


def _aux_columns(Y_aux: np.ndarray | None) -> np.ndarray:
    """Auxiliary columns worth learning: at least one positive and one negative."""
    if Y_aux is None or not len(Y_aux):
        return np.zeros(0, dtype=np.int64)
    positives = Y_aux.sum(axis=0)
    return np.flatnonzero((positives > 0) & (positives < len(Y_aux)))


def stage1_folds(
    Y_aux: np.ndarray, n_splits: int, seed: int, groups: np.ndarray | None
) -> np.ndarray:
    """Inner fold of each labelled training row for ``two_stage``'s out-of-fold predictions.

    Groups of at most 18 rows (drugs with a few replicates) go whole to one fold, as in the
    study's folds, so a row's stage-1 prediction never comes from a model that saw another
    replicate of its drug; stratified on the auxiliary targets stage 1 learns.

    Args:
        Y_aux: (n, k) auxiliary labels of the labelled rows.
        n_splits: number of inner folds.
        seed: random seed.
        groups: (n,) group labels, or ``None`` (every row its own group).

    Returns:
        int array of shape (n,) with values in ``range(n_splits)``.

    Raises:
        ValueError: if ``groups`` does not label every labelled row.
    """
    from automoa.folds import make_folds

    if groups is not None and len(groups) != len(Y_aux):
        raise ValueError(
            f"groups: expected one label per row with auxiliary labels ({len(Y_aux)}), "
            f"got {len(groups)}"
        )
    return make_folds(Y_aux, n_splits, seed, groups=groups).astype(np.int64)


def stage1_fold_of_resampled(X_labelled, X_extra, fold_of: np.ndarray) -> np.ndarray:
    """Inner fold of rows added by oversampling: the fold of their nearest labelled row.

    Such a row copies a training row (repetition) or lies between two rows of one label's bag
    (MLSMOTE), so every inner model except the one that held out its source has seen the
    source. Predicting it with that model keeps its stage-1 features as out-of-fold as those
    of real rows: exactly so for copies (the nearest row is the source), and for MLSMOTE rows
    whose two parents share a drug (replicates are close, and their group sits in one fold).

    Args:
        X_labelled: (n, d) tensor of the labelled (original) training rows.
        X_extra: (m, d) tensor of the added rows.
        fold_of: (n,) inner fold of each labelled row.

    Returns:
        int array of shape (m,).
    """
    import torch

    nearest = []
    for start in range(0, len(X_extra), 1024):  # bounds the distance matrix's memory
        distances = torch.cdist(X_extra[start : start + 1024].float(), X_labelled.float())
        nearest.append(distances.argmin(dim=1).cpu().numpy())
    rows = np.concatenate(nearest) if nearest else np.zeros(0, dtype=np.int64)
    return fold_of[rows]


class FittedTorchModel(FittedModel):
    """Averaged networks (and, for ``two_stage``, the stage-1 networks feeding them).

    Subclasses implement :meth:`build_body` for their family.
    """

    family_name: ClassVar[str]

    def __init__(
        self,
        spec: dict[str, Any],
        nets: list,
        stage1_spec: dict[str, Any] | None,
        stage1_nets: list,
        stage1_quantile=None,
    ) -> None:
        self.spec = spec
        self.nets = nets
        self.stage1_spec = stage1_spec
        self.stage1_nets = stage1_nets
        # Rank-gauss of the stage-1 predictions (a fitted QuantileStep); None in models saved
        # before it existed, whose stage 2 reads raw probabilities.
        self.stage1_quantile = stage1_quantile

    @classmethod
    @abstractmethod
    def build_body(cls, spec: dict[str, Any], device):
        """The network body described by ``spec``: ``(module, width)``."""

    @classmethod
    def build_net(cls, spec: dict[str, Any], device):
        """A :class:`~automoa.models.torch_training.MultiHeadNet` for ``spec`` on ``device``."""
        _, tt = _torch()
        body, width = cls.build_body(spec, device)
        net = tt.MultiHeadNet(
            body, width, spec["n_main"], spec["n_aux"], spec.get("head_weight_norm", False)
        )
        return net.to(device)

    @staticmethod
    def _mean_proba(nets, X) -> np.ndarray:
        torch, tt = _torch()
        total = None
        for net in nets:
            proba = torch.sigmoid(tt.predict_logits(net, X))
            total = proba if total is None else total + proba
        return (total / len(nets)).cpu().numpy().astype(np.float32)

    def stage2_features(self, X_t):
        """Features plus rank-gaussed stage-1 predictions (``two_stage``), else the features."""
        torch, _ = _torch()
        if not self.stage1_nets:
            return X_t
        extra = self._mean_proba(self.stage1_nets, X_t)
        if self.stage1_quantile is not None:
            extra = self.stage1_quantile.transform(extra)
        return torch.cat([X_t, torch.from_numpy(extra).to(X_t.device)], dim=1)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        _, tt = _torch()
        device = next(self.nets[0].parameters()).device
        with tt.torch_threads(tt.worker_threads()):
            X_t = self.stage2_features(tt.as_tensor(X, device))
            return self._mean_proba(self.nets, X_t)

    def state(self) -> ModelState:
        _, tt = _torch()
        arrays = self.constant.arrays()
        for i, net in enumerate(self.nets):
            arrays.update(tt.state_arrays(net, f"net{i}."))
        for i, net in enumerate(self.stage1_nets):
            arrays.update(tt.state_arrays(net, f"stage1_{i}."))
        meta = {
            "spec": self.spec,
            "n_nets": len(self.nets),
            "stage1_spec": self.stage1_spec,
            "n_stage1": len(self.stage1_nets),
        }
        if self.stage1_quantile is not None:
            quantile = self.stage1_quantile.state()
            meta["stage1_quantile"] = {"params": quantile.params, "meta": quantile.meta}
            arrays.update({f"{QUANTILE_PREFIX}{k}": v for k, v in quantile.arrays.items()})
        return ModelState(self.family_name, meta, arrays)

    @classmethod
    def from_state(cls, state: ModelState) -> FittedTorchModel:
        torch, tt = _torch()
        device = torch.device("cpu")

        def load(spec, prefix: str):
            net = cls.build_net(spec, device)
            tt.load_state_arrays(net, state.arrays, prefix)
            return net.eval()

        meta = state.meta
        nets = [load(meta["spec"], f"net{i}.") for i in range(meta["n_nets"])]
        stage1 = [load(meta["stage1_spec"], f"stage1_{i}.") for i in range(meta["n_stage1"])]
        quantile = None
        if meta.get("stage1_quantile") is not None:  # absent in models saved before it
            from automoa.preprocessing.base import StepState
            from automoa.preprocessing.quantile import QuantileStep

            arrays = {
                k[len(QUANTILE_PREFIX) :]: v
                for k, v in state.arrays.items()
                if k.startswith(QUANTILE_PREFIX)
            }
            saved = meta["stage1_quantile"]
            quantile = QuantileStep.from_state(
                StepState(QuantileStep.name, saved["params"], saved["meta"], arrays)
            )
        model = cls(meta["spec"], nets, meta["stage1_spec"], stage1, quantile)
        return model.with_constant(ConstantLabels.from_arrays(state.arrays))


class TorchFamily(ModelFamily):
    """Shared training parameters of the torch families.

    Args:
        lr: learning rate (OneCycle's peak).
        weight_decay: AdamW's decoupled weight decay (``optimizer="adamw"``; acts from about
            1e-2).
        scheduler: ``onecycle``, ``plateau`` or ``constant``.
        epochs: epochs at most (all of them with ``onecycle``).
        batch_size: rows per step.
        patience: epochs without validation improvement before stopping (``plateau`` and
            ``constant`` only).
        n_seeds: networks averaged, each with its own seed.
        precision: ``auto`` (bfloat16 autocast where the hardware has it), ``float32`` or
            ``bfloat16``.
        aux: use of auxiliary targets: ``none``, ``multitask``, ``pretrain``, ``two_stage``.
        aux_weight: weight of the auxiliary loss (``multitask``).
        pretrain_epochs: epochs on auxiliary targets (``pretrain``).
        stage1_folds: inner folds for stage-1 out-of-fold predictions (``two_stage``).
        optimizer: ``adam`` (coupled L2 ``l2``, the MoA winners') or ``adamw`` (decoupled
            ``weight_decay``; the default when a configuration does not name one).
        l2: Adam's L2 coefficient (``optimizer="adam"``; the winners used 1e-5).
    """

    uses_loss = True
    # One output per label: leaving constant labels out would change the initialisation of the
    # others, the mean loss they train on and the validation loss that picks the best epoch.
    fits_constant_labels = True

    def __init__(
        self,
        *,
        lr: float,
        weight_decay: float,
        scheduler: str,
        epochs: int,
        batch_size: int,
        patience: int,
        n_seeds: int,
        precision: str,
        aux: str,
        aux_weight: float,
        pretrain_epochs: int,
        stage1_folds: int,
        optimizer: str,
        l2: float,
        **family_params: Any,
    ) -> None:
        _, tt = _torch()
        if aux not in AUX_MODES:
            raise ValueError(f"aux must be one of {AUX_MODES}, got {aux!r}")
        if n_seeds < 1 or pretrain_epochs < 1 or stage1_folds < 2 or aux_weight < 0:
            raise ValueError(
                "n_seeds and pretrain_epochs must be >= 1, stage1_folds >= 2, aux_weight >= 0"
            )
        self.settings = tt.TrainSettings(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            scheduler=scheduler,
            patience=patience,
            precision=precision,
            optimizer=optimizer,
            l2=l2,
        )
        super().__init__(
            lr=lr,
            weight_decay=weight_decay,
            scheduler=scheduler,
            epochs=epochs,
            batch_size=batch_size,
            patience=patience,
            n_seeds=n_seeds,
            precision=precision,
            aux=aux,
            aux_weight=aux_weight,
            pretrain_epochs=pretrain_epochs,
            stage1_folds=stage1_folds,
            optimizer=optimizer,
            l2=l2,
            **family_params,
        )

    @classmethod
    def bind(cls, params, n_aux_labels: int):
        """Without auxiliary targets, ``aux`` can only be ``none``: the choice is fixed."""
        if n_aux_labels == 0 and "aux" in params:
            return {**params, "aux": ConstantParam("none")}
        return params

    @abstractmethod
    def first_width(self) -> int:
        """Width of the body's first layer (sizes the work of one batch)."""

    @abstractmethod
    def body_spec(self, n_in: int) -> dict[str, Any]:
        """JSON spec of the body for ``n_in`` inputs (read by ``fitted_class.build_body``)."""

    def _fit(self, X: np.ndarray, Y: np.ndarray, ctx: FitContext) -> FittedTorchModel:
        torch, tt = _torch()
        from automoa.losses import make_loss

        seed, deadline, Y_aux = ctx.seed, ctx.deadline, ctx.Y_aux
        dev = tt.torch_device(ctx.device)
        loss, params = ("bce", {}) if ctx.loss is None else (ctx.loss.name, ctx.loss.params)
        loss_fn = make_loss(loss, params, Y)
        aux_mode = self.params["aux"]
        aux_cols = _aux_columns(Y_aux)
        if not len(aux_cols):
            aux_mode = "none"
        Y_aux_used = Y_aux[:, aux_cols] if aux_mode != "none" else None
        cuda_devices = [dev.index or 0] if dev.type == "cuda" else []

        # Small products run faster on one thread than split across cores (thread start-up
        # and synchronisation dominate them).
        small = self.settings.batch_size * X.shape[1] * self.first_width() < SMALL_BATCH_WORK
        threads = 1 if small else tt.worker_threads()
        with tt.torch_threads(threads), torch.random.fork_rng(devices=cuda_devices):
            X_t = tt.as_tensor(X, dev)
            X_valid_t = None if ctx.X_val is None else tt.as_tensor(ctx.X_val, dev)
            stage1_spec, stage1_nets, quantile = None, [], None
            if aux_mode == "two_stage":
                stage1_spec, stage1_nets, quantile, X_t, X_valid_t = self._two_stage(
                    X_t, X_valid_t, Y_aux_used, deadline, seed, dev, ctx.groups
                )
            n_aux = Y_aux_used.shape[1] if aux_mode in ("multitask", "pretrain") else 0
            spec = {**self.body_spec(X_t.shape[1]), "n_main": Y.shape[1], "n_aux": n_aux}
            nets = []
            for k in range(self.params["n_seeds"]):
                net_seed = seed * 1000 + k
                torch.manual_seed(net_seed)
                net = self.fitted_class.build_net(spec, dev)
                tt.set_head_bias(net.main, tt.output_bias(Y))
                if aux_mode == "pretrain":
                    self._pretrain(net, X_t, Y_aux_used, deadline, net_seed)
                valid = None if X_valid_t is None or ctx.Y_val is None else (X_valid_t, ctx.Y_val)
                tt.train_network(
                    net,
                    X_t,
                    Y,
                    loss_fn,
                    self.settings,
                    valid=valid,
                    aux_targets=Y_aux_used if aux_mode == "multitask" else None,
                    aux_weight=self.params["aux_weight"],
                    deadline=deadline,
                    seed=net_seed,
                    label=self.name,
                )
                nets.append(net.eval())
        return self.fitted_class(spec, nets, stage1_spec, stage1_nets, quantile)

    def _pretrain(self, net, X_t, Y_aux_used, deadline, seed) -> None:
        """Train body + auxiliary head on the rows that have auxiliary labels."""
        import dataclasses

        _, tt = _torch()
        from automoa.losses import make_loss

        tt.set_head_bias(net.aux, tt.output_bias(Y_aux_used))
        settings = dataclasses.replace(self.settings, epochs=self.params["pretrain_epochs"])
        tt.train_network(
            net,
            X_t[: len(Y_aux_used)],
            Y_aux_used,
            make_loss("bce", {}, Y_aux_used),
            settings,
            head="aux",
            deadline=deadline,
            seed=seed + 500,
            label=f"{self.name} pre-training",
        )

    def _two_stage(self, X_t, X_valid_t, Y_aux_used, deadline, seed, dev, groups=None):
        """Stage-1 networks on the auxiliary targets and the stage-2 inputs they give.

        Returns:
            ``(spec, nets, quantile, X_stage2, X_valid_stage2)``: the stage-1 networks, the
            fitted rank-gauss of their predictions and the stage-2 training and validation
            features.
        """
        torch, tt = _torch()
        from automoa.losses import make_loss
        from automoa.preprocessing.quantile import QuantileStep

        labelled = len(Y_aux_used)
        n_splits = self.params["stage1_folds"]
        spec = {**self.body_spec(X_t.shape[1]), "n_main": Y_aux_used.shape[1], "n_aux": 0}
        fold_of = stage1_folds(Y_aux_used, n_splits, seed, groups)
        X_labelled, X_extra = X_t[:labelled], X_t[labelled:]
        extra_fold = stage1_fold_of_resampled(X_labelled, X_extra, fold_of)
        oof = np.zeros((len(X_t), Y_aux_used.shape[1]), dtype=np.float32)
        nets = []
        for k in range(n_splits):
            inner_valid = np.flatnonzero(fold_of == k)
            if not len(inner_valid):
                continue
            inner_train = np.flatnonzero(fold_of != k)
            torch.manual_seed(seed * 1000 + 900 + k)
            net = self.fitted_class.build_net(spec, dev)
            targets = Y_aux_used[inner_train]
            tt.set_head_bias(net.main, tt.output_bias(targets))
            inner_valid_t = torch.from_numpy(inner_valid).to(dev)
            tt.train_network(
                net,
                X_labelled[torch.from_numpy(inner_train).to(dev)],
                targets,
                make_loss("bce", {}, targets),
                self.settings,
                valid=(X_labelled[inner_valid_t], Y_aux_used[inner_valid]),
                deadline=deadline,
                seed=seed * 1000 + 900 + k,
                label=f"{self.name} stage 1",
            )
            net.eval()
            oof[inner_valid] = FittedTorchModel._mean_proba([net], X_labelled[inner_valid_t])
            extra = np.flatnonzero(extra_fold == k)
            if len(extra):
                rows = torch.from_numpy(extra).to(dev)
                oof[labelled + extra] = FittedTorchModel._mean_proba([net], X_extra[rows])
            nets.append(net)
        # Rank-gauss fitted on the real rows' out-of-fold predictions only (added rows would
        # weigh the rare positives they copy twice).
        names = tuple(f"stage1_{j}" for j in range(oof.shape[1]))
        quantile = QuantileStep(n_quantiles=STAGE1_QUANTILES).fit(oof[:labelled], None, names)
        X_stage2 = torch.cat([X_t, torch.from_numpy(quantile.transform(oof)).to(dev)], dim=1)
        X_valid_stage2 = None
        if X_valid_t is not None:
            extra = quantile.transform(FittedTorchModel._mean_proba(nets, X_valid_t))
            X_valid_stage2 = torch.cat([X_valid_t, torch.from_numpy(extra).to(dev)], dim=1)
        return spec, nets, quantile, X_stage2, X_valid_stage2

"""The base of the torch families (``mlp``, ``tabnet``): training plan, auxiliary targets, state.

A torch family only says how to build its network body (:meth:`TorchFamily.body_spec` and
:meth:`FittedTorchModel.build_body`); this module does the rest, the same way for every family:

- **Loss**: the trial's loss (:mod:`automoa.losses`) on the scored targets; validation always
  uses plain log loss on hard labels.
- **Seeds**: ``n_seeds`` networks with different seeds, probabilities averaged.
- **Auxiliary targets** (``aux``), used when the data has non-scored targets:

  - ``none``: ignore them.
  - ``multitask``: a second head predicts them; its BCE, times ``aux_weight``, joins the loss.
  - ``pretrain``: train body + auxiliary head on them for ``pretrain_epochs``, then train the
    scored head (the body keeps learning).
  - ``two_stage``: stage 1 predicts them; stage 2 sees the features plus those predictions.
    Stage 1's predictions for the training rows are out-of-fold over ``stage1_folds`` inner
    folds of the *training fold*, so stage 2 never trains on predictions that saw their own
    labels, and validation rows are only ever predicted. Validation and test rows get the mean
    of the inner models' predictions.

  Rows added by oversampling have no auxiliary labels: they are left out of the auxiliary loss
  and of pre-training, and stage 1 predicts them like new rows.
- **Budget**: the deadline is checked after every epoch; past it the fit raises
  :class:`~automoa.exceptions.BudgetExhausted` and the trial is pruned.
- **Threads**: the worker's share of cores (:func:`~automoa.models.torch_training.worker_threads`).
- **Determinism**: all randomness comes from the seed (torch's global generator is forked, so
  fitting does not disturb the caller's random state).
- **State**: the networks' ``state_dict`` tensors as numpy arrays plus a JSON spec; no pickle.

Labels constant in the training fold are predicted with their smoothed prior, as in the other
families.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState

AUX_MODES = ("none", "multitask", "pretrain", "two_stage")
#: Multiply-adds of one batch's first layer below which training uses one thread.
SMALL_BATCH_WORK = 4_000_000


def _torch():
    import torch

    from automoa.models import torch_training

    return torch, torch_training


def constructor_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """A subclass constructor's ``locals()`` as parameters (without ``self``/``__class__``)."""
    return {k: v for k, v in arguments.items() if k not in ("self", "__class__")}


def _aux_columns(Y_aux: np.ndarray | None) -> np.ndarray:
    """Auxiliary columns worth learning: at least one positive and one negative."""
    if Y_aux is None or not len(Y_aux):
        return np.zeros(0, dtype=np.int64)
    positives = Y_aux.sum(axis=0)
    return np.flatnonzero((positives > 0) & (positives < len(Y_aux)))


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
        constant_labels: np.ndarray,
        constant_rates: np.ndarray,
    ) -> None:
        self.spec = spec
        self.nets = nets
        self.stage1_spec = stage1_spec
        self.stage1_nets = stage1_nets
        self.constant_labels = np.asarray(constant_labels, dtype=bool)
        self.constant_rates = np.asarray(constant_rates, dtype=np.float32)

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
        """Features plus stage-1 predictions (``two_stage``), else the features."""
        torch, _ = _torch()
        if not self.stage1_nets:
            return X_t
        extra = torch.from_numpy(self._mean_proba(self.stage1_nets, X_t)).to(X_t.device)
        return torch.cat([X_t, extra], dim=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        _, tt = _torch()
        device = next(self.nets[0].parameters()).device
        with tt.torch_threads(tt.worker_threads()):
            X_t = self.stage2_features(tt.as_tensor(X, device))
            proba = self._mean_proba(self.nets, X_t)
        proba[:, self.constant_labels] = self.constant_rates[self.constant_labels]
        return proba

    def state(self) -> ModelState:
        _, tt = _torch()
        arrays = {"constant_labels": self.constant_labels, "constant_rates": self.constant_rates}
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
        return cls(
            meta["spec"],
            nets,
            meta["stage1_spec"],
            stage1,
            state.arrays["constant_labels"],
            state.arrays["constant_rates"],
        )


class TorchFamily(ModelFamily):
    """Shared training parameters of the torch families.

    Args:
        lr: AdamW learning rate (OneCycle's peak).
        weight_decay: AdamW weight decay.
        scheduler: ``onecycle``, ``plateau`` or ``constant``.
        epochs: epochs at most.
        batch_size: rows per step.
        patience: epochs without validation improvement before stopping.
        n_seeds: networks averaged, each with its own seed.
        precision: ``auto`` (bfloat16 autocast where the hardware has it), ``float32`` or
            ``bfloat16``.
        aux: use of auxiliary targets: ``none``, ``multitask``, ``pretrain``, ``two_stage``.
        aux_weight: weight of the auxiliary loss (``multitask``).
        pretrain_epochs: epochs on auxiliary targets (``pretrain``).
        stage1_folds: inner folds for stage-1 out-of-fold predictions (``two_stage``).
    """

    uses_loss = True

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
            **family_params,
        )

    @classmethod
    def bind(cls, params, n_aux_labels: int):
        """Without auxiliary targets, ``aux`` can only be ``none``: the choice is fixed."""
        from automoa.spaces.schema import ConstantParam

        if n_aux_labels == 0 and "aux" in params:
            return {**params, "aux": ConstantParam("none")}
        return params

    @abstractmethod
    def first_width(self) -> int:
        """Width of the body's first layer (sizes the work of one batch)."""

    @abstractmethod
    def body_spec(self, n_in: int) -> dict[str, Any]:
        """JSON spec of the body for ``n_in`` inputs (read by ``fitted_class.build_body``)."""

    def fit(
        self,
        X,
        Y,
        *,
        X_valid=None,
        Y_valid=None,
        deadline=None,
        seed=0,
        device="cpu",
        loss=None,
        Y_aux=None,
        groups=None,
    ):
        torch, tt = _torch()
        from automoa.losses import make_loss

        dev = tt.torch_device(device)
        loss_fn = (
            make_loss(loss.name, loss.params, Y) if loss is not None else make_loss("bce", {}, Y)
        )
        aux_mode = self.params["aux"]
        aux_cols = _aux_columns(Y_aux)
        if not len(aux_cols):
            aux_mode = "none"
        Y_aux_used = Y_aux[:, aux_cols] if aux_mode != "none" else None
        positives = Y.sum(axis=0)
        constant = (positives == 0) | (positives == len(Y))
        rates = prior_probabilities(Y).astype(np.float32)
        cuda_devices = [dev.index or 0] if dev.type == "cuda" else []

        # Small products run faster on one thread than split across cores (thread start-up
        # and synchronisation dominate them).
        small = self.settings.batch_size * X.shape[1] * self.first_width() < SMALL_BATCH_WORK
        threads = 1 if small else tt.worker_threads()
        with tt.torch_threads(threads), torch.random.fork_rng(devices=cuda_devices):
            X_t = tt.as_tensor(X, dev)
            X_valid_t = None if X_valid is None else tt.as_tensor(X_valid, dev)
            stage1_spec, stage1_nets = None, []
            if aux_mode == "two_stage":
                stage1_spec, stage1_nets, X_t, X_valid_t = self._two_stage(
                    X_t, X_valid_t, Y_aux_used, deadline, seed, dev
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
                valid = None if X_valid_t is None or Y_valid is None else (X_valid_t, Y_valid)
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
        return self.fitted_class(spec, nets, stage1_spec, stage1_nets, constant, rates)

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

    def _two_stage(self, X_t, X_valid_t, Y_aux_used, deadline, seed, dev):
        """Stage-1 networks on the auxiliary targets and the stage-2 inputs they give."""
        from sklearn.model_selection import KFold

        torch, tt = _torch()
        from automoa.losses import make_loss

        labelled = len(Y_aux_used)
        spec = {**self.body_spec(X_t.shape[1]), "n_main": Y_aux_used.shape[1], "n_aux": 0}
        oof = np.zeros((labelled, Y_aux_used.shape[1]), dtype=np.float32)
        folds = KFold(self.params["stage1_folds"], shuffle=True, random_state=seed)
        nets = []
        for k, (inner_train, inner_valid) in enumerate(folds.split(np.arange(labelled))):
            torch.manual_seed(seed * 1000 + 900 + k)
            net = self.fitted_class.build_net(spec, dev)
            targets = Y_aux_used[inner_train]
            tt.set_head_bias(net.main, tt.output_bias(targets))
            inner_valid_t = torch.from_numpy(inner_valid).to(dev)
            tt.train_network(
                net,
                X_t[torch.from_numpy(inner_train).to(dev)],
                targets,
                make_loss("bce", {}, targets),
                self.settings,
                valid=(X_t[inner_valid_t], Y_aux_used[inner_valid]),
                deadline=deadline,
                seed=seed * 1000 + 900 + k,
                label=f"{self.name} stage 1",
            )
            net.eval()
            oof[inner_valid] = FittedTorchModel._mean_proba([net], X_t[inner_valid_t])
            nets.append(net)
        extra_rows = X_t[labelled:]
        parts = [torch.from_numpy(oof).to(dev)]
        if len(extra_rows):  # rows added by oversampling: predicted like new rows
            parts.append(torch.from_numpy(FittedTorchModel._mean_proba(nets, extra_rows)).to(dev))
        X_stage2 = torch.cat([X_t, torch.cat(parts)], dim=1)
        X_valid_stage2 = None
        if X_valid_t is not None:
            extra = FittedTorchModel._mean_proba(nets, X_valid_t)
            X_valid_stage2 = torch.cat([X_valid_t, torch.from_numpy(extra).to(dev)], dim=1)
        return spec, nets, X_stage2, X_valid_stage2

"""What the torch families share: threads, precision, the training loop, safe state.

A torch family builds a :class:`MultiHeadNet`: a *body* mapping features to a representation
(and an optional regularisation penalty, e.g. TabNet's sparsity term) and one linear *head*
per target set (``main`` for the scored targets, ``aux`` for auxiliary targets). The loop in
:func:`train_network` then trains it on in-memory tensors (no DataLoader: a batch is an index
slice of a tensor), keeps the weights of the best validation epoch, and checks the deadline
after every epoch: once it has passed, the fit raises
:class:`~automoa.exceptions.BudgetExhausted` and the trial is pruned (never scored on a model
cut short at an arbitrary epoch).

Validation loss is plain BCE on hard labels, i.e. the competition log loss, whatever loss the
network trains with.

This module imports torch; the families import it only when they fit or restore a model, so
that importing :mod:`automoa.models` stays light.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from automoa.threads import THREADS_ENV, worker_threads  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from automoa.deadline import Deadline
    from automoa.losses import LossFn

SCHEDULERS = ("onecycle", "plateau", "constant")
OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("auto", "float32", "bfloat16")
#: Environment variable giving a worker its share of the cores (set by multi-worker runs).
_PREDICT_BATCH = 4096


@contextlib.contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op threads, then restore the previous setting."""

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def torch_device(device: str) -> torch.device:
    """``cuda`` only when asked for and present; anything else runs on the CPU."""

    if device == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def bf16_supported(device: torch.device) -> bool:
    """Whether bfloat16 matrix products run natively (AVX-512 BF16 / AMX on CPU, Ampere+ GPUs)."""

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``None``: plain float32).

    ``auto`` uses bfloat16 where the hardware computes it natively and float32 elsewhere:
    emulated bfloat16 is slower than float32.
    """

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32" or (precision == "auto" and not bf16_supported(device)):
        return None
    return torch.bfloat16


def output_bias(Y: np.ndarray) -> np.ndarray:
    """Log-odds of each label's smoothed training rate: the starting bias of an output layer.

    Starting rare labels at their prior instead of 0.5 spares the first epochs from learning
    the base rates, which matters with 0.3% positives.
    """
    positives = np.asarray(Y, dtype=np.float64).sum(axis=0)
    rate = (positives + 0.5) / (len(Y) + 1.0)
    return np.log(rate / (1.0 - rate)).astype(np.float32)


class MultiHeadNet(nn.Module):
    """``body`` then one linear head per target set; ``forward`` returns (main, aux, penalty).

    Args:
        body: module mapping features to (representation of width ``width``, penalty or None).
        width: the representation's width.
        n_main: scored targets.
        n_aux: auxiliary targets (0: no auxiliary head).
        weight_norm: weight-normalised heads.
    """

    def __init__(
        self, body: nn.Module, width: int, n_main: int, n_aux: int = 0, weight_norm: bool = False
    ) -> None:
        super().__init__()
        self.body = body
        self.width = width
        self.weight_norm = weight_norm
        self.main = linear_layer(width, n_main, weight_norm)
        self.aux = linear_layer(width, n_aux, weight_norm) if n_aux else None

    def forward(self, x: torch.Tensor):
        features, penalty = self.body(x)
        aux = self.aux(features) if self.aux is not None else None
        return self.main(features), aux, penalty


class FastDropout(nn.Module):
    """Dropout whose mask comes from random bytes: about 7x faster than ``nn.Dropout`` on CPU.

    torch's CPU ``bernoulli_`` draws one random number per element and took a third of an MLP
    training step (profiled: 2.4 ms of a 256 x 1024 mask); here one 64-bit draw gives eight
    mask bytes. The rate is rounded to a multiple of 1/256 (0.25 stays 0.25, 0.2 becomes
    51/256 = 0.199) and kept elements are scaled by the exact inverse keep rate, so the layer
    stays unbiased. Randomness comes from torch's generator, so seeding makes it deterministic.

    Args:
        rate: probability of zeroing an element, in [0, 1).
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.threshold = round(rate * 256)
        self.scale = 256.0 / (256 - self.threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.empty((n + 7) // 8, dtype=torch.int64, device=x.device)
        bytes_ = words.random_(-(2**63), None).view(torch.uint8)[:n].view(x.shape)
        return x * ((bytes_ >= self.threshold).to(x.dtype) * self.scale)

    def extra_repr(self) -> str:
        return f"rate={self.threshold}/256"


def linear_layer(n_in: int, n_out: int, weight_norm: bool = False) -> nn.Module:
    """``nn.Linear``, weight-normalised on request."""
    layer = nn.Linear(n_in, n_out)
    return nn.utils.parametrizations.weight_norm(layer) if weight_norm else layer


def set_head_bias(head, bias: np.ndarray) -> None:
    """Set a head's bias (works with and without weight norm)."""

    with torch.no_grad():
        head.bias.copy_(torch.from_numpy(bias).to(head.bias.device))


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained.

    Attributes:
        epochs: epochs at most (``onecycle`` always runs them all).
        batch_size: rows per step.
        lr: learning rate (the peak rate of the OneCycle schedule).
        weight_decay: AdamW's decoupled weight decay (``optimizer="adamw"`` only). Each step
            shrinks the weights by ``lr_t * weight_decay``, so it needs values around 1e-2 to
            act within a few thousand steps.
        scheduler: ``onecycle`` (warm up 10% then anneal), ``plateau`` (halve the rate after 2
            epochs without validation improvement) or ``constant``.
        patience: stop after this many epochs without validation improvement (``plateau`` and
            ``constant`` only: OneCycle is only worth its annealed end).
        precision: ``auto``, ``float32`` or ``bfloat16`` (autocast of products; weights and
            optimiser state stay float32).
        optimizer: ``adam`` (L2 penalty ``l2`` added to the gradient, as the MoA winners'
            ``Adam(weight_decay=1e-5)``) or ``adamw`` (decoupled ``weight_decay``).
        l2: Adam's coupled L2 coefficient (``optimizer="adam"`` only).
    """

    epochs: int = 20
    batch_size: int = 256
    lr: float = 5e-3
    weight_decay: float = 1e-5
    scheduler: str = "onecycle"
    patience: int = 5
    precision: str = "auto"
    optimizer: str = "adamw"
    l2: float = 1e-5

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.patience < 1:
            raise ValueError("epochs and patience must be >= 1 and batch_size >= 2")
        if not self.lr > 0 or self.weight_decay < 0 or self.l2 < 0:
            raise ValueError("lr must be > 0, weight_decay and l2 >= 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


@dataclass
class TrainingOutcome:
    """What :func:`train_network` did.

    Attributes:
        best_epoch: 1-based epoch whose weights were kept.
        epochs_run: epochs trained.
        best_valid_loss: validation log loss of the kept weights (NaN without validation).
        history: validation loss per epoch.
    """

    best_epoch: int
    epochs_run: int
    best_valid_loss: float
    history: list[float]


def predict_logits(net, X: torch.Tensor, head: str = "main", cast=None) -> torch.Tensor:
    """Float32 logits of ``head`` for every row, in eval mode and large batches."""

    net.eval()
    outputs = []
    with torch.inference_mode(), _autocast(X.device, cast):
        for start in range(0, len(X), _PREDICT_BATCH):
            main, aux, _ = net(X[start : start + _PREDICT_BATCH])
            outputs.append((main if head == "main" else aux).float())
    return torch.cat(outputs) if outputs else torch.zeros((0, 0))


def _autocast(device, cast):

    if cast is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=cast)


def make_optimizer(net: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """Adam with coupled L2 or AdamW, fused into one kernel per step where torch supports it."""
    if settings.optimizer == "adam":
        cls, decay = torch.optim.Adam, settings.l2
    else:
        cls, decay = torch.optim.AdamW, settings.weight_decay
    options = {"lr": settings.lr, "weight_decay": decay}
    try:
        return cls(net.parameters(), fused=True, **options)
    except (RuntimeError, TypeError):  # pragma: no cover - builds without fused kernels
        return cls(net.parameters(), **options)


def train_network(
    net,
    X: torch.Tensor,
    targets: np.ndarray,
    loss_fn: LossFn,
    settings: TrainSettings,
    *,
    head: str = "main",
    valid: tuple[torch.Tensor, np.ndarray] | None = None,
    aux_targets: np.ndarray | None = None,
    aux_weight: float = 0.0,
    deadline: Deadline | None = None,
    seed: int = 0,
    label: str = "network",
) -> TrainingOutcome:
    """Train ``net`` in place and leave it holding the weights of its best validation epoch.

    Args:
        net: a :class:`MultiHeadNet` on the device of ``X``.
        X: float32 training features (a tensor on the training device).
        targets: (n, k) 0/1 targets of ``head``.
        loss_fn: training loss on ``head``'s logits.
        settings: optimiser, schedule and stopping.
        head: ``main`` or ``aux`` (pre-training on auxiliary targets).
        valid: validation features and hard labels of ``head``, for best-epoch selection, the
            plateau schedule and patience only; without it the last epoch is kept.
        aux_targets: auxiliary labels of the first ``len(aux_targets)`` training rows (rows
            added by oversampling have none) for a multi-task auxiliary loss.
        aux_weight: weight of the auxiliary BCE in the multi-task loss.
        deadline: checked after every epoch; once passed, :class:`BudgetExhausted` is raised.
        seed: seeds initialisation-independent randomness (shuffling, dropout).
        label: names the model in the deadline message.

    Returns:
        What happened (best epoch, history).
    """

    device = X.device
    cast = autocast_dtype(settings.precision, device)
    Y_t = as_tensor(targets, device)
    aux_t = None
    if aux_targets is not None and aux_weight > 0 and net.aux is not None:
        aux_t = as_tensor(aux_targets, device)
    n = len(X)
    # A last batch of one row would break BatchNorm in training mode: it is dropped.
    steps_per_epoch = max(1, n // settings.batch_size + (n % settings.batch_size >= 2))
    optimizer = make_optimizer(net, settings)
    scheduler = None
    total_steps = settings.epochs * steps_per_epoch
    # OneCycle needs at least one step in each of its two phases (fewer steps: constant rate).
    if settings.scheduler == "onecycle" and total_steps >= 3:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=settings.lr,
            total_steps=total_steps,
            pct_start=max(0.1, 2.0 / total_steps),
            div_factor=1e3,
        )
    elif settings.scheduler == "plateau":
        # pytorch-tabnet's own loop calls this scheduler without the metric (tabnet#586);
        # here it always gets the validation (or training) loss.
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)

    generator = torch.Generator().manual_seed(seed)
    valid_X, valid_Y = (valid[0], as_tensor(valid[1], device)) if valid else (None, None)
    best_loss, best_epoch, best_state = math.inf, 0, None
    history: list[float] = []
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        net.train()
        order = torch.randperm(n, generator=generator).to(device)
        epoch_loss = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            rows = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            with _autocast(device, cast):
                main, aux, penalty = net(X[rows])
                logits = main if head == "main" else aux
                loss = loss_fn(logits.float(), Y_t[rows])
                if aux_t is not None:
                    known = rows[rows < len(aux_t)]  # rows added by oversampling have no aux
                    if len(known):
                        aux_logits = aux[rows < len(aux_t)].float()
                        loss = loss + aux_weight * F.binary_cross_entropy_with_logits(
                            aux_logits, aux_t[known]
                        )
                if penalty is not None:
                    loss = loss + penalty.float()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            epoch_loss += loss.detach()
        if valid_X is not None:
            logits = predict_logits(net, valid_X, head, cast)
            score = float(F.binary_cross_entropy_with_logits(logits, valid_Y))
        else:
            score = float(epoch_loss) / steps_per_epoch
        history.append(score if valid_X is not None else math.nan)
        if settings.scheduler == "plateau":
            plateau.step(score)
        if not math.isfinite(score):
            break
        if valid_X is None or score < best_loss:
            best_loss, best_epoch = score, epoch
            if valid_X is not None:
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        if deadline is not None:
            deadline.check(f"{label} epoch {epoch}")
        # OneCycle is stopped by nothing but its end: its best epochs come once the rate has
        # annealed, long after a patience window would have fired.
        if scheduler is None and valid_X is not None and epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return TrainingOutcome(
        best_epoch=best_epoch,
        epochs_run=epoch,
        best_valid_loss=best_loss if valid_X is not None else math.nan,
        history=history,
    )


def state_arrays(net, prefix: str) -> dict[str, np.ndarray]:
    """A network's ``state_dict`` as named numpy arrays (safe to save without pickle)."""
    return {
        f"{prefix}{key}": value.detach().cpu().numpy() for key, value in net.state_dict().items()
    }


def load_state_arrays(net, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load arrays written by :func:`state_arrays` into a network of the same shape."""

    state = {
        key[len(prefix) :]: torch.from_numpy(np.array(value))
        for key, value in arrays.items()
        if key.startswith(prefix)
    }
    net.load_state_dict(state)


def as_tensor(X: np.ndarray, device) -> torch.Tensor:
    """Features as a float32 tensor on ``device`` (no copy on the CPU when already float32)."""

    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)

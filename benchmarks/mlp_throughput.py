"""MLP training throughput on CPU: automoa's loop against a plain PyTorch loop.

The network is the issue's reference, 876 -> 1024 -> 1024 -> 206 (BatchNorm, dropout, ReLU),
batch 256, AdamW with OneCycle, on one training fold of ``make-moa-like`` data with 24k rows
(rank-gauss applied). Every variant trains the same network (same module class, same seed):

- ``plain``: the textbook loop: ``TensorDataset`` + ``DataLoader(shuffle=True)``, default
  AdamW, ``nn.Dropout``, float32.
- ``automoa float32``: :func:`automoa.models.torch_training.train_network` (index slices of
  in-memory tensors, fused AdamW, ``FastDropout``: masks from random bytes) in float32.
- ``automoa bfloat16``: the same with bfloat16 autocast (what ``precision: auto`` picks on a CPU
  with AVX-512 BF16 or AMX).
- ``automoa bfloat16 + compile`` (``--compile``): the network wrapped in ``torch.compile``.

It reports training samples per second (median epoch), the fraction of torch's float32 matmul
peak (measured in the same run) each variant reaches, and the validation log loss of the best
epoch.

Usage: python benchmarks/mlp_throughput.py [--epochs 6] [--repeats 2] [--threads 2] [--compile]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from automoa.config import StepConfig
from automoa.data import load, make_moa_like
from automoa.folds import fold_indices, make_folds
from automoa.metrics import mean_columnwise_log_loss
from automoa.models import get_family
from automoa.models import torch_training as tt
from automoa.preprocessing import prepare_fold

BATCH = 256
HIDDEN = 1024


def matmul_peak(dtype: torch.dtype) -> float:
    """Best GFLOP/s of torch.mm over the products this network does (and a large square)."""
    best = 0.0
    for m, k, n in [(256, 1024, 1024), (256, 876, 1024), (1024, 256, 1024), (2048, 2048, 2048)]:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        for _ in range(3):
            torch.mm(a, b)
        repeats = max(3, int(2e10 / (2 * m * k * n)))
        started = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * m * k * n * repeats / (time.perf_counter() - started) / 1e9)
    return best


def _torch_dropout(module: torch.nn.Module) -> None:
    """Swap automoa's FastDropout for torch's nn.Dropout of the same rate (the plain loop)."""
    for name, child in module.named_children():
        if isinstance(child, tt.FastDropout):
            setattr(module, name, torch.nn.Dropout(child.threshold / 256))
        else:
            _torch_dropout(child)


def make_net(n_in: int, n_out: int, seed: int, plain: bool = False):
    family = get_family("mlp")(
        n_layers=2,
        hidden_size=HIDDEN,
        dropout=0.25,
        input_dropout=0.2,
        weight_norm=False,
        activation="relu",
    )
    spec = {**family.body_spec(n_in), "n_main": n_out, "n_aux": 0}
    torch.manual_seed(seed)
    net = family.fitted_class.build_net(spec, torch.device("cpu"))
    if plain:
        _torch_dropout(net)
    return net


def plain_loop(net, X, Y, Xv, Yv, epochs: int) -> tuple[list[float], float]:
    """The textbook loop; returns epoch seconds and the best validation log loss."""
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y.astype(np.float32))),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    optimizer = torch.optim.AdamW(net.parameters(), lr=5e-3, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=5e-3, epochs=epochs, steps_per_epoch=len(loader), pct_start=0.1
    )
    seconds, best = [], np.inf
    for _ in range(epochs):
        net.train()
        started = time.perf_counter()
        for xb, yb in loader:
            optimizer.zero_grad()
            logits, _, _ = net(xb)
            loss = F.binary_cross_entropy_with_logits(logits, yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
        # Validation is part of an epoch in both loops (automoa's selects the best epoch).
        net.eval()
        with torch.no_grad():
            proba = torch.sigmoid(net(torch.from_numpy(Xv))[0]).numpy()
        seconds.append(time.perf_counter() - started)
        best = min(best, mean_columnwise_log_loss(Yv, proba))
    return seconds, best


def automoa_loop(net, X, Y, Xv, Yv, epochs: int, precision: str) -> tuple[list[float], float]:
    """automoa's loop, one epoch per call so that each epoch is timed."""
    settings = tt.TrainSettings(
        epochs=epochs,
        batch_size=BATCH,
        lr=5e-3,
        scheduler="onecycle",
        patience=epochs,
        precision=precision,
    )
    # Time each epoch through the per-epoch deadline check.
    stamps: list[float] = []

    class Stamp:
        def expired(self) -> bool:
            stamps.append(time.perf_counter())
            return False

    started = time.perf_counter()
    tt.train_network(
        net,
        torch.from_numpy(X),
        Y,
        lambda z, t: F.binary_cross_entropy_with_logits(z, t),
        settings,
        valid=(torch.from_numpy(Xv), Yv),
        deadline=Stamp(),
    )
    edges = [started, *stamps]
    seconds = [b - a for a, b in itertools.pairwise(edges)]
    proba = torch.sigmoid(tt.predict_logits(net, torch.from_numpy(Xv))).numpy()
    return seconds, mean_columnwise_log_loss(Yv, proba)


def fold_data(rows: int):
    """Rank-gauss features of fold 0 of make-moa-like data (controls dropped)."""
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load(make_moa_like(Path(tmp) / "moa", rows=rows, seed=0))
    folds = make_folds(dataset.Y, 5, seed=0, groups=dataset.groups)
    train_idx, valid_idx = fold_indices(folds, 0)
    trainable = dataset.trainable_mask
    train_idx, valid_idx = train_idx[trainable[train_idx]], valid_idx[trainable[valid_idx]]
    prepared = prepare_fold(
        [StepConfig("quantile", {"n_quantiles": 100})],
        dataset.X[train_idx],
        dataset.Y[train_idx],
        dataset.X[valid_idx],
        None,
        dataset.feature_names,
    )
    return prepared.X_train, dataset.Y[train_idx], prepared.X_valid, dataset.Y[valid_idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, Y, Xv, Yv = fold_data(args.rows)
    n_in, n_out = X.shape[1], Y.shape[1]
    flops = 6 * (n_in * HIDDEN + HIDDEN * HIDDEN + HIDDEN * n_out)  # forward + backward
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    print(f"train {X.shape}, valid {Xv.shape}; matmul peak fp32 {peak32:.0f}, bf16 {peak16:.0f}")

    variants = [
        (
            "plain PyTorch loop (DataLoader, float32)",
            lambda: plain_loop(make_net(n_in, n_out, 0, plain=True), X, Y, Xv, Yv, args.epochs),
        ),
        (
            "automoa float32",
            lambda: automoa_loop(make_net(n_in, n_out, 0), X, Y, Xv, Yv, args.epochs, "float32"),
        ),
        (
            "automoa bfloat16 autocast",
            lambda: automoa_loop(make_net(n_in, n_out, 0), X, Y, Xv, Yv, args.epochs, "bfloat16"),
        ),
    ]
    if args.compile:
        variants.append(
            (
                "automoa bfloat16 + torch.compile",
                lambda: automoa_loop(
                    torch.compile(make_net(n_in, n_out, 0)), X, Y, Xv, Yv, args.epochs, "bfloat16"
                ),
            )
        )
    # Variants alternate over the repeats, so that a noisy moment does not favour one of them;
    # each variant's best run counts.
    best: dict[str, tuple[float, float]] = {}
    for repeat in range(args.repeats):
        for label, run in variants:
            seconds, loss = run()
            rate = len(X) / statistics.median(seconds[1:] if len(seconds) > 2 else seconds)
            print(f"[{repeat}] {label}: {rate:,.0f} samples/s, best valid log loss {loss:.5f}")
            if label not in best or rate > best[label][0]:
                best[label] = (rate, loss)
    results = [(label, *best[label]) for label, _ in variants]

    base_rate, base_loss = results[0][1], results[0][2]
    lines = [
        "# MLP training throughput (CPU)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {args.threads} threads, "
        f"torch {torch.__version__}; bf16 native: {tt.bf16_supported(torch.device('cpu'))}.",
        f"Data: fold 0 of make-moa-like ({args.rows} rows), train {X.shape[0]} x {n_in}, "
        f"valid {Xv.shape[0]}; network {n_in} -> {HIDDEN} -> {HIDDEN} -> {n_out}, batch {BATCH}, "
        f"{args.epochs} epochs, OneCycle; an epoch includes predicting the validation rows. "
        f"Samples/s: median epoch (the first left out), best of {args.repeats} alternating runs.",
        f"torch.mm peak in this run: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s.",
        "",
        "| variant | samples/s | vs plain | % of fp32 matmul peak | best valid log loss "
        "| vs plain |",
        "|---|---|---|---|---|---|",
    ]
    for label, rate, loss in results:
        lines.append(
            f"| {label} | {rate:,.0f} | {rate / base_rate:.2f}x | "
            f"{100 * rate * flops / 1e9 / peak32:.0f}% | {loss:.5f} | "
            f"{100 * (loss - base_loss) / base_loss:+.2f}% |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlp_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

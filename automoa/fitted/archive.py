"""The fold models of one pipeline as a single safe file (a member archive).

An archive is an ``.npz`` file (a zip of ``.npy`` arrays) read with ``allow_pickle=False``: a
JSON spec, stored as UTF-8 bytes in the array ``spec``, lists for every fold the fitted
preprocessing steps and the model (registered names, parameters, JSON metadata) and names the
arrays holding their fitted values. Restoring goes through the step and family registries, so
only automoa's own classes are ever constructed: loading an archive cannot run code from it.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automoa.atomic import atomic_write
from automoa.exceptions import AutomoaError, BundleError
from automoa.fitted.arrays import read_array
from automoa.fitted.fold_model import FoldModel
from automoa.models.base import ModelState
from automoa.models.registry import restore
from automoa.npz import save_npz
from automoa.preprocessing.base import StepState
from automoa.preprocessing.chain import FittedChain

ARCHIVE_FORMAT = "automoa-fold-models"
ARCHIVE_VERSION = 1
_SPEC_KEY = "spec"


def save_fold_models(
    path: str | Path, fold_models: Sequence[FoldModel], info: Mapping[str, Any]
) -> None:
    """Write ``fold_models`` (fold order) to ``path`` atomically.

    Args:
        path: the ``.npz`` file to write.
        fold_models: one fitted chain and model per fold.
        info: JSON-serialisable facts stored with them (trial number, config, seed).

    Raises:
        BundleError: if a fitted state holds an array numpy can only store by pickling.
    """
    arrays: dict[str, np.ndarray] = {}

    def put(owner: str, named: Mapping[str, np.ndarray]) -> dict[str, str]:
        keys = {}
        for name, value in named.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise BundleError(f"{owner}: state array {name!r} holds Python objects")
            keys[name] = f"a{len(arrays)}"
            arrays[keys[name]] = array
        return keys

    folds = []
    for fold, fitted in enumerate(fold_models):
        steps = [
            {
                "name": s.name,
                "params": s.params,
                "meta": s.meta,
                "arrays": put(f"fold {fold} step {s.name!r}", s.arrays),
            }
            for s in fitted.chain.states()
        ]
        model = fitted.model.state()
        folds.append(
            {
                "steps": steps,
                "feature_names_out": list(fitted.chain.feature_names_out),
                "model": {
                    "family": model.family,
                    "meta": model.meta,
                    "arrays": put(f"fold {fold} model {model.family!r}", model.arrays),
                },
            }
        )
    spec = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, **info, "folds": folds}
    arrays[_SPEC_KEY] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)
    with atomic_write(path) as out:
        save_npz(out, arrays, compressed=True)


def load_fold_models(
    path: str | Path, limit_bytes: int | None = None
) -> tuple[dict[str, Any], list[FoldModel]]:
    """Read an archive written by :func:`save_fold_models`.

    Args:
        path: the archive.
        limit_bytes: the most bytes any one array may declare (``None``: no limit; a bundle
            derives it from its training data, see :func:`automoa.bundle.checks.array_byte_limit`).

    Returns:
        (the spec without its fold details, the fold models in fold order).

    Raises:
        BundleError: if the file is missing, not an archive of this format, or inconsistent.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            spec = json.loads(bytes(read_array(npz, _SPEC_KEY, limit_bytes, path.name)).decode())
            if spec.get("format") != ARCHIVE_FORMAT:
                raise BundleError(f"{path.name}: not an automoa fold-model archive")
            if spec.get("version") != ARCHIVE_VERSION:
                raise BundleError(
                    f"{path.name}: archive version {spec.get('version')!r}; this automoa reads "
                    f"version {ARCHIVE_VERSION}"
                )

            def read(key: str) -> np.ndarray:
                return read_array(npz, key, limit_bytes, path.name)

            models = [_restore_fold(read, fold) for fold in spec["folds"]]
    except BundleError:
        raise
    except FileNotFoundError:
        raise BundleError(f"{path}: fold-model archive not found") from None
    except AutomoaError as exc:  # an unknown step or family name
        raise BundleError(f"{path.name}: {exc}") from None
    except RecursionError:
        raise BundleError(f"{path.name}: its spec is nested too deeply") from None
    except (
        OSError,
        EOFError,
        ValueError,
        KeyError,
        TypeError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise BundleError(f"{path.name}: unreadable fold-model archive ({exc})") from None
    info = {k: v for k, v in spec.items() if k not in ("format", "version", "folds")}
    return info, models


def _restore_fold(read: Callable[[str], np.ndarray], fold: Mapping[str, Any]) -> FoldModel:
    states = [
        StepState(
            s["name"],
            dict(s["params"]),
            dict(s["meta"]),
            {name: read(key) for name, key in s["arrays"].items()},
        )
        for s in fold["steps"]
    ]
    chain = FittedChain.from_states(states, tuple(fold["feature_names_out"]))
    model = fold["model"]
    state = ModelState(
        model["family"],
        dict(model["meta"]),
        {name: read(key) for name, key in model["arrays"].items()},
    )
    return FoldModel(chain, restore(state))

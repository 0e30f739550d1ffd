"""Fold-model archives and bundle manifests: round trips, and refusal of anything unsafe."""

import json
import os

import numpy as np
import pytest

from automoa.bundle.manifest import MANIFEST, file_entries, read_verified, write_manifest
from automoa.config import PipelineConfig, StepConfig
from automoa.data.dataset import Dataset
from automoa.exceptions import BundleError
from automoa.fitted import load_fold_models, save_fold_models
from automoa.folds import make_folds
from automoa.search.objective import evaluate


def _fitted(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 5)).astype(np.float32)
    Y = (X[:, :2] + rng.normal(size=(150, 2)) > 1.0).astype(np.uint8)
    data = Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(5)),
        target_names=("a", "b"),
        ids=np.array([str(i) for i in range(150)]),
        fingerprint="0" * 64,
    )
    config = PipelineConfig(
        "linear",
        {"C": 0.1},
        (StepConfig("quantile", {"n_quantiles": 50, "output_distribution": "normal"}),),
    )
    folds = make_folds(Y, n_splits=3, seed=0)
    result = evaluate(config, data, folds, keep_models=True)
    path = tmp_path / "m.npz"
    save_fold_models(path, result.fold_models, {"trial": 7, "config": config.to_dict()})
    return data, result, path


def test_archive_round_trip_predicts_identically(tmp_path):
    data, result, path = _fitted(tmp_path)
    info, models = load_fold_models(path)
    assert info["trial"] == 7 and info["config"]["family"] == "linear"
    assert len(models) == len(result.fold_models) == 3
    for original, restored in zip(result.fold_models, models, strict=True):
        assert np.array_equal(original.predict_proba(data.X), restored.predict_proba(data.X))


def test_archive_refuses_pickled_arrays_and_unknown_classes(tmp_path):
    _, _, path = _fitted(tmp_path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    spec = json.loads(bytes(arrays["spec"]).decode())

    # An array that only unpickling could read (a crafted archive) is refused, not loaded.
    evil = dict(arrays)
    evil["a0"] = np.array([{"payload": 1}], dtype=object)
    np.savez(tmp_path / "evil.npz", allow_pickle=True, **evil)
    with pytest.raises(BundleError, match="unreadable"):
        load_fold_models(tmp_path / "evil.npz")

    spec["folds"][0]["model"]["family"] = "os.system"
    renamed = dict(arrays, spec=np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8))
    np.savez(tmp_path / "renamed.npz", **renamed)
    with pytest.raises(BundleError, match=r"unknown model family .os\.system."):
        load_fold_models(tmp_path / "renamed.npz")

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match=r"junk\.npz"):
        load_fold_models(tmp_path / "junk.npz")


def test_archive_refuses_object_state(tmp_path):
    from automoa.fitted import FoldModel

    _, result, _ = _fitted(tmp_path)
    fitted = result.fold_models[0]

    class Sneaky:
        def state(self):
            state = fitted.model.state()
            state.arrays["bad"] = np.array([object()], dtype=object)
            return state

    with pytest.raises(BundleError, match="Python objects"):
        save_fold_models(tmp_path / "x.npz", [FoldModel(fitted.chain, Sneaky())], {})
    assert not list(tmp_path.glob("*x.npz*"))


def _bundle(tmp_path):
    root = tmp_path / "b"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.bin").write_bytes(b"0123456789")
    manifest = {"format": "automoa-bundle", "format_version": 1, "automoa_version": "0.1.0"}
    manifest["files"] = file_entries(root, ["sub/data.bin"])
    write_manifest(root, manifest)
    return root


def test_manifest_verification(tmp_path):
    root = _bundle(tmp_path)
    assert read_verified(root)["files"]["sub/data.bin"]["bytes"] == 10

    manifest = json.loads((root / MANIFEST).read_text())
    newer = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    write_manifest(root, {**newer, "format_version": 2, "automoa_version": "9.0"})
    with pytest.raises(BundleError, match=r"format version 2 .*automoa 9\.0.*reads version 1"):
        read_verified(root)

    # A re-sealed manifest naming a file outside the bundle is refused before any read.
    (tmp_path / "secret").write_bytes(b"x")
    write_manifest(root, {**newer, "files": {"../secret": {"bytes": 1, "sha256": "0"}}})
    with pytest.raises(BundleError, match="outside the bundle"):
        read_verified(root)

    (root / MANIFEST).unlink()
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        read_verified(root)
    with pytest.raises(BundleError, match="not found"):
        read_verified(tmp_path / "absent")


def test_manifest_refuses_links_and_special_files_without_reading_them(tmp_path):
    root = _bundle(tmp_path)
    sealed = json.loads((root / MANIFEST).read_text())
    manifest = {k: v for k, v in sealed.items() if k != "manifest_sha256"}
    # A FIFO would block a reader forever: it is refused by its type, never opened.
    (root / "sub" / "data.bin").unlink()
    os.mkfifo(root / "sub" / "data.bin")
    with pytest.raises(BundleError, match=r"sub/data\.bin is not a regular file"):
        read_verified(root)
    # A link to a foreign file of another size: refused without revealing that size.
    (root / "sub" / "data.bin").unlink()
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"y" * 12345)
    (root / "sub" / "data.bin").symlink_to(foreign)
    with pytest.raises(BundleError, match=r"sub/data\.bin is a symbolic link") as error:
        read_verified(root)
    assert "12345" not in str(error.value)
    # The same through a linked directory.
    (root / "sub" / "data.bin").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.bin").write_bytes(b"0123456789")
    (root / "sub").rmdir()
    (root / "sub").symlink_to(elsewhere)
    write_manifest(root, manifest)
    with pytest.raises(BundleError, match=r": sub is a symbolic link"):
        read_verified(root)


def test_an_archive_declaring_more_than_its_limit_is_refused_before_reading(tmp_path):
    *_, path = _fitted(tmp_path)
    with pytest.raises(BundleError, match=r"m\.npz: array 'spec' declares shape"):
        load_fold_models(path, limit_bytes=10)
    _, models = load_fold_models(path, limit_bytes=1 << 20)
    assert len(models) == 3

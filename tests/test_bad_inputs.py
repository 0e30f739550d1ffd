"""Reliability corpus: every user mistake in tests/bad_inputs/cases.yaml gets one clear line.

Each case runs one ``automoa`` command through typer's CliRunner and checks: exit code 2, exactly
one non-empty output line, starting with ``error:`` and naming what is at fault (``expect``), no
traceback, and no file under the case's directory or the corpus changed (sha256 and mtime), nor
any file added to them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import traceback
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from automoa.cli import app

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
MANIFEST = "manifest.json"


def _params() -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in CASES]


# -- a valid study and bundle, made once -----------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-trial study on bundled:yeast (space fast) and its exported bundle."""
    import automoa
    from automoa import api

    root = tmp_path_factory.mktemp("bad_inputs_study")
    work, bundle = root / "work", root / "bundle"
    automoa.search(
        "bundled:yeast", budget="1m", space="fast", workdir=work, max_trials=1, device="cpu"
    )
    api.export(bundle, workdir=work)
    return {"work": work, "bundle": bundle}


# -- setup steps -----------------------------------------------------------------------------------


def _member(bundle: Path) -> Path:
    return sorted((bundle / "members").glob("*.npz"))[0]


def _flip_byte(bundle: Path) -> None:
    path = _member(bundle)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(bundle: Path) -> None:
    path = _member(bundle)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_manifest(bundle: Path, edit: Any, reseal: bool) -> None:
    path = bundle / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    if reseal:  # what a careful hand-editor would do: recompute the self-checksum
        content = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        manifest["manifest_sha256"] = hashlib.sha256(canonical).hexdigest()
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _rename_first_target(manifest: dict[str, Any]) -> None:
    manifest["target_names"][0] = manifest["target_names"][0] + "_edited"


def _keep_three_targets(manifest: dict[str, Any]) -> None:
    manifest["target_names"] = manifest["target_names"][:3]


def _refresh_file_entries(bundle: Path) -> None:
    """Re-hash every listed file and reseal: what a forger who changed a file would do."""

    def refresh(manifest: dict[str, Any]) -> None:
        for name, entry in manifest["files"].items():
            data = (bundle / name).read_bytes()
            entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())

    _edit_manifest(bundle, refresh, True)


def _rewrite_member(bundle: Path, rewrite: Any) -> None:
    """Replace the first member's zip entries by ``rewrite(entries)``, then reseal."""
    path = _member(bundle)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries = rewrite(entries)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    _refresh_file_entries(bundle)


def _model_array_name(entries: dict[str, bytes]) -> str:
    spec = json.loads(bytes(np.load(io.BytesIO(entries["spec.npy"]))).decode())
    return next(iter(spec["folds"][0]["model"]["arrays"].values())) + ".npy"


def _declare_a_huge_array(entries: dict[str, bytes]) -> dict[str, bytes]:
    header = io.BytesIO()
    shape = {"descr": "<f4", "fortran_order": False, "shape": (200_000, 200_000)}
    np.lib.format.write_array_header_1_0(header, shape)
    return {**entries, _model_array_name(entries): header.getvalue() + bytes(64)}


def _drop_a_column_of_a_model_array(entries: dict[str, bytes]) -> dict[str, bytes]:
    name = _model_array_name(entries)
    array = np.load(io.BytesIO(entries[name]))
    out = io.BytesIO()
    np.save(out, array[..., :-1] if array.ndim > 1 else array[:-1])
    return {**entries, name: out.getvalue()}


def _corrupt_compressed_bytes(bundle: Path) -> None:
    """A bad CRC inside a member whose manifest entry was recomputed: only reading finds it."""
    path = _member(bundle)
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _refresh_file_entries(bundle)


def _symlink_member_outside(bundle: Path) -> None:
    member = _member(bundle)
    outside = bundle.parent / "elsewhere.npz"
    outside.write_bytes(member.read_bytes() + b"secret")
    member.unlink()
    member.symlink_to(outside)


def _symlink_members_directory(bundle: Path) -> None:
    (bundle / "members").rename(bundle.parent / "members_elsewhere")
    (bundle / "members").symlink_to(bundle.parent / "members_elsewhere")


def _symlink_manifest(bundle: Path) -> None:
    (bundle / MANIFEST).rename(bundle.parent / "manifest_elsewhere.json")
    (bundle / MANIFEST).symlink_to(bundle.parent / "manifest_elsewhere.json")


def _nest_the_manifest(bundle: Path) -> None:
    text = (bundle / MANIFEST).read_text(encoding="utf-8")
    deep = "[" * 100_000 + "]" * 100_000
    (bundle / MANIFEST).write_text(text.replace("{", '{"deep": ' + deep + ",", 1))


def _fifo_member(bundle: Path) -> None:
    member = _member(bundle)
    member.unlink()
    os.mkfifo(member)  # reading it would block until a writer came


def _text_file_entry(manifest: dict[str, Any]) -> None:
    name = next(iter(manifest["files"]))
    manifest["files"][name] = "trust me"


def _set_weights(weights: list[Any]) -> Any:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["combiner"]["weights"] = weights

    return edit


def _set_clip(manifest: dict[str, Any]) -> None:
    manifest["combiner"]["clip"] = {"low": 0.7, "high": 0.0}


def _set_rows(manifest: dict[str, Any]) -> None:
    manifest["data"]["n_rows"] = 0


def _duplicate_a_target(manifest: dict[str, Any]) -> None:
    manifest["target_names"][1] = manifest["target_names"][0]


def _reseal(edit: Any) -> Any:
    return lambda bundle: _edit_manifest(bundle, edit, True)


NAMED_STEPS = {
    "flip_byte_in_bundle_member": _flip_byte,
    "truncate_bundle_member": _truncate,
    "delete_bundle_member": lambda bundle: _member(bundle).unlink(),
    "delete_manifest": lambda bundle: (bundle / MANIFEST).unlink(),
    "edit_manifest_by_hand": lambda bundle: _edit_manifest(bundle, _rename_first_target, False),
    "reseal_manifest_with_fewer_targets": lambda bundle: _edit_manifest(
        bundle, _keep_three_targets, True
    ),
    "reseal_manifest_with_a_nan_weight": _reseal(_set_weights([float("nan")])),
    "reseal_manifest_with_a_negative_weight": _reseal(_set_weights([-1.0])),
    "reseal_manifest_with_weights_summing_to_2": _reseal(_set_weights([2.0])),
    "reseal_manifest_with_a_weight_as_text": _reseal(_set_weights(["1"])),
    "reseal_manifest_with_one_weight_too_many": _reseal(_set_weights([0.5, 0.5])),
    "reseal_manifest_with_a_clip_bound_out_of_range": _reseal(_set_clip),
    "reseal_manifest_with_zero_training_rows": _reseal(_set_rows),
    "reseal_manifest_with_a_duplicate_target": _reseal(_duplicate_a_target),
    "reseal_manifest_without_members": _reseal(lambda m: m.update(members=[])),
    "reseal_member_declaring_a_huge_array": lambda bundle: _rewrite_member(
        bundle, _declare_a_huge_array
    ),
    "reseal_member_with_a_wrongly_shaped_model_array": lambda bundle: _rewrite_member(
        bundle, _drop_a_column_of_a_model_array
    ),
    "reseal_member_with_a_crc_error": _corrupt_compressed_bytes,
    "symlink_member_to_a_file_outside": _symlink_member_outside,
    "symlink_members_directory_outside": _symlink_members_directory,
    "symlink_manifest_outside": _symlink_manifest,
    "nest_the_manifest_100000_deep": _nest_the_manifest,
    "replace_member_with_a_fifo": _fifo_member,
    "reseal_manifest_with_a_file_entry_that_is_text": _reseal(_text_file_entry),
}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _prepare(case: dict[str, Any], tmp: Path, exported: dict[str, Path]) -> dict[str, str]:
    """Copy what the case needs into ``tmp``, run its setup steps; the placeholder values."""
    values = {
        "corpus": str(CORPUS),
        "tmp": str(tmp),
        "bundle": str(tmp / "bundle"),
        "work": str(tmp / "work"),
        "yeast": "bundled:yeast",
    }
    setup = case.get("setup", [])
    command = " ".join(case["command"])
    if "{bundle}" in command or any(
        isinstance(step, str) or step["to"].startswith("bundle/") for step in setup
    ):
        shutil.copytree(exported["bundle"], tmp / "bundle")
    if "{work}" in command:  # the preprocessing cache is not needed to read the study
        shutil.copytree(exported["work"], tmp / "work", ignore=shutil.ignore_patterns("cache"))
    for step in setup:
        if isinstance(step, str):
            NAMED_STEPS[step](tmp / "bundle")
        else:
            _copy(CORPUS / step["copy"], tmp / step["to"])
    return values


# -- snapshots -------------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every file under ``root``; directories by name (a failed command
    must not leave even an empty directory behind)."""
    return {
        str(p.relative_to(root)): (
            (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            if p.is_file()
            else ("directory", 0)
        )
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_dir()
    }


def _changes(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> list[str]:
    changed = [f"modified {name}" for name, seen in before.items() if after.get(name) != seen]
    changed += [f"removed {name}" for name in before if name not in after]
    changed += [f"added {name}" for name in after if name not in before]
    return changed


# -- the test --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params())
def test_bad_input_gives_one_error_line(case, tmp_path, monkeypatch, exported):
    tmp = tmp_path.resolve()
    values = _prepare(case, tmp, exported)
    monkeypatch.chdir(tmp)  # a default ./automoa-work lands here, never in the repository
    args = [part.format(**values) for part in case["command"]]
    tmp_before, corpus_before = _snapshot(tmp), _snapshot(CORPUS)

    result = CliRunner().invoke(app, args)

    # result.output holds stdout and stderr together, as the user sees them
    shown = f"automoa {' '.join(args)}\n--- output ---\n{result.output}"
    problems = []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        frames = traceback.format_exception(*result.exc_info, limit=-4)
        shown += "--- traceback ---\n" + "".join(frames)
        problems.append(f"crashed with {type(result.exception).__name__}")
    if "Traceback" in result.output:
        problems.append("a traceback is printed")
    if result.exit_code != 2:
        problems.append(f"exit code {result.exit_code}, expected 2")
    lines = [line for line in result.output.splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(lines) != 1:
        problems.append(f"{len(lines)} non-empty output lines, expected 1")
    if not line.startswith("error: ") or line not in result.stderr:
        problems.append("the first line is not an 'error: ' line on stderr")
    expected = case["expect"]
    for fragment in [expected] if isinstance(expected, str) else expected:
        if fragment.format(**values) not in line:
            problems.append(f"expected {fragment.format(**values)!r} in the error line")
    if "expect_re" in case:
        pattern = case["expect_re"]
        for key, value in values.items():
            pattern = pattern.replace("{" + key + "}", re.escape(value))
        if not re.search(pattern, line):
            problems.append(f"expected a match for {pattern!r} in the error line")
    problems += [f"corpus: {c}" for c in _changes(corpus_before, _snapshot(CORPUS))]
    problems += [f"case directory: {c}" for c in _changes(tmp_before, _snapshot(tmp))]
    assert not problems, shown + "--- problems ---\n" + "\n".join(problems)


def test_corpus_is_large_and_well_formed():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 35 and len(set(ids)) == len(ids)
    allowed = {"id", "command", "setup", "expect", "expect_re"}
    for case in CASES:
        assert set(case) <= allowed and {"id", "command", "expect"} <= set(case), case["id"]
        for step in case.get("setup", []):
            assert step in NAMED_STEPS if isinstance(step, str) else set(step) == {"copy", "to"}

"""Reliability corpus: every user mistake in tests/bad_inputs/cases.yaml gets one clear line.

Each case runs one ``automoa`` command through typer's CliRunner and checks: exit code 2, exactly
one non-empty output line, starting with ``error:`` and naming what is at fault (``expect``), no
traceback, and no file under the case's directory or the corpus changed (sha256 and mtime), nor
any file added to them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import traceback
from pathlib import Path
from typing import Any

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


NAMED_STEPS = {
    "flip_byte_in_bundle_member": _flip_byte,
    "truncate_bundle_member": _truncate,
    "delete_bundle_member": lambda bundle: _member(bundle).unlink(),
    "delete_manifest": lambda bundle: (bundle / MANIFEST).unlink(),
    "edit_manifest_by_hand": lambda bundle: _edit_manifest(bundle, _rename_first_target, False),
    "reseal_manifest_with_fewer_targets": lambda bundle: _edit_manifest(
        bundle, _keep_three_targets, True
    ),
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

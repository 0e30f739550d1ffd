"""A work directory is data, never code: every file automoa reads from it is read without
unpickling, so a planted pickle never runs."""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

import pytest

import automoa
from automoa.exceptions import AutomoaError


class _Planted:
    """Unpickling it creates ``sentinel``: the stand-in for ``os.system``."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


@pytest.mark.slow
def test_a_work_directory_full_of_planted_pickles_runs_no_code(tmp_path):
    work = tmp_path / "work"
    automoa.search("bundled:yeast", budget="10m", space="fast", workdir=work, max_trials=2)
    sentinel = tmp_path / "ran"
    planted = pickle.dumps(_Planted(sentinel))
    replaced = [
        path
        for folder in (work / "cache", work / "artifacts")
        for path in folder.rglob("*")
        if path.is_file()
    ]
    assert any(p.parent.name == "cache" for p in replaced) and len(replaced) >= 3
    for path in replaced:  # cache entries, OOF and test predictions, fold checkpoints
        path.write_bytes(planted)
        path.with_name(path.stem + ".joblib").write_bytes(planted)  # the old cache format
    # Unreadable artifacts may be refused with an error line; they never run.
    with contextlib.suppress(AutomoaError):
        automoa.search("bundled:yeast", budget="10m", space="fast", workdir=work, max_trials=2)
    assert not sentinel.exists()

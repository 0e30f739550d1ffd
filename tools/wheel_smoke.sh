#!/usr/bin/env bash
# automoa as users get it: a wheel built from this tree, installed non-editable into a fresh
# virtual environment, used from a directory outside the source tree. Run by .ci/run.
#   tools/wheel_smoke.sh [PYTHON]      (default python3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$python" -m venv "$tmp/venv"
bin="$tmp/venv/bin"
pip=("$bin/python" -m pip install --quiet --disable-pip-version-check -c "$root/constraints.txt")
"$bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$tmp/dist" "$root"
wheel="$(ls "$tmp"/dist/automoa-*.whl)"
# The wheel must carry every package and data file: list what a fresh import needs.
"$bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = [
    "automoa/__init__.py", "automoa/benchmark/runners/__init__.py", "automoa/ensemble/pipeline.py",
    "automoa/search_spaces/default.yaml", "automoa/search_spaces/moa.yaml",
    "automoa/data/bundled/yeast/features_train.csv.gz",
]
missing = [n for n in needed if n not in names]
if missing:
    sys.exit(f"wheel_smoke: {sys.argv[1]} lacks {', '.join(missing)}")
PY
"${pip[@]}" torch==2.13.0  # first and pinned: anything else pulls a CUDA build of several GB
"${pip[@]}" "${wheel}[xgboost-cpu]"

cd "$tmp"  # nothing of the source tree is importable from here
"$bin/automoa" --version
"$bin/automoa" search --data bundled:yeast --budget 20s --space fast --workdir work --study smoke \
    --keep-models --device cpu
"$bin/automoa" export --workdir work --study smoke --out model
features="$("$bin/python" -c 'import automoa.data, pathlib; print(pathlib.Path(automoa.data.__file__).parent / "bundled/yeast/features_test.csv")')"
"$bin/automoa" predict --model model --data "$features" --out predictions.csv
"$bin/python" - "$features" "$tmp/venv" <<'PY'
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import automoa

assert Path(automoa.__file__).resolve().is_relative_to(Path(sys.argv[2]).resolve()), automoa.__file__
model = automoa.load("model")
X = pd.read_csv(sys.argv[1]).drop(columns=["id"])
proba = model.predict_proba(X)
written = pd.read_csv("predictions.csv")
assert proba.shape == (len(X), len(model.target_names)) and np.isfinite(proba).all()
assert np.allclose(written[list(model.target_names)].to_numpy(), proba, atol=1e-6)
print(f"wheel_smoke: {Path(sys.argv[1]).name}: {proba.shape[0]} rows x {proba.shape[1]} labels, ok")
PY

"""Loading a bundle and predicting with it imports neither the search package nor Optuna."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import automoa

# Run in a fresh interpreter: this test process has imported search and Optuna long before.
_READER = """
import json
import sys

import numpy as np
import pandas as pd

import automoa

bundle, features, out = sys.argv[1:]
model = automoa.load(bundle)
np.save(out, model.predict_proba(pd.read_parquet(features)), allow_pickle=False)
print(json.dumps({
    "optuna": "optuna" in sys.modules,
    "search": sorted(name for name in sys.modules if name.startswith("automoa.search.")),
}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A one-trial search on a slice of yeast (models kept, so export does not re-train)."""
    root = tmp_path_factory.mktemp("reader_imports")
    X, Y, X_test, _ = automoa.datasets.load_yeast_frames()
    result = automoa.search(
        (X.iloc[:150], Y.iloc[:150]),
        budget="1m",
        space="fast",
        folds=3,
        workdir=root / "work",
        max_trials=1,
        keep_models=True,
        seed=0,
    )
    result.export(root / "bundle")
    features = X_test.iloc[:20]
    features.to_parquet(root / "features.parquet")  # exact float32 values for the child
    return root, features


def test_loading_a_bundle_imports_neither_search_nor_optuna(exported):
    root, features = exported
    expected = automoa.load(root / "bundle").predict_proba(features)
    # The child imports the same automoa as this process, wherever that was found.
    source = str(Path(automoa.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    out = root / "child.npy"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _READER,
            str(root / "bundle"),
            str(root / "features.parquet"),
            str(out),
        ],
        env=env,
        cwd=root,  # `python -c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    imported = json.loads(child.stdout.strip().splitlines()[-1])
    assert not imported["optuna"]
    # `import automoa` binds the empty automoa.search package once (so that automoa.search is
    # the function); none of its modules may be imported by loading or predicting.
    assert imported["search"] == []
    np.testing.assert_allclose(np.load(out, allow_pickle=False), expected, rtol=0, atol=1e-6)

"""Artifacts in an object store: S3 through a local S3-compatible server (the ``s3_bucket``
fixture of ``tests/conftest.py``). Checkpoints in S3: ``test_reliability.py``."""

import sys

import boto3
import numpy as np
import optuna
import pandas as pd
import pytest

import automoa
from automoa.exceptions import ConfigError
from automoa.search.artifact_store import StudyArtifacts, open_artifact_store
from automoa.search.study import resolve_location

BUCKET = "automoa-test"


def _keys(prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_artifacts_live_under_the_prefix_and_download_once(s3_bucket, tmp_path):
    artifacts = StudyArtifacts(f"s3://{BUCKET}/unit/one", tmp_path / "cache")
    assert artifacts.remote
    artifacts.write_bytes("abc", b"payload")
    assert _keys("unit/one/") == ["unit/one/abc"]
    assert artifacts.read_bytes("abc") == b"payload"
    assert artifacts.read_bytes("missing") is None
    assert artifacts.local_path("missing") is None

    local = artifacts.local_path("abc")
    assert local.read_bytes() == b"payload" and tmp_path / "cache" in local.parents
    boto3.client("s3").delete_object(Bucket=BUCKET, Key="unit/one/abc")
    assert artifacts.local_path("abc") == local  # immutable: served from the cache
    artifacts.remove("never-written")  # removing what is absent is not an error

    # Another store (prefix) never sees this one's cached files.
    other = StudyArtifacts(f"s3://{BUCKET}/unit/two", tmp_path / "cache")
    assert other.local_path("abc") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ftp://host/dir", "unsupported scheme 'ftp'; expected a directory, s3://BUCKET"),
        ("s3://Bad_Bucket/x", "'Bad_Bucket' is not a bucket name"),
        ("s3://no-such-bucket/x", "bucket 'no-such-bucket' is not reachable"),
    ],
)
def test_bad_artifact_urls_are_refused_in_one_line(s3_bucket, spec, message):
    with pytest.raises(ConfigError, match=message) as caught:
        open_artifact_store(spec)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"--artifacts {spec}")


def test_a_missing_client_library_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ConfigError, match=r"needs the boto3 package.*automoa\[s3\]"):
        open_artifact_store(f"s3://{BUCKET}/x")
    monkeypatch.setitem(sys.modules, "google.cloud", None)
    with pytest.raises(ConfigError, match=r"google-cloud-storage.*automoa\[gcs\]"):
        open_artifact_store("gs://some-bucket/x")


def test_an_object_store_location_is_kept_as_a_url(tmp_path):
    location = resolve_location("s", tmp_path, artifacts=f"s3://{BUCKET}/p")
    assert location.artifacts == f"s3://{BUCKET}/p"
    local = resolve_location("s", tmp_path, artifacts="rel/dir")
    assert local.artifacts.startswith("/") and local.artifacts.endswith("rel/dir")


def _write_data(directory, n=150):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 5))
    Y = (X[:, :3] + 0.6 * rng.normal(size=(n, 3)) > 0.8).astype(int)
    directory.mkdir()
    ids = [f"r{i}" for i in range(n)]
    features = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    features.insert(0, "id", ids)
    targets = pd.DataFrame(Y, columns=["a", "b", "c"])
    targets.insert(0, "id", ids)
    features.to_csv(directory / "features.csv", index=False)
    targets.to_csv(directory / "targets.csv", index=False)
    test = pd.DataFrame(rng.normal(size=(30, 5)), columns=[f"f{j}" for j in range(5)])
    test.insert(0, "id", [f"t{i}" for i in range(30)])
    test.to_csv(directory / "features_test.csv", index=False)
    return directory


@pytest.mark.slow
def test_two_workers_search_ensemble_and_export_through_s3(s3_bucket, tmp_path):
    data = _write_data(tmp_path / "data")
    url = f"s3://{BUCKET}/studies/shared"
    outcome = automoa.search(
        data,
        budget="3m",
        space="fast",
        workdir=tmp_path / "work",
        artifacts=url,
        workers=2,
        max_trials=6,
        keep_models=True,
        study="shared",
    )
    assert outcome.ensemble is not None
    assert not (tmp_path / "work" / "artifacts").exists()  # nothing written locally
    keys = set(_keys("studies/shared/"))
    complete = [t for t in outcome.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    for trial in complete:  # every complete trial's OOF and fold models are in the bucket
        assert "studies/shared/" + trial.user_attrs["oof_artifact"] in keys
        assert "studies/shared/" + trial.user_attrs["models_artifact"] in keys
    assert not [k for k in keys if "/folds/" in k]  # checkpoints cleared once recorded

    # Export on "another machine": a fresh work directory (no cache), the same storage.
    storage = f"sqlite:///{tmp_path / 'work' / 'automoa.db'}"
    report = automoa.api.export(
        tmp_path / "bundle",
        study="shared",
        storage=storage,
        workdir=tmp_path / "elsewhere",
        artifacts=url,
    )
    assert all(m.source == "kept" for m in report.members)
    assert all(m.max_abs_diff < 1e-5 for m in report.members)
    predicted = automoa.load(tmp_path / "bundle").predict_proba(
        pd.read_csv(data / "features_test.csv")
    )
    submission = pd.read_csv(outcome.ensemble.submission)
    np.testing.assert_allclose(predicted, submission.iloc[:, 1:].to_numpy(), atol=1e-5)

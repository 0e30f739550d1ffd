"""Where a study's artifacts live: a directory, or an object store every worker can reach.

``--artifacts`` takes a directory (local or on a shared file system), ``s3://BUCKET[/PREFIX]``
(Optuna's ``Boto3ArtifactStore``; ``pip install 'automoa[s3]'``; credentials and endpoint from
boto3's usual sources: environment, ``~/.aws``, instance role, ``AWS_ENDPOINT_URL`` for
S3-compatible servers such as MinIO) or ``gs://BUCKET[/PREFIX]`` (Optuna's ``GCSArtifactStore``;
``pip install 'automoa[gcs]'``; Google application-default credentials).

Artifacts are immutable once written (their ids are fresh UUIDs), so readers of an object store
download each one once into a local cache and memory-map it from there, as they would a file of
a local store. Object stores make a write visible only once the upload is whole, and the
directory store writes to a temporary file and renames it: no reader ever sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO

from optuna.artifacts import FileSystemArtifactStore
from optuna.artifacts.exceptions import ArtifactNotFound

from automoa.atomic import atomic_write
from automoa.exceptions import ConfigError, check_directory_path

#: URL schemes of the object stores, and the extra that installs each one's library.
OBJECT_STORE_EXTRAS = {"s3": "s3", "gs": "gcs"}
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


class AtomicFileSystemArtifactStore(FileSystemArtifactStore):
    """Optuna's file-system artifact store with write-to-temp-then-rename writes."""

    def __init__(self, base_path: str | Path) -> None:
        Path(base_path).mkdir(parents=True, exist_ok=True)
        super().__init__(base_path)
        self.base_path = Path(base_path)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        path = self._get_filepath(artifact_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as out:
            shutil.copyfileobj(content_body, out, 1 << 20)

    def remove(self, artifact_id: str) -> None:
        self._get_filepath(artifact_id).unlink(missing_ok=True)


class PrefixedArtifactStore:
    """An object store's artifacts under a key prefix (``s3://bucket/PREFIX/<id>``)."""

    def __init__(self, store: Any, prefix: str) -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def _key(self, artifact_id: str) -> str:
        return f"{self.prefix}/{artifact_id}" if self.prefix else artifact_id

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.store.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.store.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(self._key(artifact_id))


def object_store_scheme(spec: str | Path) -> str | None:
    """``"s3"`` or ``"gs"`` when ``spec`` is an object-store URL, ``None`` for a directory.

    Raises:
        ConfigError: a URL of any other scheme.
    """
    match = _URL.match(str(spec))
    if match is None:
        return None
    scheme = match["scheme"].lower()
    if scheme not in OBJECT_STORE_EXTRAS:
        raise ConfigError(
            f"--artifacts {spec}: unsupported scheme {scheme!r}; expected a directory, "
            "s3://BUCKET[/PREFIX] or gs://BUCKET[/PREFIX]"
        )
    return scheme


def _bucket_and_prefix(spec: str) -> tuple[str, str]:
    rest = _URL.match(spec)["rest"]  # type: ignore[index]  # checked by object_store_scheme
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise ConfigError(
            f"--artifacts {spec}: {bucket!r} is not a bucket name; expected "
            "SCHEME://BUCKET[/PREFIX] with a bucket of 3-63 lowercase letters, digits, '.', '-'"
        )
    return bucket, prefix


def _missing_library(spec: str, scheme: str, module: str) -> ConfigError:
    return ConfigError(
        f"--artifacts {spec}: needs the {module} package; install it with "
        f"pip install 'automoa[{OBJECT_STORE_EXTRAS[scheme]}]'"
    )


def _open_s3(spec: str, bucket: str) -> Any:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise _missing_library(spec, "s3", "boto3") from None
    from optuna.artifacts import Boto3ArtifactStore

    client = boto3.client("s3")
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(
            f"--artifacts {spec}: bucket {bucket!r} is not reachable ({code})"
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(f"--artifacts {spec}: cannot reach S3 ({exc})") from None
    return Boto3ArtifactStore(bucket, client=client)


def _open_gcs(spec: str, bucket: str) -> Any:
    try:
        from google.cloud import storage
    except ImportError:
        raise _missing_library(spec, "gs", "google-cloud-storage") from None
    from google.api_core.exceptions import NotFound
    from optuna.artifacts import GCSArtifactStore

    class _GCSArtifactStore(GCSArtifactStore):
        def remove(self, artifact_id: str) -> None:
            try:
                super().remove(artifact_id)
            except NotFound:
                raise ArtifactNotFound(artifact_id) from None

    try:
        client = storage.Client()
    except Exception as exc:  # credentials or project missing: google.auth's several errors
        raise ConfigError(f"--artifacts {spec}: cannot open Google Cloud Storage ({exc})") from None
    return _GCSArtifactStore(bucket, client=client)


def open_artifact_store(spec: str | Path) -> Any:
    """The Optuna artifact store for ``--artifacts`` (a directory or an object-store URL).

    Raises:
        ConfigError: an unsupported scheme, a malformed bucket, a missing client library, an
            unreachable bucket, or a directory path with a file in the way.
    """
    scheme = object_store_scheme(spec)
    if scheme is None:
        check_directory_path(spec, "--artifacts")
        return AtomicFileSystemArtifactStore(spec)
    bucket, prefix = _bucket_and_prefix(str(spec))
    store = _open_s3(str(spec), bucket) if scheme == "s3" else _open_gcs(str(spec), bucket)
    return PrefixedArtifactStore(store, prefix)


class StudyArtifacts:
    """A study's artifact store with local-file access to what it holds.

    Args:
        spec: the artifact directory or object-store URL.
        cache_dir: where artifacts downloaded from an object store are kept (one sub-directory
            per store); unused for a directory store.
    """

    def __init__(self, spec: str | Path, cache_dir: str | Path) -> None:
        self.spec = str(spec)
        self.remote = object_store_scheme(spec) is not None
        self.store = open_artifact_store(spec)
        digest = hashlib.sha256(self.spec.encode()).hexdigest()[:16]
        self.download_dir = Path(cache_dir) / "artifacts" / digest

    def __repr__(self) -> str:
        return f"StudyArtifacts({self.spec!r})"

    def local_path(self, artifact_id: str) -> Path | None:
        """A local file holding the artifact (downloaded once from an object store).

        Returns:
            The path, or ``None`` when the store has no such artifact.
        """
        if not self.remote:
            path = self.store.base_path / artifact_id
            return path if path.is_file() else None
        path = self.download_dir / artifact_id
        if path.is_file():
            return path
        try:
            reader = self.store.open_reader(artifact_id)
        except ArtifactNotFound:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_write(path) as out:
                shutil.copyfileobj(reader, out, 1 << 20)
        finally:
            reader.close()
        return path

    def read_bytes(self, key: str) -> bytes | None:
        """The content stored under ``key``, or ``None`` when there is none."""
        try:
            reader = self.store.open_reader(key)
        except ArtifactNotFound:
            return None
        try:
            return reader.read()
        finally:
            reader.close()

    def write_bytes(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key`` (replacing what was there, never half-written)."""
        self.store.write(key, io.BytesIO(content))

    def remove(self, key: str) -> None:
        """Remove ``key`` if present."""
        with contextlib.suppress(ArtifactNotFound):
            self.store.remove(key)

"""Shared fixtures: a throw-away PostgreSQL server for the tests that need one (``postgres_url``),
and a local S3-compatible server with one bucket (``s3_bucket``).

Uses ``$AUTOMOA_TEST_POSTGRES_URL`` when set; otherwise starts a private cluster from the
installed server binaries (``initdb`` + ``pg_ctl``, as the ``postgres`` user when running as
root, since the server refuses to run as root) on a free port of 127.0.0.1. CI (``.ci/run``)
installs PostgreSQL and sets ``AUTOMOA_REQUIRE_POSTGRES=1``, so there these tests can never be
skipped.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def server_bindir() -> Path | None:
    """Directory of ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.insert(0, str(Path(found).resolve().parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a cluster; yields the URL of its ``postgres`` database; stops and deletes it."""
    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    datadir = Path(tempfile.mkdtemp(prefix="automoa-pg-", dir="/tmp"))
    if as_root:
        shutil.chown(datadir, "postgres", "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust"],
            **run,
        )
        options = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-o",
                options,
                "-w",
                "-l",
                str(datadir / "server.log"),
                "start",
            ],
            **run,
        )
        try:
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
                capture_output=True,
            )
    finally:
        shutil.rmtree(datadir, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server; returns its URL."""
    import psycopg2

    base = server_url.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(base)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL server: ``$AUTOMOA_TEST_POSTGRES_URL`` or a throw-away cluster."""
    url = os.environ.get("AUTOMOA_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if server_bindir() is None:
        if os.environ.get("AUTOMOA_REQUIRE_POSTGRES"):
            pytest.fail("AUTOMOA_REQUIRE_POSTGRES is set but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed here (.ci/run installs it for CI)")
    with throwaway_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the test server."""
    return create_database(postgres_server, f"automoa_test_{os.getpid()}_{next(_databases)}")


@pytest.fixture(scope="session")
def s3_bucket() -> Iterator[str]:
    """A bucket on moto's S3 server on 127.0.0.1; yields its name.

    The server speaks the S3 HTTP API, so boto3 in this process and in worker processes reaches
    it as it would a real bucket (``AWS_ENDPOINT_URL``, as for MinIO).
    """
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        boto3.client("s3").create_bucket(Bucket="automoa-test")
        yield "automoa-test"
    server.stop()


@pytest.fixture
def default_ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler for the test: a process started in the background (``cmd &``)
    inherits an ignored SIGINT, which automoa rightly leaves ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

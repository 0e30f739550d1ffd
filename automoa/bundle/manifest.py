"""The manifest of a bundle: what it holds, with a sha256 of every file, and its verification.

``manifest.json`` lists every other file of the bundle with its size and sha256, and carries
``manifest_sha256``, the sha256 of its own canonical JSON without that key, so a change to any
file, the manifest included, is detected before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from automoa.atomic import atomic_write
from automoa.exceptions import BundleError

FORMAT = "automoa-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_SELF_HASH = "manifest_sha256"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    content = {k: v for k, v in manifest.items() if k != _SELF_HASH}
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def file_entries(root: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{relative name: {"bytes": size, "sha256": hex}}`` of the files ``names`` under ``root``."""
    return {
        name: {"bytes": (root / name).stat().st_size, "sha256": sha256_file(root / name)}
        for name in sorted(names)
    }


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Seal ``manifest`` with its own hash and write it to ``root/manifest.json`` atomically."""
    sealed = {**manifest, _SELF_HASH: hashlib.sha256(_canonical(manifest)).hexdigest()}
    with atomic_write(root / MANIFEST, "w") as out:
        json.dump(sealed, out, indent=2, sort_keys=True)
        out.write("\n")


def _inside(root: Path, name: str) -> Path:
    """``root/name`` for a plain relative name naming a regular file inside the bundle.

    Refuses absolute paths and ``..``, and, checked with ``lstat`` (never following a link),
    a symbolic link anywhere on the way (a member, or the ``members`` directory) and anything
    that is not a regular file: a bundle cannot reach, hash or size a file outside itself.
    """
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise BundleError(f"{root / MANIFEST}: file name {name!r} points outside the bundle")
    path = root
    for part in pure.parts:
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise BundleError(f"{root}: {name} is missing; the bundle is incomplete") from None
        except OSError as exc:
            raise BundleError(f"{root}: {name} cannot be read ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise BundleError(
                f"{root}: {path.relative_to(root)} is a symbolic link; a bundle holds regular "
                "files only"
            )
    if not stat.S_ISREG(mode):
        raise BundleError(f"{root}: {name} is not a regular file")
    return path


def read_verified(root: str | Path) -> dict[str, Any]:
    """Read a bundle's manifest and check every file against it.

    Args:
        root: the bundle directory.

    Returns:
        The manifest.

    Raises:
        BundleError: a missing or unreadable manifest, another format or a newer version, or a
            listed file missing, of another size (truncated) or another sha256 (modified).
    """
    root = Path(root)
    path = root / MANIFEST
    if root.is_file():
        raise BundleError(
            f"{root}: is a file; expected the bundle directory written by automoa export"
        )
    if not root.is_dir():
        raise BundleError(f"{root}: bundle directory not found")
    if not path.is_file() and not path.is_symlink():
        raise BundleError(f"{root}: no {MANIFEST}; expected a directory written by automoa export")
    _inside(root, MANIFEST)
    try:
        manifest = json.loads(path.read_bytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc}); the bundle is damaged") from None
    except RecursionError:
        raise BundleError(f"{path}: nested too deeply; not a manifest automoa wrote") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not an automoa bundle manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version!r} (written by automoa "
            f"{manifest.get('automoa_version', '?')}); this automoa reads version {FORMAT_VERSION}"
        )
    expected = hashlib.sha256(_canonical(manifest)).hexdigest()
    if manifest.get(_SELF_HASH) != expected:
        raise BundleError(f"{path}: content does not match its checksum; the manifest was modified")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{path}: no 'files' list")
    for name, entry in files.items():
        file = _inside(root, name)
        if not isinstance(entry, dict):
            raise BundleError(f"{path}: the entry of {name!r} is not an object")
        size = os.lstat(file).st_size
        if size != entry.get("bytes"):
            raise BundleError(
                f"{root}: {name} has {size} bytes, expected {entry.get('bytes')}; the bundle is "
                "truncated or modified"
            )
        if sha256_file(file) != entry.get("sha256"):
            raise BundleError(f"{root}: {name} does not match its sha256; the bundle was modified")
    return manifest


def bundle_file(root: str | Path, manifest: dict[str, Any], name: str) -> Path:
    """Path of a file the (verified) manifest lists."""
    if name not in manifest["files"]:
        raise BundleError(f"{Path(root) / MANIFEST}: refers to {name!r}, which it does not list")
    return _inside(Path(root), name)

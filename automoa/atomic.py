"""Atomic file writes: write to a temporary file next to the target, flush, then rename.

A reader (or a crash, even kill -9) never sees a half-written file under the final name; an
interrupted write leaves at most a hidden ``.NAME.*.tmp`` file, which nothing reads.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Files get the permissions ``open()`` would give them (mkstemp's are private, 0600).
FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "wb", *, exclusive: bool = False, **open_args: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path``, else it is removed.

    Args:
        path: the final file (its directory must exist).
        mode: ``"wb"`` or ``"w"``.
        exclusive: never replace anything: the finished file is hard-linked to ``path``, which
            fails with :class:`FileExistsError` if any file, directory or symbolic link (even a
            dangling one) has that name by then, so a file created meanwhile is not lost.
        **open_args: passed to :func:`os.fdopen` (e.g. ``newline=""``).

    Raises:
        FileExistsError: ``exclusive`` and ``path`` exists.
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, mode, **open_args) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(tmp, path)  # EEXIST if the name is taken: nothing is replaced
            Path(tmp).unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

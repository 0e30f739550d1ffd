"""Which process owns a piece of shared work (a study's set-up, a running trial), and whether
it is still alive.

An owner is ``{"host", "pid", "beat"}``. On its own host a dead owner is known at once (its pid
no longer exists); elsewhere only by silence: no beat for ``stale_seconds``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any


def this_process() -> dict[str, Any]:
    """The owner record of the calling process, beating now."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "beat": time.time()}


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def owner_dead(owner: Mapping[str, Any], stale_seconds: float | None = None) -> bool:
    """Whether ``owner`` is gone: its pid has exited (same host), or it has not beaten for
    ``stale_seconds`` (any host; ``None``: never judged by silence)."""
    pid = owner.get("pid")
    same_host = owner.get("host") == socket.gethostname()
    if same_host and isinstance(pid, int) and pid != os.getpid() and not pid_alive(pid):
        return True
    if stale_seconds is None:
        return False
    try:
        beat = float(owner.get("beat", owner.get("time", 0.0)))
    except (TypeError, ValueError):
        return True
    return time.time() - beat > stale_seconds


def describe(owner: Mapping[str, Any]) -> str:
    """``pid N on HOST``, for messages."""
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"

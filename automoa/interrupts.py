"""Ctrl-C that a search cannot lose.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT
arrives. Inside a finalizer (SQLAlchemy's weakref callbacks, a ``__del__``) the exception is
printed as "Exception ignored" and dropped, so a search would carry on to the end of its
budget. While :func:`latched_ctrl_c` is active, SIGINT also sets a flag that the search loop
reads at safe points (:func:`interrupt_requested`, :func:`raise_if_interrupted`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_requested = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def latched_ctrl_c() -> Iterator[None]:
    """Remember every Ctrl-C received while the block runs.

    Only the main thread can own a signal handler, and a process that ignores SIGINT (a job a
    shell started in the background) or handles it its own way keeps doing so: the latch is
    then not installed and nothing changes.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _requested.clear()
    previous = signal.signal(signal.SIGINT, _on_sigint)
    previous_hook = sys.unraisablehook

    def quiet_ctrl_c(unraisable: Any) -> None:
        # The swallowed Ctrl-C is latched: no "Exception ignored ... Traceback" for the user.
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    sys.unraisablehook = quiet_ctrl_c
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
        _requested.clear()


def interrupt_requested() -> bool:
    """Whether Ctrl-C was pressed inside the active :func:`latched_ctrl_c` block."""
    return _requested.is_set()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed and its exception was swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt

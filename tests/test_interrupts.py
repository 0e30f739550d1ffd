import signal

import pytest

from automoa.interrupts import interrupt_requested, latched_ctrl_c, raise_if_interrupted


class _SendsCtrlCWhenCollected:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_dropped_by_a_finalizer_is_remembered_until_the_block_ends(capsys, default_ctrl_c):
    with latched_ctrl_c():
        assert not interrupt_requested()
        raise_if_interrupted()  # nothing pressed yet: no exception
        _SendsCtrlCWhenCollected()  # its KeyboardInterrupt is printed and dropped
        assert interrupt_requested()
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert not interrupt_requested()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert "Traceback" not in capsys.readouterr().err  # the latched Ctrl-C is not printed


def test_a_ctrl_c_outside_a_finalizer_still_raises_at_once(default_ctrl_c):
    with latched_ctrl_c(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with latched_ctrl_c():
            signal.raise_signal(signal.SIGINT)  # ignored: no exception, nothing latched
            assert not interrupt_requested()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)

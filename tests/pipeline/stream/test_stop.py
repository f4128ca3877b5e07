"""The stop request and the signal handlers that raise it, with real signals to this process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sensorium.pipeline.stream.stop import StopRequest, stop_on_signals


def test_first_request_drains_a_second_forces():
    stop = StopRequest(drain_timeout_s=60)
    assert not stop.requested and not stop.drain_expired()
    stop.request("SIGTERM")
    assert stop.requested and not stop.forced and stop.reason == "SIGTERM" and not stop.drain_expired()
    stop.request("SIGINT")
    assert stop.forced and stop.reason == "SIGTERM" and stop.drain_expired()


def test_the_drain_expires_after_its_timeout():
    stop = StopRequest(drain_timeout_s=0.05)
    stop.request("test")
    time.sleep(0.1)
    assert stop.drain_expired() and not stop.forced


def test_a_negative_drain_timeout_is_refused():
    with pytest.raises(ValueError, match="drain_timeout_s must be >= 0, got -1"):
        StopRequest(drain_timeout_s=-1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_become_requests_and_the_old_handlers_come_back(sig):
    before = signal.getsignal(sig)
    stop = StopRequest()
    with stop_on_signals(stop):
        os.kill(os.getpid(), sig)
        time.sleep(0.01)  # the handler runs in the main thread at the next bytecode
        assert stop.requested and stop.reason == sig.name and not stop.forced
        os.kill(os.getpid(), sig)
        time.sleep(0.01)
        assert stop.forced
    assert signal.getsignal(sig) is before


def test_a_third_signal_gets_the_previous_handler():
    """After the forced stop a stuck run can still be interrupted the usual way."""
    stop = StopRequest()
    with pytest.raises(KeyboardInterrupt):
        with stop_on_signals(stop, signals=(signal.SIGINT,)):
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
    assert stop.forced


def test_install_takes_the_signal_back_and_leaving_restores_the_first_handler():
    """What the CLI does after ``ray.init`` replaced the SIGTERM handler."""
    from sensorium.pipeline.stream.stop import SignalStop

    before = signal.getsignal(signal.SIGTERM)
    stop, foreign = StopRequest(), []
    with SignalStop(stop, signals=(signal.SIGTERM,)) as handlers:
        signal.signal(signal.SIGTERM, lambda *_: foreign.append(1))  # someone else's handler, as ray.init sets
        handlers.install()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
    assert stop.requested and not foreign
    assert signal.getsignal(signal.SIGTERM) is before

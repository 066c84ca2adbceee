"""The message timer of ``profile_hot_path.py`` counts what the trace records, and leaves the
router as it found it."""

from __future__ import annotations

import collections

import pytest

from benchmarks.profile_hot_path import timed_messages
from benchmarks.test_backend_flow import CONFIG, USER, _funded_system
from icto import Ok
from icto.ic.router import Router


def test_the_timer_sees_every_message_of_a_deployment_once() -> None:
    """Every message the trace records, once (the new token's ``init`` is a hook entry of its
    ``install_code`` message, not a message of its own)."""
    system = _funded_system(trace=True)
    backend = system.backend.as_caller(USER)
    seen = len(system.ic.trace)
    deliver = Router.deliver

    with timed_messages() as (own, count):
        result = backend.deploy_token(CONFIG)

    assert isinstance(result, Ok), result
    entries = list(system.ic.trace)[seen:]
    traced = collections.Counter(entry.method for entry in entries if entry.kind != "hook")
    assert count == traced
    assert sum(count.values()) == 17
    assert own.keys() == count.keys()
    assert all(nanoseconds > 0 for nanoseconds in own.values())
    assert Router.deliver is deliver


def test_the_router_is_put_back_when_the_timed_block_raises() -> None:
    deliver = Router.deliver

    with pytest.raises(RuntimeError, match="stop"), timed_messages():
        assert Router.deliver is not deliver
        raise RuntimeError("stop")

    assert Router.deliver is deliver

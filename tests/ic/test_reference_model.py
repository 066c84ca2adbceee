"""Random sequences of updates, traps, rejects, calls and nested anchors match a plain model.

The model is a dict of integers plus a stack of saved copies: the simplest thing that could state
what the IC's rules mean for these toy canisters.
"""

from __future__ import annotations

import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from icto import IC, CallRejected, RejectCode
from tests.ic.toys import Counter, Relay

N_COUNTERS = 3
amounts = st.integers(min_value=0, max_value=1_000)
counter_index = st.integers(min_value=0, max_value=N_COUNTERS - 1)


class ICAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ic = IC(trace=False)
        self.counters = [self.ic.deploy(Counter) for _ in range(N_COUNTERS)]
        self.relay = self.ic.deploy(Relay)
        self.model = {i: 0 for i in range(N_COUNTERS)} | {"relay": 0}
        self.anchors: list[tuple[contextlib.ExitStack, dict[object, int]]] = []

    def _expect_reject(self, code: RejectCode, fn: object, *args: object) -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except CallRejected as rejected:
            assert rejected.reject_code is code, rejected
        else:
            raise AssertionError("expected a reject")

    @rule(i=counter_index, by=amounts)
    def inc(self, i: int, by: int) -> None:
        self.model[i] += by
        assert self.counters[i].inc(by) == self.model[i]

    @rule(i=counter_index, by=amounts)
    def trap(self, i: int, by: int) -> None:
        self._expect_reject(RejectCode.CANISTER_ERROR, self.counters[i].inc_then_trap, by)

    @rule(i=counter_index, by=amounts)
    def reject(self, i: int, by: int) -> None:
        self.model[i] += by
        self._expect_reject(RejectCode.CANISTER_REJECT, self.counters[i].inc_then_reject, by)

    @rule(i=counter_index, by=amounts)
    def call_then_trap(self, i: int, by: int) -> None:
        self.model["relay"] += 1
        self.model[i] += by
        self._expect_reject(
            RejectCode.CANISTER_ERROR, self.relay.bump_call_trap, self.counters[i].id, "inc", (by,)
        )

    @rule(i=counter_index, by=amounts, method=st.sampled_from(["inc_then_trap", "inc_then_reject"]))
    def call_a_failing_callee_and_catch(self, i: int, by: int, method: str) -> None:
        self.model["relay"] += 101
        if method == "inc_then_reject":
            self.model[i] += by
        self.relay.bump_call_catch(self.counters[i].id, method, (by,))

    @rule(i=counter_index, by=amounts)
    def query_writes_nothing(self, i: int, by: int) -> None:
        assert self.counters[i].inc_in_query(by) == self.model[i] + by

    @precondition(lambda self: len(self.anchors) < 4)
    @rule()
    def open_anchor(self) -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(self.ic.anchor())
        self.anchors.append((stack, dict(self.model)))

    @precondition(lambda self: bool(self.anchors))
    @rule()
    def close_anchor(self) -> None:
        stack, saved = self.anchors.pop()
        stack.close()
        self.model = saved

    @invariant()
    def every_canister_matches_the_model(self) -> None:
        for i, counter in enumerate(self.counters):
            assert counter.get() == self.model[i]
        assert self.relay.get() == self.model["relay"]

    def teardown(self) -> None:
        while self.anchors:
            self.anchors.pop()[0].close()


ICAgainstModel.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestICAgainstModel = ICAgainstModel.TestCase

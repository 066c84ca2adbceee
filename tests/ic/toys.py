"""Toy canisters shared by the IC tests. Small on purpose: each method does one observable thing."""

from __future__ import annotations

from typing import Any

import attrs

from icto import CallRejected, Canister, Principal, Reject, Trap, query, update


@attrs.frozen
class Tally:
    n: int = 0


class Counter(Canister):
    """An integer in ``Tally``; methods that change it and then reply, reject or trap."""

    VERSION = "1.0.0"

    def init(self, arg: int | None) -> None:
        self.state = Tally(arg or 0)

    @update
    def inc(self, by: int = 1) -> int:
        self.state = Tally(self.state.n + by)
        return self.state.n

    @update
    def inc_then_trap(self, by: int) -> int:
        self.state = Tally(self.state.n + by)
        raise Trap("trapped on purpose")

    @update
    def inc_then_reject(self, by: int) -> int:
        self.state = Tally(self.state.n + by)
        raise Reject("rejected on purpose")

    @update
    def whoami(self) -> Principal:
        return self.caller

    @query
    def get(self) -> int:
        return self.state.n

    @query
    def inc_in_query(self, by: int) -> int:
        self.state = Tally(self.state.n + by)
        return self.state.n

    @query
    def caller_of_query(self) -> Principal:
        return self.caller


class Relay(Canister):
    """A ``Tally`` of its own plus methods that call other canisters around local changes."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @update
    def relay(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> Any:
        """Call ``target.method(*args)`` and return its reply."""
        return self.call(target, method, *args)

    @update
    def bump_call_bump(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> int:
        """+1, call, +1: both bumps commit when the call succeeds."""
        self.state = Tally(self.state.n + 1)
        self.call(target, method, *args)
        self.state = Tally(self.state.n + 1)
        return self.state.n

    @update
    def bump_call_trap(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> int:
        """+1, call, +10, trap: the first bump was committed by the call; +10 is rolled back."""
        self.state = Tally(self.state.n + 1)
        self.call(target, method, *args)
        self.state = Tally(self.state.n + 10)
        raise Trap("trap after the call")

    @update
    def bump_call_catch(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> str:
        """+1, call; on reject +100 and report the reject code instead of trapping."""
        self.state = Tally(self.state.n + 1)
        try:
            self.call(target, method, *args)
        except CallRejected as rejected:
            self.state = Tally(self.state.n + 100)
            return f"{rejected.reject_code.name} {rejected.error_code}"
        return "reply"

    @update
    def chain(self, hops: tuple[Principal, ...]) -> int:
        """Call ``chain(hops[1:])`` on ``hops[0]``; return the depth reached (1 at the end)."""
        self.state = Tally(self.state.n + 1)
        if not hops:
            return 1
        return 1 + int(self.call(hops[0], "chain", hops[1:]))

    @query
    def get(self) -> int:
        return self.state.n

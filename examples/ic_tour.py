"""A tour of the simulated IC: canisters, calls, traps, rejects, anchors, timers, faults, trace.

Run: python examples/ic_tour.py
"""

from __future__ import annotations

import attrs
import immutables

from icto import IC, CallRejected, Canister, Principal, Reject, query, update


@attrs.frozen
class Book:
    entries: immutables.Map[str, int] = immutables.Map()


class Registry(Canister):
    """Counts deposits per name; asks an auditor canister to approve each one."""

    VERSION = "1.0.0"

    def init(self, auditor: Principal) -> None:
        self.state = (auditor, Book())

    @update
    def deposit(self, name: str, amount: int) -> int:
        auditor, book = self.state
        total = book.entries.get(name, 0) + amount
        self.state = (auditor, Book(book.entries.set(name, total)))
        self.call(auditor, "approve", name, amount)  # commits the deposit, then awaits
        if amount > 100:
            raise ValueError("amounts over 100 trap after the call")
        return total

    @query
    def balance(self, name: str) -> int:
        return self.state[1].entries.get(name, 0)

    @update
    def schedule_bonus(self, name: str, delay_seconds: int) -> int:
        return self.set_timer(delay_seconds * 10**9, "_bonus", name)

    def _bonus(self, name: str) -> None:
        auditor, book = self.state
        self.state = (auditor, Book(book.entries.set(name, book.entries.get(name, 0) + 1)))
        self.log(f"bonus paid to {name}")


class Auditor(Canister):
    VERSION = "1.0.0"

    def init(self, arg: None) -> None:
        self.state = 0

    @update
    def approve(self, name: str, amount: int) -> None:
        if amount <= 0:
            raise Reject(f"refusing {amount} for {name}")
        self.state += 1

    @query
    def approvals(self) -> int:
        return int(self.state)


def main() -> None:
    ic = IC()
    alice = Principal.from_name("alice")
    auditor = ic.deploy(Auditor)
    registry = ic.deploy(Registry, auditor.id).as_caller(alice)
    print(ic)
    print(registry, auditor, sep="\n")

    print("deposit 40 ->", registry.deposit("alice", 40))

    try:
        registry.deposit("alice", 0)
    except CallRejected as rejected:
        print("rejected:", rejected.error_code, rejected.message)
    print("after a rejected approval the deposit was still committed:", registry.balance("alice"))

    try:
        registry.deposit("alice", 500)
    except CallRejected as rejected:
        print("trapped:", rejected.error_code, rejected.message)
    print("the trap came after the call, so the deposit stays:", registry.balance("alice"))
    print("approvals:", auditor.approvals())

    with ic.anchor():
        registry.deposit("bob", 5)
        print("inside an anchor bob has", registry.balance("bob"))
    print("after the anchor bob has", registry.balance("bob"))

    registry.schedule_bonus("alice", 3600)
    ic.advance_time(hours=2)
    print("after two hours (timer fired):", registry.balance("alice"))
    print("registry log:", [r.content for r in ic.canister_logs(registry.id)])

    with ic.faults.reject(canister=auditor.id, method="approve"):
        try:
            registry.deposit("carol", 1)
        except CallRejected as rejected:
            print("injected:", rejected.reject_code.name, rejected.message)

    print("\ncall tree of the last message:")
    print(ic.trace.tree())
    print("\nstatus:", ic.canister_status(registry.id))


if __name__ == "__main__":
    main()

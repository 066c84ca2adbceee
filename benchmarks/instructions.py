"""Machine instructions per operation, counted by valgrind: the work done, free of timing noise.

``python benchmarks/instructions.py [SCENARIO ...]`` runs each scenario twice under ``valgrind
--tool=callgrind`` (once with no operations, once with ``OPERATIONS[scenario]``) and prints the
difference per operation, so the cost of starting Python and building the world cancels out
(with ``PYTHONHASHSEED=0``; principals, accounts and collections hash by their contents, never
by an object's address, so maps take the same shape in every run). Timings on a shared machine
move by 30 % between runs; these counts repeat to the instruction for one tree, so two trees can
be compared exactly (run the script from each tree's root). Instructions are not time (a cache
miss costs more than an addition), but the same code path doing fewer instructions is doing less
work. Needs ``valgrind`` on the PATH; slow (a minute or two for all scenarios).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPERATIONS = {
    "plain": 20_000,
    "call": 2_000,
    "ingress": 2_000,
    "transfer": 300,
    "deploy": 50,
    "role": 200,
}
"""Scenario → how many operations the counted run performs."""


def _router(what: str) -> Callable[[int], None]:
    from benchmarks.test_router_overhead import Caller, PlainCounter
    from icto import IC
    from tests.ic.toys import Counter

    ic = IC(trace=False)
    target, caller, plain = ic.deploy(Counter), ic.deploy(Caller), PlainCounter()
    caller.call_many(target.id, 10)
    target.inc(1)

    def run(n: int) -> None:
        if what == "plain":
            for _ in range(n):
                plain.inc(1)
        elif what == "call":
            caller.call_many(target.id, n)
        else:
            for _ in range(n):
                target.inc(1)

    return run


def _transfer() -> Callable[[int], None]:
    from benchmarks.test_ledger_scale import ledger_with_accounts
    from icto import Account, Principal, TransferArgs

    _, ledger, sender = ledger_with_accounts(1000)
    payer = ledger.as_caller(sender)
    payer.icrc1_transfer(TransferArgs(to=Account(Principal.from_name("warm-up")), amount=1))

    targets = [Account(Principal.from_canister_index(i)) for i in range(OPERATIONS["transfer"])]

    def run(n: int) -> None:
        for to in targets[:n]:
            payer.icrc1_transfer(TransferArgs(to=to, amount=1))

    return run


def _deploy() -> Callable[[int], None]:
    from benchmarks.test_backend_flow import CONFIG, USER, _funded_system

    system = _funded_system()
    backend = system.backend.as_caller(USER)

    def run(n: int) -> None:
        for _ in range(n):
            with system.ic.anchor():
                backend.deploy_token(CONFIG)

    run(1)
    return run


def _role() -> Callable[[int], None]:
    import benchmarks.test_factory_scale as factory
    from icto import Principal

    scene = factory.scene(factory.SMALL)
    index = scene.ic.state_of(scene.factory.id).index
    busy, contract = Principal.from_name("busy"), index.at(1).id

    def run(n: int) -> None:
        for _ in range(n):
            for method in ("notify_participant_added", "notify_participant_removed"):
                scene.ic.update_call(
                    scene.factory.id, method, busy, factory.HOLDER, caller=contract
                )

    run(1)
    return run


def scenario(name: str) -> Callable[[int], None]:
    if name in ("plain", "call", "ingress"):
        return _router(name)
    return {"transfer": _transfer, "deploy": _deploy, "role": _role}[name]()


def _count(name: str, operations: int) -> int:
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--run", name, str(operations)],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run"]:
        scenario(argv[1])(int(argv[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not on the PATH", file=sys.stderr)
        return 2
    for name in argv or list(OPERATIONS):
        operations = OPERATIONS[name]
        per_operation = (_count(name, operations) - _count(name, 0)) / operations
        print(f"{name:10s} {per_operation:>14,.0f} instructions per operation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

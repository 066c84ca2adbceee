"""The scaling scenarios behind ``python -m icto bench``: V1's centralized relationship list against
V2's per-factory index, and V2's index operations for users holding more and more contracts.

Worlds are built the way ``test_factory_scale`` builds them: one real ``create_contract``, then
n - 1 tokens registered straight into the factory's ``ContractIndex`` with canister records copied
from the real one (a million real deployments would take far too long). The V1 backend
(``benchmarks.v1_backend``) gets the same relationships: each contract's creator and holder. The
measured calls then go through the IC like a user's. Everything is deterministic except the
timings, which are wall-clock (``time.perf_counter``) medians: measuring is this command's job.
"""

from __future__ import annotations

import functools
import gc
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import attrs

from benchmarks.v1_backend import Relationship, deploy_v1
from icto import CREATOR, IC, Account, Principal
from icto.collections import SortedSet
from icto.factory import deploy_factory
from icto.ic.proxy import CanisterProxy
from icto.token import HOLDER, TokenConfig, TokenFactory

SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
PER_USER = (1, 100, 10_000)
QUICK_PER_USER = (1, 100)

CONTRACTS_PER_USER = 5
BACKEND = Principal.from_name("backend")
ADMIN = Principal.from_name("admin")
FIRST_SEEDED = 10_000_000
TIME_BUDGET = 0.5
"""Seconds of calls to aim for per measurement (at least ``MIN_CALLS``, at most ``MAX_CALLS``)."""
MIN_CALLS = 3
MAX_CALLS = 200


@functools.cache
def user(index: int) -> Principal:
    return Principal.from_name(f"user-{index}")


def config(index: int, holder: Principal) -> TokenConfig:
    """A token whose only initial balance is in a subaccount of ``holder``."""
    treasury = Account(holder, (1).to_bytes(32, "big"))
    return TokenConfig(name=f"Token {index}", symbol="TK", initial_balances=((treasury, 1_000),))


@attrs.frozen
class Scene:
    ic: IC
    factory: CanisterProxy
    relationships: tuple[Relationship, ...]
    """What V1 would hold for the same contracts: (user, contract, role)."""
    user: Principal
    """A user with about ``2 * CONTRACTS_PER_USER`` contracts."""


def build(count: int) -> Scene:
    """A Token Factory holding ``count`` contracts (see the module doc)."""
    ic = IC(trace=False)
    factory = deploy_factory(ic, TokenFactory, backends=[BACKEND], caller=ADMIN, cycles=10**22)
    real = factory.as_caller(BACKEND).create_contract(user(0), config(0, user(1))).unwrap()
    template = ic.world.canisters[real]
    state = ic.state_of(factory.id)
    index = state.index
    info = index.info(real)
    users = max(count // CONTRACTS_PER_USER, 2)
    relationships: list[Relationship] = [(user(0), real, CREATOR)]
    with ic.world.canisters.mutate() as canisters:
        for n in range(1, count):
            contract = Principal.from_canister_index(FIRST_SEEDED + n)
            owner, holder = user(n % users), user((n + 1) % users)
            index = index.register(
                contract, kind="token", owner=owner, name=f"Token {n}", created_at=ic.time,
                version=info.version, is_public=True, details=info.details,
                roles=((holder, HOLDER),),
            )  # fmt: skip
            canisters[contract] = template._replace(canister_id=contract)
            relationships += ((owner, contract, CREATOR), (holder, contract, HOLDER))
        world_canisters = canisters.finish()
    seeded = attrs.evolve(
        state, index=index, by_symbol=state.by_symbol.set("TK", SortedSet(range(count)))
    )
    record = world_canisters[factory.id]
    ic.restore(
        ic.world._replace(
            canisters=world_canisters.set(factory.id, record.with_state(seeded, record.cycles))
        )
    )
    return Scene(ic, factory, tuple(relationships), user(3))


def give_roles(ic: IC, factory: CanisterProxy, who: Principal, held: int) -> None:
    """Make ``who`` a holder of the first ``held`` contracts, written straight into the index
    (what ``held`` calls of ``notify_participant_added`` would leave)."""
    state = ic.state_of(factory.id)
    index = state.index
    for seq in range(held):
        index = index.with_role(index.at(seq).id, who, HOLDER)
    world = ic.world
    record = world.canisters[factory.id]
    seeded = attrs.evolve(state, index=index)
    ic.restore(
        world._replace(
            canisters=world.canisters.set(factory.id, record.with_state(seeded, record.cycles))
        )
    )


def seconds(call: Callable[[], Any]) -> float:
    """The wall-clock time of one call."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median_seconds(call: Callable[[], Any], calls: int | None = None) -> float:
    """The median wall-clock time of ``call``, over ``calls`` calls or as many as fit in
    ``TIME_BUDGET`` (within ``MIN_CALLS`` .. ``MAX_CALLS``)."""
    first = seconds(call)  # a warm-up, not counted
    if calls is None:
        calls = max(MIN_CALLS, min(MAX_CALLS, int(TIME_BUDGET / max(first, 1e-9))))
    return statistics.median(seconds(call) for _ in range(calls))


class Progress:
    """``[####......] 3/8 v2 get_my_contracts @ 100,000`` on ``stream`` as each step starts (the
    bar shows the steps already done): redrawn in place on a terminal, one line per step
    otherwise."""

    WIDTH = 20

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.tty = stream.isatty()
        self.width = 0

    def step(self, label: str) -> None:
        filled = self.WIDTH * self.done // self.total
        self.done += 1
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} {label}"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        line = f"[{'#' * self.WIDTH}] {self.done}/{self.total} done"
        self.stream.write(("\r" + line.ljust(self.width) if self.tty else line) + "\n")
        self.stream.flush()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Build with the cyclic collector paused, then keep what was built out of its reach: else
    every full collection walks millions of immutable objects and the timings measure it."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def release() -> None:
    gc.unfreeze()
    gc.collect()


@attrs.frozen
class SizeRow:
    contracts: int
    relationships: int
    v1_seconds: float
    v2_seconds: float

    @property
    def speedup(self) -> float:
        return self.v1_seconds / self.v2_seconds


@attrs.frozen
class UserRow:
    held: int
    add_creator: float
    add_role: float
    remove_role: float
    get_my_contracts: float


def measure_size(count: int, progress: Progress) -> SizeRow:
    at = f"@ {count:,}"
    progress.step(f"build {count:,} contracts")
    with frozen_heap():
        scene = build(count)
        v1 = deploy_v1(scene.ic, scene.relationships)
    v1_mine = v1.as_caller(scene.user)
    v2_mine = scene.factory.as_caller(scene.user)
    v1_answer = set(v1_mine.get_my_contracts(scene.user))
    v2_answer = {entry.info.id for entry in v2_mine.get_my_contracts(scene.user).items}
    if v1_answer != v2_answer:
        raise AssertionError(f"V1 and V2 disagree on the user's contracts at {count:,}")
    progress.step(f"v1 get_my_contracts {at}")
    v1_seconds = median_seconds(lambda: v1_mine.get_my_contracts(scene.user))
    progress.step(f"v2 get_my_contracts {at}")
    v2_seconds = median_seconds(lambda: v2_mine.get_my_contracts(scene.user))
    return SizeRow(count, len(scene.relationships), v1_seconds, v2_seconds)


def measure_user(held: int, progress: Progress) -> UserRow:
    at = f"@ user with {held:,}"
    progress.step(f"build a user with {held:,} contracts")
    with frozen_heap():
        scene = build(max(1_000, held + 100))
        busy = Principal.from_name(f"busy-{held}")
        give_roles(scene.ic, scene.factory, busy, held)
    ic, factory = scene.ic, scene.factory
    index = ic.state_of(factory.id).index
    if len(index.contracts_of(busy)) != held:
        raise AssertionError(f"the busy user should hold {held:,} contracts")
    extra = index.at(held).id
    backend = factory.as_caller(BACKEND)
    counter = itertools.count()

    def create() -> None:
        backend.create_contract(busy, config(next(counter), busy)).unwrap()

    progress.step(f"v2 add creator {at}")
    with ic.anchor():
        add_creator = median_seconds(create, 20)

    def add() -> None:
        ic.update_call(factory.id, "notify_participant_added", busy, HOLDER, caller=extra)

    def remove() -> None:
        ic.update_call(factory.id, "notify_participant_removed", busy, HOLDER, caller=extra)

    progress.step(f"v2 add + remove role {at}")
    adds, removes = [], []
    with ic.anchor():
        for _ in range(100):
            adds.append(seconds(add))
            removes.append(seconds(remove))
    progress.step(f"v2 get_my_contracts {at}")
    mine = factory.as_caller(busy)
    get = median_seconds(lambda: mine.get_my_contracts(busy))
    return UserRow(held, add_creator, statistics.median(adds), statistics.median(removes), get)


def size_table(rows: Sequence[SizeRow]) -> str:
    lines = [
        "get_my_contracts(user): V1 (one relationship list, scanned) vs V2 (per-factory index)",
        "median seconds per call",
        f"{'contracts':>10}  {'relationships':>13}  {'V1 seconds':>12}  {'V2 seconds':>12}  "
        f"{'speedup':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r.contracts:>10,}  {r.relationships:>13,}  {r.v1_seconds:>12.6f}  "
            f"{r.v2_seconds:>12.6f}  {r.speedup:>8,.0f}x"
        )
    return "\n".join(lines)


def user_table(rows: Sequence[UserRow]) -> str:
    lines = [
        "V2 index operations for one user holding k contracts (median seconds per call)",
        f"{'k':>7}  {'add creator':>12}  {'add role':>10}  {'remove role':>12}  "
        f"{'get_my_contracts':>16}",
    ]
    for r in rows:
        lines.append(
            f"{r.held:>7,}  {r.add_creator:>12.6f}  {r.add_role:>10.6f}  "
            f"{r.remove_role:>12.6f}  {r.get_my_contracts:>16.6f}"
        )
    return "\n".join(lines)


def write_png(rows: Sequence[SizeRow], path: Path) -> bool:
    """A log-log plot of both curves (``icto.plot.scaling_curve``); False when matplotlib is not
    installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    from icto.plot import scaling_curve

    figure = scaling_curve([(r.contracts, r.v1_seconds, r.v2_seconds) for r in rows])
    figure.savefig(path, format="png", dpi=100)
    return True


def run(
    sizes: Sequence[int],
    per_user: Sequence[int],
    png: Path | None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Measure, print both tables to ``out`` and write the plot to ``png`` (unless None);
    progress goes to ``err``, and so does a plot that cannot be written (status 1). ``None`` is
    ``sys.stdout`` / ``sys.stderr`` as they are when called (so a redirect or pytest's
    ``capsys`` captures them)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    progress = Progress(3 * len(sizes) + 4 * len(per_user), err)
    size_rows, user_rows = [], []
    for count in sizes:
        size_rows.append(measure_size(count, progress))
        release()  # the world measured is gone: let the collector reach what is left of it
    for held in per_user:
        user_rows.append(measure_user(held, progress))
        release()
    progress.close()
    out.write(size_table(size_rows) + "\n\n" + user_table(user_rows) + "\n")
    if png is not None and size_rows:
        try:
            written = write_png(size_rows, png)
        except OSError as exc:  # checked before measuring, yet a disk can fill up since
            err.write(f"python -m icto bench: cannot write the plot to {str(png)!r}: "
                      f"{exc.strerror or exc}\n")  # fmt: skip
            return 1
        if written:
            out.write(f"\nplot written to {png}\n")
        else:
            out.write("\nno plot: matplotlib is not installed (pip install matplotlib)\n")
    return 0

"""Persistence: ``ic.save(path)`` and ``IC.load(path, allow=...)``.

A saved world loads back equal, field by field, and continues exactly as the original would. The
file is JSON with a header, a version and a checksum; loading runs no code from it, refuses any
class outside ``icto`` and ``allow``, and builds nothing when anything is wrong. Saving is atomic.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import attrs
import immutables
import pyrsistent
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icto import E8S, IC, Account, Principal
from icto.collections import SortedSet, Vector
from icto.demo import run_demo
from icto.dex import Pool, PoolInit
from icto.ic import persistence
from icto.ic.persistence import (
    CorruptFile,
    ForbiddenClass,
    InvalidPayload,
    MissingClass,
    PersistenceError,
    Unserializable,
    UnsupportedVersion,
    VersionChanged,
)
from icto.ledger.presets import ICP, deploy_ledger
from icto.system import deploy_system
from icto.token import TokenConfig
from tests.helpers import output_under_hash_seed, saved_records

from .persistence_toys import Access, Box, Cached, Colour, Keeper

ALLOW = ("tests.ic",)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALICE = Principal.from_name("alice")


def assert_same_world(original: IC, loaded: IC) -> None:
    """Every canister record (code, state, controllers, status, cycles, timers, log), the
    pending timers, the clock and the counters are equal."""
    before, after = original.snapshot(), loaded.snapshot()
    assert set(after.canisters) == set(before.canisters)
    for cid, record in before.canisters.items():
        assert after.canisters[cid] == record
        if original.canister_exists(cid):
            assert loaded.state_of(cid) == original.state_of(cid)
    assert after.timers.live == before.timers.live
    assert after.timers.next_id == before.timers.next_id
    assert loaded.pending_timers() == original.pending_timers()
    assert (after.time, after.next_canister_index, after.rand_counter) == (
        before.time, before.next_canister_index, before.rand_counter,
    )  # fmt: skip
    assert (loaded.seed, loaded.max_call_depth) == (original.seed, original.max_call_depth)


def saved_and_loaded(ic: IC, tmp_path: Path, allow: tuple[str, ...] = ALLOW) -> IC:
    path = tmp_path / "world.icto"
    ic.save(path)
    return IC.load(path, allow=allow)


# -- round trips ------------------------------------------------------------------------------


def deployed_platform() -> tuple[IC, Any]:
    ic = IC(seed=7)
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 2 * E8S)
    config = TokenConfig(
        name="Alpha", symbol="ALP", initial_balances=[(Account(ALICE, b"\x01" * 32), 1_000_000)]
    )
    system.backend.as_caller(ALICE).deploy_token(config).unwrap()
    return ic, system


def test_a_deployed_platform_loads_back_equal_field_by_field(tmp_path: Path) -> None:
    ic, _ = deployed_platform()
    ic.advance_time(minutes=5)

    loaded = saved_and_loaded(ic, tmp_path, allow=())

    assert_same_world(ic, loaded)


def test_the_platform_continues_after_load_exactly_as_the_original(tmp_path: Path) -> None:
    ic, system = deployed_platform()
    loaded = saved_and_loaded(ic, tmp_path, allow=())

    def script(world: IC) -> list[Any]:
        backend = world.actor(system.backend.id)
        factory = world.actor(system.token_factory.id)
        results: list[Any] = []
        for n in range(3):
            world.advance_time(hours=1)
            config = TokenConfig(
                name=f"Beta {n}", symbol="BET",
                initial_balances=[(Account(ALICE, bytes([n + 2]) * 32), 1_000)],
            )  # fmt: skip
            results.append(backend.as_caller(ALICE).deploy_token(config))
        results.append(factory.as_caller(ALICE).get_my_contracts(ALICE))
        return results

    assert script(loaded) == script(ic)
    assert_same_world(ic, loaded)


def test_the_platform_reports_the_same_memory_sizes_after_load(tmp_path: Path) -> None:
    """``memory_size`` weighs the state's value: loading rebuilds it without the objects the
    original shared (interned text, one tuple held twice), and it must not weigh differently."""
    ic, _ = deployed_platform()
    loaded = saved_and_loaded(ic, tmp_path, allow=())

    def sizes(world: IC) -> dict[Principal, int]:
        return {
            cid: world.canister_status(cid, caller=world.controllers_of(cid)[0]).memory_size
            for cid in world.snapshot().canisters
            if world.canister_exists(cid) and world.controllers_of(cid)
        }

    assert sizes(loaded) == sizes(ic)
    assert len(sizes(ic)) > 5


def test_timers_time_randomness_logs_and_ids_continue_identically(tmp_path: Path) -> None:
    ic = IC(seed=42)
    keeper = ic.deploy(Keeper, Box(3, Vector([1, 2])))
    keeper.schedule(10 * 10**9, "a")
    keeper.schedule(5 * 10**9, "b")
    keeper.draw()
    loaded = saved_and_loaded(ic, tmp_path)

    def script(world: IC) -> list[Any]:
        proxy = world.actor(keeper.id)
        world.advance_time(seconds=7)
        out: list[Any] = [proxy.draw(), world.deploy(Keeper, None).id, proxy.schedule(1, "c")]
        world.advance_time(seconds=7)
        return [*out, proxy.get(), world.canister_logs(keeper.id), world.time]

    assert script(loaded) == script(ic)
    assert_same_world(ic, loaded)


def test_the_seed_is_fixed_when_the_ic_is_made_so_a_saved_world_draws_as_the_original(
    tmp_path: Path,
) -> None:
    """``raw_rand`` draws from the seed the IC was made with: assigning ``ic.seed`` is refused
    (it would change nothing, yet ``save`` would write it and ``load`` build from it)."""
    ic = IC(seed=3)
    keeper = ic.deploy(Keeper, Box(3))
    with pytest.raises(AttributeError, match=r"IC\(seed=7\)"):
        ic.seed = 7
    assert ic.seed == 3
    loaded = saved_and_loaded(ic, tmp_path)
    assert loaded.seed == 3
    assert loaded.actor(keeper.id).draw() == keeper.draw()


def test_records_are_rebuilt_field_by_field_without_running_converters(tmp_path: Path) -> None:
    ic = IC()
    keeper = ic.deploy(Keeper, Box(3))
    assert keeper.get().n == 6

    loaded = saved_and_loaded(ic, tmp_path)

    assert loaded.state_of(keeper.id) == Box(3)
    assert loaded.state_of(keeper.id).n == 6


def test_ints_too_long_for_decimal_json_round_trip(tmp_path: Path) -> None:
    ic = IC()
    huge = (2**20_000 + 1, -(3**12_000))
    keeper = ic.deploy(Keeper, huge)

    assert saved_and_loaded(ic, tmp_path).state_of(keeper.id) == huge


def test_flag_values_round_trip_whether_or_not_a_member_names_them(tmp_path: Path) -> None:
    ic = IC()
    flags = (Access.READ, Access.READ | Access.WRITE, Access(0))
    keeper = ic.deploy(Keeper, flags)

    state = saved_and_loaded(ic, tmp_path).state_of(keeper.id)

    assert state == flags
    assert all(type(value) is Access for value in state)


def test_a_flag_member_saved_by_name_still_loads(tmp_path: Path) -> None:
    """Files written before flags were saved by value name a flag member as any enum's."""
    ic = IC()
    keeper = ic.deploy(Keeper, Access.WRITE)
    path = tmp_path / "world.icto"
    ic.save(path)
    by_value = b'{"$enum":"tests.ic.persistence_toys:Access","v":2}'
    by_name = b'{"$enum":"tests.ic.persistence_toys:Access","v":"WRITE"}'
    saved_payload = path.read_bytes().split(b"\n")[1]
    assert by_value in saved_payload
    payload = json.loads(saved_payload.replace(by_value, by_name))
    rewrite(path, {"format": "icto-world", "version": 1}, payload)

    assert IC.load(path, allow=ALLOW).state_of(keeper.id) is Access.WRITE


def test_records_that_cache_their_hash_hash_as_before(tmp_path: Path) -> None:
    ic = IC()
    keeper = ic.deploy(Keeper, immutables.Map({Cached("k"): Cached(b"v")}))

    state = saved_and_loaded(ic, tmp_path).state_of(keeper.id)

    assert state[Cached("k")] == Cached(b"v")


KEYS = st.one_of(
    st.integers(), st.text(max_size=8), st.binary(max_size=8),
    st.builds(Principal.from_name, st.text(max_size=6)),
)  # fmt: skip
LEAVES = st.one_of(
    st.none(), st.booleans(), KEYS, st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from(Colour), st.builds(Access, st.integers(0, 3)),
)  # fmt: skip


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=4).map(Vector),
        st.dictionaries(KEYS, children, max_size=4).map(immutables.Map),
        st.dictionaries(KEYS, children, max_size=3).map(pyrsistent.pmap),
        st.frozensets(st.integers(), max_size=4),
        st.sets(st.integers(), max_size=70).map(lambda keys: SortedSet(keys, capacity=4)),
        st.builds(Box, st.integers(), children),
        st.builds(Cached, KEYS),
    )


STATES = st.recursive(LEAVES, _containers, max_leaves=20)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(states=st.lists(STATES, min_size=1, max_size=4), delays=st.lists(st.integers(0, 10**12)))
def test_any_world_of_toy_canisters_round_trips(
    tmp_path: Path, states: list[Any], delays: list[int]
) -> None:
    ic = IC()
    keepers = [ic.deploy(Keeper, state) for state in states]
    for n, delay in enumerate(delays):
        keepers[n % len(keepers)].schedule(delay, f"t{n}")
    ic.create_canister()

    loaded = saved_and_loaded(ic, tmp_path)

    assert_same_world(ic, loaded)
    for keeper in keepers:
        assert loaded.code_of(keeper.id) is Keeper


# -- refusals ---------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    ic = IC()
    ic.deploy(Keeper, Box(1, (Colour.RED, b"\x00\xff")))
    path = tmp_path / "world.icto"
    ic.save(path)
    return path


def rewrite(path: Path, header: dict[str, Any], payload: Any) -> None:
    """Write a well-formed file (valid checksum) with the given header and payload."""
    signed = (json.dumps(header) + "\n" + json.dumps(payload) + "\n").encode()
    path.write_bytes(signed + f"sha256 {hashlib.sha256(signed).hexdigest()}\n".encode())


def payload_of(path: Path) -> Any:
    return json.loads(path.read_bytes().split(b"\n")[1])


def test_a_corrupted_byte_is_refused(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x01
    saved.write_bytes(bytes(data))

    with pytest.raises(CorruptFile, match="checksum"):
        IC.load(saved, allow=ALLOW)


@pytest.mark.parametrize("keep", [0, 10, 100, -70, -1])
def test_a_truncated_file_is_refused(saved: Path, keep: int) -> None:
    saved.write_bytes(saved.read_bytes()[:keep])

    with pytest.raises(CorruptFile):
        IC.load(saved, allow=ALLOW)


def test_a_file_of_a_newer_format_version_is_refused(saved: Path) -> None:
    rewrite(saved, {"format": "icto-world", "version": persistence.VERSION + 1}, {})

    with pytest.raises(UnsupportedVersion, match="version 2"):
        IC.load(saved, allow=ALLOW)


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": "world"}\n')

    with pytest.raises(CorruptFile, match="not an icto-world file"):
        IC.load(path)


def _with_record(world: Any, **changes: Any) -> Any:
    """``world`` with its one canister's record changed."""
    ((cid, record),) = world.canisters.items()
    return world._replace(canisters=world.canisters.set(cid, record._replace(**changes)))


def _elsewhere(world: Any) -> Any:
    """``world`` with its one canister filed under another id than its own."""
    ((cid, record),) = world.canisters.items()
    other = Principal.from_canister_index(99)
    return world._replace(canisters=world.canisters.delete(cid).set(other, record))


def _orphan_timer(world: Any) -> Any:
    """``world`` with a timer of a canister that is not in it."""
    (cid,) = world.canisters
    return world._replace(canisters=world.canisters.delete(cid))


EDITED_WORLDS: dict[str, Any] = {
    "cycles as text": lambda w: _with_record(w, cycles="lots"),
    "negative cycles": lambda w: _with_record(w, cycles=-5),
    "cycles beyond a u128": lambda w: _with_record(w, cycles=2**128),
    "controllers as an int": lambda w: _with_record(w, controllers=5),
    "a status of no kind": lambda w: _with_record(w, status="zombie"),
    "code that is not a canister": lambda w: _with_record(w, code=Box),
    "a mutable state": lambda w: _with_record(w, state=[1, 2]),
    "a record under another id": _elsewhere,
    "a timer of a missing canister": _orphan_timer,
    "time past a nat64": lambda w: w._replace(time=2**64),
    "a negative canister counter": lambda w: w._replace(next_canister_index=-1),
    "a timer id the queue never gave out": lambda w: w._replace(
        timers=attrs.evolve(w.timers, next_id=1)
    ),
    "a timer its canister does not list": lambda w: _with_record(w, timer_ids=immutables.Map()),
    "a log with a negative next index": lambda w: _with_record(
        w, log=attrs.evolve(w.canisters[next(iter(w.canisters))].log, next_idx=-1)
    ),
}


@pytest.mark.parametrize("edit", EDITED_WORLDS.values(), ids=EDITED_WORLDS)
def test_a_world_no_ic_could_be_in_is_refused_at_load(tmp_path: Path, edit: Any) -> None:
    """A file edited to pass its checksum fails later, in the middle of a call, unless the
    world is checked when it is read: it is, and nothing is built."""
    ic = IC()
    keeper = ic.deploy(Keeper, Box(1, (Colour.RED, b"")))
    keeper.schedule(10**9, "later")
    ic.restore(edit(ic.snapshot()))
    path = tmp_path / "edited.icto"
    ic.save(path)
    with pytest.raises(InvalidPayload, match="not a valid world"):
        IC.load(path, allow=ALLOW)


@pytest.mark.parametrize(
    "other_id", [Principal.management_canister(), ALICE], ids=["aaaaa-aa", "a user's id"]
)
def test_a_canister_record_under_an_id_no_canister_can_have_is_refused_at_load(
    tmp_path: Path, other_id: Principal
) -> None:
    """A record filed at ``aaaaa-aa`` would shadow the management canister: every call to it
    would reach that canister's code instead."""
    ic = IC()
    keeper = ic.deploy(Keeper, "impostor")
    world = ic.snapshot()
    record = world.canisters[keeper.id]._replace(canister_id=other_id)
    ic.restore(world._replace(canisters=immutables.Map({other_id: record})))
    path = tmp_path / "edited.icto"
    ic.save(path)

    with pytest.raises(InvalidPayload, match="not a canister id"):
        IC.load(path, allow=ALLOW)


def test_a_field_added_since_a_world_was_saved_takes_its_default(tmp_path: Path) -> None:
    """A file saved before ``PoolState`` had ``first_provider`` loads, the pool's first provider
    ``None`` (anyone may add its first liquidity, as then); a field the class does not know is
    still refused."""
    ic = IC()
    t0 = deploy_ledger(ic, ICP.init(Account(ALICE)))
    t1 = deploy_ledger(ic, ICP.init(Account(ALICE)))
    pool = ic.deploy(Pool, PoolInit(t0.id, t1.id, 30))
    path = tmp_path / "pool.icto"
    ic.save(path)
    payload = payload_of(path)
    (record,) = saved_records(payload, "icto.dex.types:PoolState")
    del record["f"]["first_provider"]
    rewrite(path, {"format": "icto-world", "version": 1}, payload)
    loaded = IC.load(path)
    assert loaded.state_of(pool.id) == ic.state_of(pool.id)
    assert loaded.state_of(pool.id).first_provider is None
    record["f"]["first_provider"] = None
    record["f"]["colour"] = "red"
    rewrite(path, {"format": "icto-world", "version": 1}, payload)
    with pytest.raises(InvalidPayload, match="do not match"):
        IC.load(path)


def test_a_field_the_class_lists_as_removed_is_dropped_on_load(tmp_path: Path) -> None:
    """A world saved while ``DistributionState`` still kept its in-flight counts (now read from
    its request journal) loads, the counts dropped; any other unknown field is still refused."""
    ic = run_demo(io.StringIO()).ic
    path = tmp_path / "demo.icto"
    ic.save(path)
    payload = payload_of(path)
    records = list(saved_records(payload, "icto.distribution.types:DistributionState"))
    assert records
    for record in records:
        record["f"].update(pulling=0, sending=0, transfer_started_at=None)
    rewrite(path, {"format": "icto-world", "version": 1}, payload)
    assert_same_world(ic, IC.load(path))
    records[0]["f"]["pushing"] = 0
    rewrite(path, {"format": "icto-world", "version": 1}, payload)
    with pytest.raises(InvalidPayload, match="do not match"):
        IC.load(path)


@pytest.mark.parametrize("name", ["os:system", "subprocess:Popen", "builtins:eval"])
@pytest.mark.parametrize("tag", ["$class", "$attrs", "$enum", "$ntuple"])
def test_a_class_outside_icto_and_allow_is_refused_and_nothing_runs(
    saved: Path, monkeypatch: pytest.MonkeyPatch, name: str, tag: str
) -> None:
    ran: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *args: ran.append(args))
    payload = payload_of(saved)
    payload["settings"]["seed"] = {tag: name, "f": {}, "v": ["echo pwned"]}
    rewrite(saved, {"format": "icto-world", "version": 1}, payload)

    with pytest.raises(ForbiddenClass, match=name):
        IC.load(saved, allow=ALLOW)
    assert ran == []


@pytest.mark.parametrize(
    "name",
    [
        "icto.ic.codec:enum.Enum", "icto.ic.canister:re.RegexFlag",
        "icto.ic.codec:attrs.Factory", "tests.ic.persistence_toys:enum.IntFlag",
    ],
)  # fmt: skip
def test_a_class_reached_through_an_allowed_modules_imports_is_refused(
    saved: Path, name: str
) -> None:
    """An allowed module's imports are not allowed modules: the class must be defined in one."""
    payload = payload_of(saved)
    payload["settings"]["seed"] = {"$class": name}
    rewrite(saved, {"format": "icto-world", "version": 1}, payload)

    with pytest.raises(ForbiddenClass, match="defined outside the allowed modules"):
        IC.load(saved, allow=ALLOW)


def test_a_toy_class_needs_its_module_allowed(saved: Path) -> None:
    with pytest.raises(ForbiddenClass, match=r"tests\.ic\.persistence_toys"):
        IC.load(saved)
    (record,) = IC.load(saved, allow=("tests",)).snapshot().canisters.values()
    assert record.code is Keeper


def test_a_single_module_name_is_one_prefix_not_its_letters(saved: Path) -> None:
    """``tuple("tests")`` would trust the one-letter modules t, e and s."""
    (record,) = IC.load(saved, allow="tests").snapshot().canisters.values()
    assert record.code is Keeper
    with pytest.raises(ForbiddenClass):
        IC.load(saved, allow="t")


def test_an_allowed_module_may_still_not_name_a_plain_function(saved: Path) -> None:
    payload = payload_of(saved)
    payload["settings"]["seed"] = {"$class": "icto.ic.persistence:save_ic"}
    rewrite(saved, {"format": "icto-world", "version": 1}, payload)

    with pytest.raises(ForbiddenClass, match="not an attrs class"):
        IC.load(saved, allow=ALLOW)


def test_a_missing_allowed_module_or_class_is_a_clear_error(saved: Path) -> None:
    text = saved.read_bytes().split(b"\n")
    for wrong in (b"tests.ic.gone_module:Keeper", b"tests.ic.persistence_toys:Gone"):
        payload = json.loads(text[1].replace(b"tests.ic.persistence_toys:Keeper", wrong))
        rewrite(saved, {"format": "icto-world", "version": 1}, payload)
        with pytest.raises(MissingClass):
            IC.load(saved, allow=ALLOW)


def _with_saved_version(node: Any, version: str | None) -> Any:
    """A payload with every saved canister class's version replaced (``None``: removed, as in
    a file written before versions were saved)."""
    if isinstance(node, list):
        return [_with_saved_version(value, version) for value in node]
    if not isinstance(node, dict):
        return node
    changed = {key: _with_saved_version(value, version) for key, value in node.items()}
    if "$class" in changed and "version" in changed:
        if version is None:
            del changed["version"]
        else:
            changed["version"] = version
    return changed


def test_canister_code_is_saved_with_its_version_and_a_changed_class_is_refused(
    saved: Path,
) -> None:
    payload = payload_of(saved)
    saved_class = {"$class": "tests.ic.persistence_toys:Keeper", "version": Keeper.VERSION}
    assert json.dumps(saved_class)[1:-1] in json.dumps(payload)
    rewrite(saved, {"format": "icto-world", "version": 1}, _with_saved_version(payload, "9.9.9"))
    with pytest.raises(VersionChanged, match=f"version '9.9.9'.*version '{Keeper.VERSION}' now"):
        IC.load(saved, allow=ALLOW)
    # A file from before versions were saved still loads.
    rewrite(saved, {"format": "icto-world", "version": 1}, _with_saved_version(payload, None))
    loaded = IC.load(saved, allow=ALLOW)
    assert [loaded.code_of(canister) for canister in loaded.world.canisters] == [Keeper]


def test_every_refusal_is_a_persistence_error() -> None:
    errors = (
        CorruptFile, UnsupportedVersion, ForbiddenClass, MissingClass, Unserializable,
        VersionChanged, InvalidPayload,
    )  # fmt: skip
    for error in errors:
        assert issubclass(error, PersistenceError)


# -- saving -----------------------------------------------------------------------------------


def test_state_the_format_cannot_hold_is_refused_and_the_file_untouched(
    ic: IC, saved: Path
) -> None:
    before = saved.read_bytes()
    ic.deploy(Keeper, (1, lambda: 2))

    with pytest.raises(Unserializable, match="function"):
        ic.save(saved)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_a_write_failing_midway_leaves_the_target_untouched_and_no_temporary(
    ic: IC, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()
    ic.deploy(Keeper, "new")

    def fail(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        ic.save(saved)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_a_saved_file_has_the_permissions_of_a_new_file(ic: IC, tmp_path: Path) -> None:
    """The temporary file it is written to is owner-only; the saved file is not."""
    ic.deploy(Keeper, "state")
    shared = tmp_path / "shared.icto"
    shared.write_bytes(b"")
    os.chmod(shared, 0o644)
    old_mask = os.umask(0o027)
    try:
        ic.save(tmp_path / "new.icto")
        ic.save(shared)
    finally:
        os.umask(old_mask)
    assert (tmp_path / "new.icto").stat().st_mode & 0o777 == 0o640
    assert shared.stat().st_mode & 0o777 == 0o640


def test_the_file_is_a_header_a_json_payload_and_a_checksum(saved: Path) -> None:
    header, payload, checksum, end = saved.read_bytes().split(b"\n")

    assert json.loads(header) == {"format": "icto-world", "version": 1}
    assert checksum == b"sha256 " + hashlib.sha256(header + b"\n" + payload + b"\n").hexdigest(
    ).encode()  # fmt: skip
    assert end == b""
    assert b"$attrs" in payload and b"$bytes" in payload and b"$enum" in payload


# -- the same world, the same bytes ------------------------------------------------------------

HASH_ORDERED_WORLD = """
import hashlib, sys
import immutables, pyrsistent
from icto import IC, Principal
from tests.ic.persistence_toys import Colour, Keeper

names = [f"user{i}" for i in range(40)]
users = [Principal.from_name(name) for name in names]
ic = IC()
ic.deploy(Keeper, (
    immutables.Map({name: i for i, name in enumerate(names)}),
    immutables.Map({user: (user, Colour.RED) for user in users}),
    immutables.Map({(user, Colour.BLUE): None for user in users}),
    immutables.Map({1: "int", "1": "text", b"1": "bytes"}),
    immutables.Map({(user, None): 0 for user in users}),  # None hashes by address, seed or not
    pyrsistent.pmap({name: frozenset(names[:i]) for i, name in enumerate(names)}),
    frozenset(users), {(name, Colour.RED) for name in names},
))
ic.save(sys.argv[1])
with open(sys.argv[1], "rb") as saved:
    print(hashlib.sha256(saved.read()).hexdigest())
"""


def test_a_world_saves_to_the_same_bytes_whatever_the_string_hash_seed(tmp_path: Path) -> None:
    """Maps and sets iterate in an order that follows the string hash seed (and, for keys
    holding ``None``, addresses), which differ between processes; a saved file must not (it is
    diffed, checked in, compared)."""
    digests = {
        output_under_hash_seed(HASH_ORDERED_WORLD, seed, str(tmp_path / f"world{seed}.icto"))
        for seed in ("0", "1", "2")
    }  # fmt: skip

    assert len(digests) == 1, digests


def test_a_world_keyed_by_mixed_kinds_loads_back_equal(tmp_path: Path) -> None:
    """Keys that do not compare with each other are ordered by their encoding, and load back
    as they were."""
    ic = IC()
    value = (
        immutables.Map({1: "int", "1": "text", b"1": "bytes", (ALICE, Colour.RED): "pair"}),
        frozenset({1, "1", Colour.BLUE, frozenset({2})}),
        pyrsistent.pmap({Colour.RED: 1, "red": 2}),
    )
    keeper = ic.deploy(Keeper, value)

    assert saved_and_loaded(ic, tmp_path).state_of(keeper.id) == value

"""The management canister ``aaaaa-aa`` (design ``ic.md`` §4).

Lifecycle (create / install / reinstall / upgrade / uninstall / stop / start / delete), controllers,
status, cycles (creation fee, deposits, top-ups), ``raw_rand``, argument checking, and the fact that
it is reached through the ordinary router (trace and faults apply). Calls from canister code are
exercised through the ``Manager`` toy below, which forwards management calls.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import icto
import icto.ic.cycles as costs
from icto import (
    IC,
    MANAGEMENT_ID,
    CallRejected,
    Canister,
    CanisterSettings,
    CanisterStatus,
    InstallMode,
    InvalidArguments,
    Principal,
    RejectCode,
    Trap,
    query,
    update,
)
from icto.ic.management import estimate_memory
from tests.ic.toys import Counter, Relay, Tally

FIRST_INDEX = 0xFFFFFFFFFFE00000
ICP_LEDGER_TEXT = "ryjl3-tyaaa-aaaaa-aaaba-cai"
# What a canister pays around one ingress update that makes one inter-canister call.
INGRESS_UPDATE_COST = costs.UPDATE_MESSAGE + costs.INGRESS_MESSAGE
CALL_FEE = costs.INTER_CANISTER_CALL
SECOND = 1_000_000_000


def canister_id_at(index: int) -> Principal:
    """The canister id for a counter index, built from the IC layout (u64 BE ++ 01 01)."""
    return Principal.from_bytes(index.to_bytes(8, "big") + b"\x01\x01")


def live_canisters(ic: IC) -> int:
    return sum(1 for cid in ic.snapshot().canisters if ic.canister_exists(cid))


# -- toy canisters ------------------------------------------------------------------------------


class Manager(Canister):
    """Forwards management calls from canister code (so the caller is this canister)."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)

    @update
    def manage(self, method: str, args: tuple[Any, ...] = (), cycles: int = 0) -> Any:
        """Call ``aaaaa-aa.method(*args)`` attaching ``cycles``; a reject traps this message."""
        return self.call(MANAGEMENT_ID, method, *args, cycles=cycles)

    @update
    def try_manage(self, method: str, args: tuple[Any, ...] = (), cycles: int = 0) -> tuple:
        """Like ``manage`` but reports a reject as ``("reject", code, error_code, message)``."""
        try:
            return ("reply", self.call(MANAGEMENT_ID, method, *args, cycles=cycles))
        except CallRejected as rejected:
            return ("reject", rejected.reject_code, rejected.error_code, rejected.message)

    @update
    def create(self, cycles: int, settings: CanisterSettings | None = None) -> Principal:
        return self.call(MANAGEMENT_ID, "create_canister", settings, cycles=cycles)

    @update
    def status_of_self(self) -> CanisterStatus:
        return self.call(MANAGEMENT_ID, "canister_status", self.id)

    @update
    def rand(self) -> bytes:
        return self.call(MANAGEMENT_ID, "raw_rand")

    @update
    def deposit(self, target: Principal, amount: int) -> None:
        self.call(MANAGEMENT_ID, "deposit_cycles", target, cycles=amount)

    @update
    def upgrade(self, target: Principal, code: type, arg: Any = None) -> None:
        self.call(MANAGEMENT_ID, "install_code", target, code, arg, InstallMode.UPGRADE)


@attrs.frozen
class NotesState:
    """Schema of ``Notes`` 1.0.0."""

    notes: tuple[str, ...] = ()


@attrs.frozen
class NotesStateV2:
    """Schema of ``NotesV2``: adds a count and records how the migration went."""

    notes: tuple[str, ...]
    count: int
    stable_tag: str
    upgrade_arg: Any


class Notes(Canister):
    """Version 1: a tuple of notes; logs at init; can arm a timer that adds a note."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = NotesState(tuple(arg or ()))
        self.log("init v1")

    def pre_upgrade(self) -> Any:
        # Tagged, so the new code can tell this ran on the *old* code.
        return ("stable-from-v1", self.state.notes)

    @update
    def add(self, note: str) -> int:
        self.state = attrs.evolve(self.state, notes=(*self.state.notes, note))
        self.log(f"add {note}")
        return len(self.state.notes)

    @update
    def arm(self, delay_ns: int) -> int:
        return self.set_timer(delay_ns, "add", "from timer")

    @query
    def notes(self) -> tuple[str, ...]:
        return self.state.notes

    @query
    def schema(self) -> str:
        return "v1"


class NotesV2(Canister):
    """Version 2: migrates the v1 schema in ``post_upgrade``."""

    VERSION = "2.0.0"

    def init(self, arg: Any) -> None:
        notes = tuple(arg or ())
        self.state = NotesStateV2(notes, len(notes), "init", None)

    def pre_upgrade(self) -> Any:
        return ("stable-from-v2", self.state.notes)

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        tag, notes = stable
        self.state = NotesStateV2(tuple(notes), len(notes), tag, arg)
        self.log("migrated to v2")

    @update
    def add(self, note: str) -> int:
        s = self.state
        self.state = attrs.evolve(s, notes=(*s.notes, note), count=s.count + 1)
        return self.state.count

    @query
    def notes(self) -> tuple[str, ...]:
        return self.state.notes

    @query
    def count(self) -> int:
        return self.state.count

    @query
    def schema(self) -> str:
        return "v2"


class NotesV2Rearm(NotesV2):
    """Version 2.1: re-arms a timer in ``post_upgrade``."""

    VERSION = "2.1.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(stable, arg)
        self.set_timer(10 * SECOND, "add", "rearmed")


class NotesV2BadPostUpgrade(NotesV2):
    VERSION = "2.0.1"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(stable, arg)
        raise Trap("migration failed")


class NotesStuckPreUpgrade(Notes):
    VERSION = "1.0.1"

    def pre_upgrade(self) -> Any:
        raise Trap("pre_upgrade always traps")


class TrapInInit(Canister):
    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(1)
        raise Trap("init failed")

    @query
    def get(self) -> int:
        return self.state.n


class CallInInit(Canister):
    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = Tally(0)
        self.call(MANAGEMENT_ID, "raw_rand")

    @query
    def get(self) -> int:
        return self.state.n


class CallInPreUpgrade(Notes):
    VERSION = "1.1.0"

    def pre_upgrade(self) -> Any:
        self.call(MANAGEMENT_ID, "raw_rand")
        return super().pre_upgrade()


class CallInPostUpgrade(NotesV2):
    VERSION = "2.2.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        super().post_upgrade(stable, arg)
        self.call(MANAGEMENT_ID, "raw_rand")


class WhoInstalled(Canister):
    """Records who ran each lifecycle hook; ``init`` also arms a timer (hooks may set timers)."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = ("init", self.caller)
        self.set_timer(SECOND, "ring")

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        self.state = ("post_upgrade", self.caller)

    @update
    def ring(self) -> None:
        self.state = ("ring", self.caller)


class PlainClass:
    """Not a canister."""


# -- helpers ------------------------------------------------------------------------------------


def reject_of(exc_info: pytest.ExceptionInfo[CallRejected]) -> tuple[RejectCode, str]:
    return exc_info.value.reject_code, exc_info.value.error_code


@pytest.fixture
def manager(ic: IC) -> Any:
    return ic.deploy(Manager)


@pytest.fixture
def notes(ic: IC, alice: Principal) -> Any:
    """A ``Notes`` canister controlled by alice, with two notes."""
    proxy = ic.deploy(Notes, ("a",), caller=alice)
    proxy.add("b")
    return proxy


# == create_canister ============================================================================


class TestCreateCanisterFromCanister:
    def test_attached_cycles_fund_the_new_canister_minus_the_creation_fee(self, ic, manager):
        """The caller pays call fee + attached cycles; the new canister gets attached - 500B."""
        attached = costs.CANISTER_CREATION + 123_456_789
        before = ic.cycles_balance(manager.id)
        new = manager.create(attached)
        assert ic.canister_exists(new)
        assert new not in (manager.id, MANAGEMENT_ID)
        assert ic.controllers_of(new) == (manager.id,)
        assert ic.cycles_balance(new) == attached - costs.CANISTER_CREATION == 123_456_789
        assert ic.cycles_balance(manager.id) == before - INGRESS_UPDATE_COST - CALL_FEE - attached
        assert ic.code_of(new) is None

    def test_exactly_the_creation_fee_is_enough(self, ic, manager):
        new = manager.create(costs.CANISTER_CREATION)
        assert ic.cycles_balance(new) == 0

    def test_too_few_cycles_is_rejected_ic0403_and_the_cycles_are_refunded(self, ic, manager):
        before_balance = ic.cycles_balance(manager.id)
        before_count = len(ic.snapshot().canisters)
        before_index = ic.snapshot().next_canister_index
        outcome = manager.try_manage("create_canister", (None,), costs.CANISTER_CREATION - 1)
        assert outcome[:3] == ("reject", RejectCode.CANISTER_REJECT, "IC0403")
        # Only the message and the call fee are gone; the attached cycles came back.
        assert ic.cycles_balance(manager.id) == before_balance - INGRESS_UPDATE_COST - CALL_FEE
        assert len(ic.snapshot().canisters) == before_count
        assert ic.snapshot().next_canister_index == before_index

    def test_settings_controllers_are_exactly_the_controllers(self, ic, manager, alice, bob):
        """The calling canister is not a controller unless listed."""
        new = manager.create(costs.CANISTER_CREATION, CanisterSettings(controllers=[alice, bob]))
        assert ic.controllers_of(new) == (alice, bob)
        outcome = manager.try_manage("stop_canister", (new,))
        assert outcome[:3] == ("reject", RejectCode.CANISTER_ERROR, "IC0512")
        ic.stop_canister(new, caller=bob)
        assert ic.is_stopped(new)

    def test_create_canister_by_ingress_is_rejected(self, ic, alice):
        """create_canister is for canisters only; tests use ic.create_canister."""
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.update_call(MANAGEMENT_ID, "create_canister", None, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_REJECT, "IC0406")
        assert "canisters" in exc_info.value.message
        assert ic.snapshot() is before


class TestCanisterIds:
    def test_first_canister_of_a_fresh_ic_is_lxzze(self, ic):
        first = ic.create_canister()
        assert str(first) == "lxzze-o7777-77777-aaaaa-cai"
        assert first == canister_id_at(FIRST_INDEX)

    def test_consecutive_canisters_follow_the_counter(self, ic, manager):
        """Test conveniences and canister-made creations share one counter."""
        made_by_canister = manager.create(costs.CANISTER_CREATION)
        made_by_test = ic.create_canister()
        assert manager.id == canister_id_at(FIRST_INDEX)
        assert made_by_canister == canister_id_at(FIRST_INDEX + 1)
        assert made_by_test == canister_id_at(FIRST_INDEX + 2)

    def test_ids_are_the_same_in_every_fresh_ic(self):
        def ids(ic: IC) -> list[Principal]:
            return [ic.create_canister() for _ in range(3)]

        assert ids(IC()) == ids(IC()) == ids(IC(seed=7))

    def test_create_canister_can_pin_the_icp_ledger_id(self, ic):
        pinned = ic.create_canister(canister_id=ICP_LEDGER_TEXT)
        assert str(pinned) == ICP_LEDGER_TEXT
        assert pinned == canister_id_at(2)
        assert ic.canister_exists(pinned)
        # Pinning does not move the counter: the next ordinary id is still the first one.
        assert ic.create_canister() == canister_id_at(FIRST_INDEX)

    def test_pinning_an_existing_id_is_rejected_ic0538(self, ic):
        existing = ic.create_canister(canister_id=ICP_LEDGER_TEXT)
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.create_canister(canister_id=existing)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0538")
        assert ic.snapshot() is before

    @pytest.mark.parametrize(
        "bad_id",
        [Principal.from_name("alice"), Principal.anonymous(), MANAGEMENT_ID],
        ids=["user", "anonymous", "management"],
    )
    def test_pinning_an_id_outside_the_canister_layout_is_refused(self, ic, bad_id):
        """Only canister-layout ids (u64 ++ 01 01) can be pinned; nothing changes otherwise."""
        before = ic.snapshot()
        with pytest.raises((CallRejected, ValueError)):
            ic.create_canister(canister_id=bad_id)
        assert ic.snapshot() is before
        assert not ic.canister_exists(bad_id)

    def test_allocation_skips_an_id_that_was_pinned(self, ic):
        pinned = ic.create_canister(canister_id=canister_id_at(FIRST_INDEX))
        assert ic.create_canister() == canister_id_at(FIRST_INDEX + 1)
        assert pinned == canister_id_at(FIRST_INDEX)

    def test_deleted_ids_are_never_reused(self, ic):
        """Neither pinning nor the counter hands out the id of a deleted canister again."""
        doomed = ic.create_canister(canister_id=canister_id_at(FIRST_INDEX + 1))
        ic.stop_canister(doomed)
        ic.delete_canister(doomed)
        assert not ic.canister_exists(doomed)
        with pytest.raises(CallRejected) as exc_info:
            ic.create_canister(canister_id=doomed)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0538")
        assert not ic.canister_exists(doomed)
        created = [ic.create_canister() for _ in range(3)]
        assert doomed not in created
        assert created == [canister_id_at(FIRST_INDEX + i) for i in (0, 2, 3)]


# == install_code ===============================================================================


class TestInstallModes:
    def test_install_on_an_empty_canister_runs_init_with_the_argument(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        ic.install_code(cid, Notes, ("x", "y"), caller=alice)
        assert ic.actor(cid).notes() == ("x", "y")
        assert ic.code_of(cid) is Notes
        assert [r.content for r in ic.canister_logs(cid)] == ["init v1"]

    def test_code_of_takes_a_proxy_or_principal_text_like_every_inspection(self, ic):
        counter = ic.deploy(Counter, 0)
        for handle in (counter.id, counter, str(counter.id)):
            assert ic.code_of(handle) is Counter
            assert ic.canister_exists(handle)
        assert ic.code_of(ic.create_canister()) is None
        with pytest.raises(TypeError):
            ic.code_of(5)

    def test_hooks_run_as_the_installer_and_may_set_timers(self, ic, alice, bob):
        cid = ic.create_canister(controllers=[alice, bob], caller=alice)
        ic.install_code(cid, WhoInstalled, caller=alice)
        assert ic.state_of(cid) == ("init", alice)
        assert ic.pending_timers() == 1
        ic.advance_time(seconds=1)
        assert ic.state_of(cid) == ("ring", cid)
        ic.upgrade_canister(cid, WhoInstalled, caller=bob)
        assert ic.state_of(cid) == ("post_upgrade", bob)

    def test_install_on_a_non_empty_canister_is_rejected_ic0514(self, ic, notes, alice):
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(notes.id, NotesV2, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0514")
        assert ic.snapshot() is before

    def test_reinstall_wipes_state_reruns_init_and_purges_the_log(self, ic, notes, alice):
        assert len(ic.canister_logs(notes.id)) == 2
        ic.install_code(notes.id, Notes, ("fresh",), mode="reinstall", caller=alice)
        assert notes.notes() == ("fresh",)
        assert [r.content for r in ic.canister_logs(notes.id)] == ["init v1"]

    def test_reinstall_clears_pending_timers(self, ic, notes, alice):
        notes.arm(SECOND)
        assert ic.pending_timers() == 1
        ic.install_code(notes.id, Notes, None, mode="reinstall", caller=alice)
        assert ic.pending_timers() == 0
        ic.advance_time(minutes=1)
        assert notes.notes() == ()

    @pytest.mark.parametrize("mode", ["upgrade", InstallMode.UPGRADE], ids=["str", "enum"])
    def test_upgrade_runs_pre_upgrade_on_old_code_then_post_upgrade_on_new(
        self, ic, notes, alice, mode
    ):
        ic.install_code(notes.id, NotesV2, "migrate-arg", mode=mode, caller=alice)
        state = ic.state_of(notes.id)
        assert state == NotesStateV2(("a", "b"), 2, "stable-from-v1", "migrate-arg")
        assert ic.code_of(notes.id) is NotesV2
        assert notes.schema() == "v2"
        assert notes.count() == 2
        assert notes.add("c") == 3

    def test_upgrade_canister_convenience_is_mode_upgrade(self, ic, notes, alice):
        ic.upgrade_canister(notes.id, NotesV2, "arg", caller=alice)
        assert ic.state_of(notes.id).stable_tag == "stable-from-v1"
        assert ic.state_of(notes.id).upgrade_arg == "arg"

    def test_status_reports_the_new_version_and_module_hash(self, ic, notes, alice):
        before = ic.canister_status(notes.id, caller=alice)
        assert (before.version, before.module_hash) == ("1.0.0", icto.module_hash(Notes))
        ic.upgrade_canister(notes.id, NotesV2, caller=alice)
        after = ic.canister_status(notes.id, caller=alice)
        assert after.version == "2.0.0"
        assert after.module_hash == icto.module_hash(NotesV2)
        assert after.module_hash != before.module_hash

    def test_upgrading_an_empty_canister_is_rejected_ic0537(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.upgrade_canister(cid, Notes, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0537")
        assert ic.snapshot() is before

    @pytest.mark.parametrize("mode", ["install", InstallMode.INSTALL], ids=["str", "enum"])
    def test_install_mode_accepted_as_string_or_enum(self, ic, alice, mode):
        cid = ic.create_canister(caller=alice)
        ic.install_code(cid, Counter, 5, mode=mode, caller=alice)
        assert ic.actor(cid).get() == 5

    @pytest.mark.parametrize("mode", ["upgrad", "INSTALL", "", "replace"])
    def test_invalid_mode_is_rejected_clearly_and_changes_nothing(self, ic, notes, alice, mode):
        before = ic.snapshot()
        with pytest.raises(InvalidArguments) as exc_info:
            ic.install_code(notes.id, NotesV2, mode=mode, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_REJECT, "IC0408")
        assert "mode" in exc_info.value.message
        assert repr(mode) in exc_info.value.message
        assert ic.snapshot() is before
        assert ic.code_of(notes.id) is Notes

    @pytest.mark.parametrize("code", [int, PlainClass, Canister], ids=["int", "plain", "base"])
    def test_non_canister_code_is_rejected_clearly_and_changes_nothing(self, ic, alice, code):
        cid = ic.create_canister(caller=alice)
        before = ic.snapshot()
        with pytest.raises(InvalidArguments) as exc_info:
            ic.install_code(cid, code, caller=alice)
        assert isinstance(exc_info.value, TypeError)
        assert "Canister subclass" in exc_info.value.message
        assert ic.snapshot() is before
        assert ic.code_of(cid) is None

    def test_code_that_is_not_a_class_is_rejected(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        before = ic.snapshot()
        with pytest.raises(InvalidArguments):
            ic.update_call(MANAGEMENT_ID, "install_code", cid, "Counter", caller=alice)
        assert ic.snapshot() is before


class TestInstallAtomicity:
    def test_post_upgrade_trap_rejects_and_keeps_old_code_and_state(self, ic, notes, alice):
        notes.arm(SECOND)
        with pytest.raises(CallRejected) as exc_info:
            ic.upgrade_canister(notes.id, NotesV2BadPostUpgrade, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert "post_upgrade" in exc_info.value.message
        assert "migration failed" in exc_info.value.message
        assert ic.code_of(notes.id) is Notes
        assert ic.state_of(notes.id) == NotesState(("a", "b"))
        assert notes.schema() == "v1"
        status = ic.canister_status(notes.id, caller=alice)
        assert (status.version, status.module_hash) == ("1.0.0", icto.module_hash(Notes))
        # The timer armed by the old code was not cleared by the failed upgrade.
        assert ic.pending_timers() == 1

    def test_pre_upgrade_trap_rejects_the_upgrade_and_changes_nothing(self, ic, alice):
        stuck = ic.deploy(NotesStuckPreUpgrade, ("kept",), caller=alice)
        with pytest.raises(CallRejected) as exc_info:
            ic.upgrade_canister(stuck.id, NotesV2, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert "pre_upgrade" in exc_info.value.message
        assert ic.code_of(stuck.id) is NotesStuckPreUpgrade
        assert ic.state_of(stuck.id) == NotesState(("kept",))
        assert ic.canister_status(stuck.id, caller=alice).version == "1.0.1"

    def test_init_trap_during_install_leaves_the_canister_empty(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(cid, TrapInInit, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert "init" in exc_info.value.message
        assert ic.code_of(cid) is None
        assert ic.state_of(cid) is None
        with pytest.raises(CallRejected) as call_info:
            ic.query_call(cid, "get")
        assert reject_of(call_info) == (RejectCode.CANISTER_ERROR, "IC0537")
        # Still empty, so a plain install works afterwards.
        ic.install_code(cid, Counter, 1, caller=alice)
        assert ic.actor(cid).get() == 1

    def test_init_trap_during_reinstall_keeps_previous_code_and_state(self, ic, notes, alice):
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(notes.id, TrapInInit, mode="reinstall", caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert ic.code_of(notes.id) is Notes
        assert notes.notes() == ("a", "b")

    def test_deploy_with_trapping_init_leaves_no_canister_behind(self, ic):
        before = ic.snapshot()
        with pytest.raises(CallRejected):
            ic.deploy(TrapInInit)
        assert ic.snapshot() is before

    def test_deploy_for_other_controllers_installs_as_the_first_of_them(self, ic, alice, bob):
        """A deployment for ``controllers=[alice, bob]`` by the default caller, who is not one of
        them, installs as alice (only a controller may install): it was refused, IC0512."""
        notes = ic.deploy(Notes, controllers=[alice, bob])
        assert ic.controllers_of(notes.id) == (alice, bob)
        assert ic.code_of(notes.id) is Notes
        with pytest.raises(CallRejected) as exc_info:
            ic.deploy(Notes, controllers=[alice], caller=bob)  # an explicit caller installs
        assert reject_of(exc_info)[1] == "IC0512"

    def test_init_cannot_make_calls(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(cid, CallInInit, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert "CallsNotAllowed" in exc_info.value.message
        assert ic.code_of(cid) is None

    @pytest.mark.parametrize(
        ("old", "new"),
        [(CallInPreUpgrade, NotesV2), (Notes, CallInPostUpgrade)],
        ids=["pre_upgrade", "post_upgrade"],
    )
    def test_upgrade_hooks_cannot_make_calls(self, ic, alice, old, new):
        proxy = ic.deploy(old, ("kept",), caller=alice)
        with pytest.raises(CallRejected) as exc_info:
            ic.upgrade_canister(proxy.id, new, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert "CallsNotAllowed" in exc_info.value.message
        assert ic.code_of(proxy.id) is old
        assert ic.state_of(proxy.id) == NotesState(("kept",))

    def test_upgrade_clears_pending_timers(self, ic, notes, alice):
        notes.arm(SECOND)
        assert ic.pending_timers() == 1
        ic.upgrade_canister(notes.id, NotesV2, caller=alice)
        assert ic.pending_timers() == 0
        ic.advance_time(minutes=1)
        assert notes.notes() == ("a", "b")
        assert ic.trace.calls(kind="timer") == []

    def test_timer_rearmed_in_post_upgrade_survives_and_fires(self, ic, notes, alice):
        notes.arm(SECOND)
        ic.upgrade_canister(notes.id, NotesV2Rearm, caller=alice)
        assert ic.pending_timers() == 1
        ic.advance_time(seconds=10)
        assert notes.notes() == ("a", "b", "rearmed")
        assert ic.pending_timers() == 0

    def test_canister_log_survives_an_upgrade(self, ic, notes, alice):
        ic.upgrade_canister(notes.id, NotesV2, caller=alice)
        contents = [r.content for r in ic.canister_logs(notes.id)]
        assert contents == ["init v1", "add b", "migrated to v2"]


# == controllers ================================================================================


CONTROLLER_ONLY = [
    ("install_code", lambda cid, p: (cid, NotesV2, None, "reinstall"), False),
    ("uninstall_code", lambda cid, p: (cid,), False),
    ("update_settings", lambda cid, p: (cid, CanisterSettings(controllers=[p])), False),
    ("stop_canister", lambda cid, p: (cid,), False),
    ("start_canister", lambda cid, p: (cid,), True),
    ("delete_canister", lambda cid, p: (cid,), True),
]


class TestControllers:
    @pytest.mark.parametrize(
        ("method", "make_args", "stopped_first"),
        CONTROLLER_ONLY,
        ids=[m for m, _, _ in CONTROLLER_ONLY],
    )
    def test_non_controller_is_refused_ic0512_and_nothing_changes(
        self, ic, notes, alice, bob, method, make_args, stopped_first
    ):
        if stopped_first:
            ic.stop_canister(notes.id, caller=alice)
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.update_call(MANAGEMENT_ID, method, *make_args(notes.id, bob), caller=bob)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0512")
        assert ic.snapshot() is before
        assert ic.code_of(notes.id) is Notes
        assert ic.controllers_of(notes.id) == (alice,)
        assert ic.is_stopped(notes.id) is stopped_first

    @pytest.mark.parametrize(
        ("method", "make_args", "stopped_first"),
        CONTROLLER_ONLY,
        ids=[m for m, _, _ in CONTROLLER_ONLY],
    )
    def test_the_same_calls_succeed_for_the_controller(
        self, ic, notes, alice, bob, method, make_args, stopped_first
    ):
        if stopped_first:
            ic.stop_canister(notes.id, caller=alice)
        before = ic.snapshot()
        ic.update_call(MANAGEMENT_ID, method, *make_args(notes.id, bob), caller=alice)
        assert ic.snapshot() is not before

    def test_canister_status_for_a_controller(self, ic, notes, alice):
        status = ic.canister_status(notes.id, caller=alice)
        assert isinstance(status, CanisterStatus)
        assert status.status == "running"
        assert status.controllers == (alice,)
        assert status.cycles == ic.cycles_balance(notes.id)
        assert status.version == "1.0.0"
        assert status.module_hash == icto.module_hash(Notes)
        assert isinstance(status.memory_size, int)
        assert status.memory_size > 0

    def test_canister_status_for_the_canister_itself(self, ic, manager):
        """A canister may read its own status even though it does not control itself."""
        assert manager.id not in ic.controllers_of(manager.id)
        status = manager.status_of_self()
        assert status.controllers == ic.controllers_of(manager.id)
        assert status.version == Manager.VERSION
        assert status.module_hash == icto.module_hash(Manager)

    def test_canister_status_refused_for_others(self, ic, notes, manager, bob):
        with pytest.raises(CallRejected) as exc_info:
            ic.canister_status(notes.id, caller=bob)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0512")
        outcome = manager.try_manage("canister_status", (notes.id,))
        assert outcome[:3] == ("reject", RejectCode.CANISTER_ERROR, "IC0512")

    def test_update_settings_replaces_the_controllers(self, ic, notes, alice, bob):
        settings_ = CanisterSettings(controllers=[bob])
        ic.update_call(MANAGEMENT_ID, "update_settings", notes.id, settings_, caller=alice)
        assert ic.controllers_of(notes.id) == (bob,)
        with pytest.raises(CallRejected) as exc_info:
            ic.stop_canister(notes.id, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0512")
        ic.stop_canister(notes.id, caller=bob)
        assert ic.is_stopped(notes.id)

    def test_update_settings_without_controllers_leaves_them_unchanged(self, ic, notes, alice):
        ic.update_call(MANAGEMENT_ID, "update_settings", notes.id, CanisterSettings(), caller=alice)
        assert ic.controllers_of(notes.id) == (alice,)
        assert ic.canister_status(notes.id, caller=alice).controllers == (alice,)

    def test_more_than_ten_controllers_is_refused(self, ic, principal):
        eleven = [principal(f"user{i}") for i in range(11)]
        with pytest.raises(ValueError, match="10"):
            CanisterSettings(controllers=eleven)
        before = ic.snapshot()
        with pytest.raises(ValueError, match="10"):
            ic.create_canister(controllers=eleven)
        assert ic.snapshot() is before

    @settings(max_examples=60, deadline=None)
    @given(n=st.integers(min_value=0, max_value=13))
    def test_up_to_ten_distinct_controllers_are_accepted_exactly(self, n):
        ic = IC()
        wanted = [Principal.from_name(f"controller{i}") for i in range(n)]
        if n <= 10:
            cid = ic.create_canister(controllers=wanted)
            assert ic.controllers_of(cid) == tuple(wanted)
        else:
            before = ic.snapshot()
            with pytest.raises(ValueError):
                ic.create_canister(controllers=wanted)
            assert ic.snapshot() is before

    def test_create_canister_convenience_controllers(self, ic, alice, bob, principal):
        carol = principal("carol")
        assert ic.controllers_of(ic.create_canister(caller=carol)) == (carol,)
        cid = ic.create_canister(controllers=[alice, bob], caller=carol)
        assert ic.controllers_of(cid) == (alice, bob)
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(cid, Counter, caller=carol)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0512")

    def test_a_canister_controller_can_install_and_upgrade_via_calls(self, ic, manager):
        target = ic.create_canister(controllers=[manager.id])
        manager.manage("install_code", (target, Notes, ("n",), "install"))
        assert ic.code_of(target) is Notes
        with pytest.raises(CallRejected) as exc_info:
            ic.upgrade_canister(target, NotesV2)  # anonymous ingress: not a controller
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0512")
        manager.upgrade(target, NotesV2, "by manager")
        assert ic.code_of(target) is NotesV2
        assert ic.state_of(target) == NotesStateV2(("n",), 1, "stable-from-v1", "by manager")


# == stop / start / delete ======================================================================


class TestStopStartDelete:
    def test_calls_to_a_stopped_canister_are_rejected_ic0508(self, ic, notes, alice):
        ic.stop_canister(notes.id, caller=alice)
        assert ic.is_stopped(notes.id)
        assert ic.canister_status(notes.id, caller=alice).status == "stopped"
        with pytest.raises(CallRejected) as exc_info:
            notes.add("c")
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0508")
        with pytest.raises(CallRejected) as query_info:
            notes.notes()
        assert reject_of(query_info) == (RejectCode.CANISTER_ERROR, "IC0508")
        relay = ic.deploy(Relay)
        assert relay.bump_call_catch(notes.id, "add", ("c",)) == "CANISTER_ERROR IC0508"
        assert ic.state_of(notes.id) == NotesState(("a", "b"))

    def test_start_makes_it_callable_again_with_state_intact(self, ic, notes, alice):
        ic.stop_canister(notes.id, caller=alice)
        ic.start_canister(notes.id, caller=alice)
        assert not ic.is_stopped(notes.id)
        assert ic.canister_status(notes.id, caller=alice).status == "running"
        assert notes.notes() == ("a", "b")
        assert notes.add("c") == 3

    def test_delete_requires_stopped_ic0510(self, ic, notes, alice):
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.delete_canister(notes.id, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0510")
        assert ic.snapshot() is before
        assert ic.canister_exists(notes.id)

    def test_after_delete_the_canister_is_gone_ic0301(self, ic, notes, alice):
        ic.stop_canister(notes.id, caller=alice)
        ic.delete_canister(notes.id, caller=alice)
        assert not ic.canister_exists(notes.id)
        for call in (
            lambda: ic.update_call(notes.id, "add", "c"),
            lambda: ic.query_call(notes.id, "notes"),
            lambda: ic.canister_status(notes.id, caller=alice),
            lambda: ic.start_canister(notes.id, caller=alice),
        ):
            with pytest.raises(CallRejected) as exc_info:
                call()
            assert reject_of(exc_info) == (RejectCode.DESTINATION_INVALID, "IC0301")

    def test_calls_from_a_canister_to_a_deleted_canister_get_ic0301(
        self, ic, notes, alice, manager
    ):
        ic.stop_canister(notes.id, caller=alice)
        ic.delete_canister(notes.id, caller=alice)
        outcome = manager.try_manage("deposit_cycles", (notes.id,), 1_000)
        assert outcome[:3] == ("reject", RejectCode.DESTINATION_INVALID, "IC0301")


# == uninstall_code =============================================================================


class TestUninstall:
    def test_uninstall_empties_the_canister_and_keeps_cycles_and_controllers(
        self, ic, notes, alice
    ):
        notes.arm(SECOND)
        cycles = ic.cycles_balance(notes.id)
        ic.update_call(MANAGEMENT_ID, "uninstall_code", notes.id, caller=alice)
        assert ic.code_of(notes.id) is None
        assert ic.canister_exists(notes.id)
        assert ic.cycles_balance(notes.id) == cycles
        assert ic.controllers_of(notes.id) == (alice,)
        status = ic.canister_status(notes.id, caller=alice)
        assert (status.module_hash, status.version, status.status) == (None, None, "running")
        with pytest.raises(CallRejected) as exc_info:
            ic.update_call(notes.id, "add", "c")
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0537")

    def test_uninstall_clears_timers(self, ic, notes, alice):
        notes.arm(SECOND)
        assert ic.pending_timers() == 1
        ic.update_call(MANAGEMENT_ID, "uninstall_code", notes.id, caller=alice)
        assert ic.pending_timers() == 0
        ic.advance_time(minutes=1)
        assert ic.trace.calls(kind="timer") == []

    def test_uninstalled_canister_can_be_installed_again(self, ic, notes, alice):
        ic.update_call(MANAGEMENT_ID, "uninstall_code", notes.id, caller=alice)
        ic.install_code(notes.id, Counter, 9, caller=alice)
        assert ic.actor(notes.id).get() == 9


# == cycles =====================================================================================


class TestCycles:
    def test_deposit_cycles_moves_exactly_the_attached_amount(self, ic, manager):
        target = ic.deploy(Counter)
        amount = 7_777_777
        target_before = ic.cycles_balance(target.id)
        manager_before = ic.cycles_balance(manager.id)
        manager.deposit(target.id, amount)
        assert ic.cycles_balance(target.id) == target_before + amount
        expected = manager_before - INGRESS_UPDATE_COST - CALL_FEE - amount
        assert ic.cycles_balance(manager.id) == expected

    def test_deposit_cycles_to_an_unknown_canister_refunds(self, ic, manager):
        before = ic.cycles_balance(manager.id)
        outcome = manager.try_manage("deposit_cycles", (canister_id_at(12345),), 10**9)
        assert outcome[:3] == ("reject", RejectCode.DESTINATION_INVALID, "IC0301")
        assert ic.cycles_balance(manager.id) == before - INGRESS_UPDATE_COST - CALL_FEE

    def test_add_cycles_tops_up_for_free(self, ic):
        cid = ic.create_canister(cycles=1_000)
        assert ic.cycles_balance(cid) == 1_000
        assert ic.add_cycles(cid, 5_000) == 6_000
        assert ic.cycles_balance(cid) == 6_000

    def test_add_cycles_rejects_a_negative_amount_and_changes_nothing(self, ic):
        cid = ic.create_canister(cycles=1_000)
        before = ic.snapshot()
        with pytest.raises(InvalidArguments):
            ic.add_cycles(cid, -1)
        assert ic.snapshot() is before
        assert ic.cycles_balance(cid) == 1_000

    def test_create_canister_convenience_default_funding(self, ic):
        cid = ic.create_canister()
        assert ic.cycles_balance(cid) == costs.DEFAULT_CANISTER_CYCLES


# == memory_size ================================================================================


def _utf8_kept(text: str) -> str:
    """``text`` after CPython made and kept its UTF-8 copy (naming a class after it does)."""
    type(text, (), {})
    return text


def _unshared(value: Any) -> Any:
    """An equal value in which no part is shared: every tuple and string built anew."""
    if isinstance(value, tuple):
        return tuple(_unshared(part) for part in value)
    if isinstance(value, str):
        return "".join(list(value))
    return value


def _shrunk_dict() -> dict[int, int]:
    """Ten entries in the table a hundred more left behind."""
    grown = {i: i for i in range(110)}
    for i in range(10, 110):
        del grown[i]
    return grown


def _held_twice() -> tuple[Any, ...]:
    part = tuple(range(100))
    return (part, part)


SAME_VALUE_BUILT_TWO_WAYS = {
    "one tuple held twice": (_held_twice, lambda: (tuple(range(100)), tuple(range(100)))),
    "interned text held often": (lambda: ("symbol",) * 50, lambda: _unshared(("symbol",) * 50)),
    "a frozenset grown or copied": (lambda: frozenset(range(5)), lambda: frozenset(set(range(5)))),
    "text with or without a UTF-8 copy": (
        lambda: _utf8_kept("".join(["é"] * 40)),
        lambda: "".join(["é"] * 40),
    ),
    "a list with spare room or none": (lambda: [i for i in range(30)], lambda: list(range(30))),
    "a dict that shrank or a fresh copy": (_shrunk_dict, lambda: dict(_shrunk_dict())),
}


class TestMemorySize:
    @pytest.mark.parametrize("how", list(SAME_VALUE_BUILT_TWO_WAYS))
    def test_equal_states_weigh_the_same_however_their_objects_are_shared_or_grown(self, how):
        one, other = (build() for build in SAME_VALUE_BUILT_TWO_WAYS[how])
        assert one == other
        assert estimate_memory(one) == estimate_memory(other) > 0

    def test_a_state_holding_a_part_twice_weighs_more_than_holding_it_once(self):
        part = tuple(range(100))
        assert estimate_memory((part, part)) > estimate_memory((part,))

    def test_a_state_of_many_shared_parts_weighs_as_a_tree_at_the_cost_of_its_objects(self):
        """200 levels, each holding the one below twice: 2**200 parts as a tree (as a loaded
        world would hold them), 201 objects to visit."""
        value: Any = (1,)
        for _ in range(200):
            value = (value, value)
        assert estimate_memory(value) > 2**200

    def test_canister_status_weighs_the_state_as_estimate_memory_does(self, ic, notes, alice):
        status = ic.canister_status(notes.id, caller=alice)
        assert status.memory_size == estimate_memory(ic.state_of(notes.id))


# == raw_rand ===================================================================================


def rand_sequence(ic: IC, n: int = 3) -> list[bytes]:
    manager = ic.deploy(Manager)
    return [manager.rand() for _ in range(n)]


class TestRawRand:
    def test_raw_rand_returns_32_bytes(self, ic, manager):
        value = manager.rand()
        assert isinstance(value, bytes)
        assert len(value) == 32

    def test_raw_rand_is_for_canisters_only(self, ic, alice):
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.update_call(MANAGEMENT_ID, "raw_rand", caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_REJECT, "IC0406")
        assert ic.snapshot() is before

    def test_same_seed_same_sequence(self):
        assert rand_sequence(IC()) == rand_sequence(IC())
        assert rand_sequence(IC(seed=5)) == rand_sequence(IC(seed=5))

    def test_different_seed_different_sequence(self):
        default, other = rand_sequence(IC()), rand_sequence(IC(seed=1))
        assert not set(default) & set(other)

    def test_consecutive_calls_differ(self, ic):
        sequence = rand_sequence(ic, 5)
        assert len(set(sequence)) == 5

    def test_anchor_rolls_the_randomness_back(self, ic, manager):
        with ic.anchor():
            inside = [manager.rand(), manager.rand()]
        assert [manager.rand(), manager.rand()] == inside


# == bad calls ==================================================================================


class TestBadCalls:
    def test_unknown_management_method_is_rejected_ic0407(self, ic, alice):
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.update_call(MANAGEMENT_ID, "make_me_rich", caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_REJECT, "IC0407")
        assert ic.snapshot() is before

    def test_unknown_management_method_from_a_canister_is_rejected_ic0407(self, ic, manager):
        outcome = manager.try_manage("make_me_rich")
        assert outcome[:3] == ("reject", RejectCode.CANISTER_REJECT, "IC0407")

    @pytest.mark.parametrize(
        ("method", "make_args"),
        [
            ("install_code", lambda cid: (5, Counter)),
            ("install_code", lambda cid: (cid, Counter, None, 1)),
            ("stop_canister", lambda cid: (str(cid),)),
            ("canister_status", lambda cid: (cid.bytes,)),
            ("canister_status", lambda cid: ()),
            ("update_settings", lambda cid: (cid, {"controllers": []})),
            ("delete_canister", lambda cid: (cid, cid)),
            ("provisional_top_up_canister", lambda cid: (cid, "5")),
        ],
        ids=[
            "install-int-id",
            "install-int-mode",
            "stop-text-id",
            "status-bytes-id",
            "status-missing",
            "settings-dict",
            "delete-extra",
            "top-up-str",
        ],
    )
    def test_wrong_argument_types_raise_invalid_arguments_and_change_nothing(
        self, ic, notes, alice, method, make_args
    ):
        before = ic.snapshot()
        with pytest.raises(InvalidArguments) as exc_info:
            ic.update_call(MANAGEMENT_ID, method, *make_args(notes.id), caller=alice)
        assert isinstance(exc_info.value, CallRejected)
        assert isinstance(exc_info.value, TypeError)
        assert reject_of(exc_info) == (RejectCode.CANISTER_REJECT, "IC0408")
        assert exc_info.value.method == method
        assert ic.snapshot() is before

    def test_management_has_no_query_methods(self, ic, notes, alice):
        with pytest.raises(CallRejected) as exc_info:
            ic.query_call(MANAGEMENT_ID, "canister_status", notes.id, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0536")


# == trace and faults ===========================================================================


class TestTraceAndFaults:
    def test_trace_records_management_calls(self, ic, manager, alice):
        cid = ic.create_canister(caller=alice)
        ic.install_code(cid, Counter, caller=alice)
        created = manager.create(costs.CANISTER_CREATION)
        entries = ic.trace.calls(canister=MANAGEMENT_ID)
        methods = [e.method for e in entries]
        assert methods == [
            "provisional_create_canister_with_cycles",  # deploy(Manager)
            "install_code",
            "provisional_create_canister_with_cycles",
            "install_code",
            "create_canister",
        ]
        last = entries[-1]
        assert (last.caller, last.kind, last.depth, last.outcome) == (
            manager.id,
            "call",
            2,
            "reply",
        )
        assert last.result == created
        assert last.parent_id is not None
        assert entries[2].caller == alice
        assert entries[2].kind == "ingress"

    def test_trace_records_rejected_management_calls(self, ic, notes, bob):
        with pytest.raises(CallRejected):
            ic.stop_canister(notes.id, caller=bob)
        (entry,) = ic.trace.calls(canister=MANAGEMENT_ID, method="stop_canister")
        assert entry.outcome == "reject"
        assert (entry.reject_code, entry.error_code) == (RejectCode.CANISTER_ERROR, "IC0512")

    def test_injected_reject_on_install_code_installs_nothing(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        ic.faults.reject(canister=MANAGEMENT_ID, method="install_code")
        before = ic.snapshot()
        with pytest.raises(CallRejected) as exc_info:
            ic.install_code(cid, Counter, caller=alice)
        assert exc_info.value.reject_code == RejectCode.SYS_TRANSIENT
        assert ic.snapshot() is before
        assert ic.code_of(cid) is None
        (entry,) = ic.trace.calls(canister=MANAGEMENT_ID, method="install_code")
        assert entry.injected
        # The fault fired once; the next install goes through.
        ic.install_code(cid, Counter, 3, caller=alice)
        assert ic.actor(cid).get() == 3

    def test_injected_trap_on_install_code_rolls_the_install_back(self, ic, alice):
        cid = ic.create_canister(caller=alice)
        with ic.faults.trap(canister=MANAGEMENT_ID, method="install_code"):
            before = ic.snapshot()
            with pytest.raises(CallRejected) as exc_info:
                ic.install_code(cid, Counter, caller=alice)
        assert reject_of(exc_info) == (RejectCode.CANISTER_ERROR, "IC0503")
        assert ic.snapshot() is before
        assert ic.code_of(cid) is None

    def test_deploy_under_an_install_fault_leaves_no_canister_behind(self, ic):
        ic.faults.reject(canister=MANAGEMENT_ID, method="install_code")
        before = ic.snapshot()
        with pytest.raises(CallRejected):
            ic.deploy(Counter)
        assert ic.snapshot() is before

    def test_injected_reject_on_create_canister_refunds_the_calling_canister(self, ic, manager):
        ic.faults.reject(canister=MANAGEMENT_ID, method="create_canister")
        before = ic.cycles_balance(manager.id)
        count = len(ic.snapshot().canisters)
        outcome = manager.try_manage("create_canister", (None,), costs.CANISTER_CREATION)
        assert outcome[:3] == ("reject", RejectCode.SYS_TRANSIENT, "IC0201")
        assert ic.cycles_balance(manager.id) == before - INGRESS_UPDATE_COST - CALL_FEE
        assert len(ic.snapshot().canisters) == count

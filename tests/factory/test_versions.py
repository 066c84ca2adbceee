"""Version management of a factory's contracts: the specification.

A factory keeps a book of uploaded code versions. Admins upload and publish versions; the latest
stable version is the highest stable one by semver, and new contracts are installed from it.
Owners (or admins) upgrade and roll back their contracts; every change of code goes through the
management canister's ``install_code`` and is atomic: a trapping hook leaves the contract on its
old code with its old state. Owners may opt in to auto-update, which upgrades their contracts when
a newer stable version is published (optionally behind a canary). A contract may itself ask for
an upgrade, which runs in a later message and is reported back through ``on_upgraded``, which
only the factory may call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icto import (
    IC,
    MANAGEMENT_ID,
    Canister,
    CanisterSettings,
    Err,
    Ok,
    Principal,
    RejectCode,
    Trap,
)
from icto.factory import deploy_factory
from icto.factory.contract import FactoryContract
from icto.factory.types import (
    ContractDetached,
    ContractInfo,
    NotEligible,
    UnknownContract,
    UnknownVersion,
    UpgradeFailed,
    UpgradeRecord,
    VersionInfo,
)
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import (
    Club,
    ClubBrokenUpgrade,
    ClubConfig,
    ClubFactory,
    ClubNoRollback,
    ClubV2,
    ClubV3,
)
from tests.helpers import Relay, rejected

CreateClub = Callable[..., CanisterProxy]


class ClubOddTrap(Club):
    """A version whose migration traps for clubs whose counter is odd, and works for the rest:
    an upgrade that fails only for some contracts."""

    VERSION = "1.3.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        if stable.counter % 2:
            raise Trap("cannot migrate an odd counter")
        self.state = stable


# -- helpers --------------------------------------------------------------------------------------


def as_admin(factory: CanisterProxy, admin: Principal) -> CanisterProxy:
    return factory.as_caller(admin)


def info_of(factory: CanisterProxy, admin: Principal, club: CanisterProxy) -> Any:
    return factory.as_caller(admin).get_contract_info(club.id)


def bump(club: CanisterProxy, times: int) -> None:
    for _ in range(times):
        club.bump()


def stats(factory: CanisterProxy) -> Any:
    return factory.get_stats()


def without_version_book(state: Any) -> Any:
    """The factory state minus what an upgrade attempt is allowed to change: history and the
    upgrade counters."""
    return attrs.evolve(
        state,
        history=None,
        counters=attrs.evolve(state.counters, upgrades=0, failed_upgrades=0),
    )


def detach(ic: IC, club: CanisterProxy, owner: Principal) -> None:
    """The owner removes the factory as a controller of the club."""
    ic.update_call(
        MANAGEMENT_ID, "update_settings", club.id, CanisterSettings(controllers=(owner,)),
        caller=owner,
    )  # fmt: skip


# -- upload_version -------------------------------------------------------------------------------


def test_a_new_factory_knows_only_its_initial_version(factory: CanisterProxy) -> None:
    assert factory.get_latest_stable_version() == Club.VERSION
    (only,) = factory.list_versions()
    assert (only.version, only.code, only.stable) == (Club.VERSION, Club, True)


def test_only_an_admin_may_upload_a_version(
    ic: IC, factory: CanisterProxy, alice: Principal
) -> None:
    before = ic.state_of(factory.id)
    error = rejected(lambda: factory.as_caller(alice).upload_version("1.1.0", ClubV2))
    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert "admin" in error.message
    after = ic.state_of(factory.id)
    assert after.versions == before.versions
    assert after.latest_stable == before.latest_stable
    assert after.counters.access_denied == before.counters.access_denied + 1


def test_an_admin_uploads_a_stable_version_which_becomes_the_latest(
    factory: CanisterProxy, admin: Principal
) -> None:
    result = as_admin(factory, admin).upload_version("1.1.0", ClubV2, "faster")
    assert result == Ok("1.1.0")
    assert factory.get_latest_stable_version() == "1.1.0"
    newest = factory.list_versions()[0]
    assert (newest.version, newest.code, newest.release_notes) == ("1.1.0", ClubV2, "faster")
    assert newest.stable and newest.accepts_rollback and newest.min_upgrade_from is None


class NotAContract(Canister):
    """A canister without the factory contract's hooks (``on_deployed``, the notifications)."""

    VERSION = "1.3.0"


class AnotherFactorysContract(FactoryContract):
    """A factory contract, but not a version of the club: a club moved onto it would lose its
    methods."""

    VERSION = "1.4.0"


@pytest.mark.parametrize(
    ("version", "code", "min_upgrade_from"),
    [
        ("1.1", ClubV2, None),  # not semver
        ("v1.1.0", ClubV2, None),  # not semver
        ("01.1.0", ClubV2, None),  # leading zero
        ("1.1.0", ClubV3, None),  # the code says 1.2.0
        ("1.1.0", ClubV2, "1.0"),  # min_upgrade_from not semver
        ("1.1.0", ClubV2, "latest"),
        ("1.0.0", Club, None),  # already uploaded (the initial version)
        ("1.3.0", NotAContract, None),  # a canister, but none a factory can deploy
        ("0.0.0", FactoryContract, None),  # the contracts' common base, not a club
        ("1.4.0", AnotherFactorysContract, None),  # another kind of contract
        ("1.1.0", ClubV2, "1.1.0"),  # min_upgrade_from not below the version
        ("1.1.0", ClubV2, "9.0.0"),  # no contract could ever be upgraded to it
    ],
)
def test_an_invalid_upload_is_not_eligible_and_changes_nothing(
    ic: IC,
    factory: CanisterProxy,
    admin: Principal,
    version: Any,
    code: Any,
    min_upgrade_from: Any,
) -> None:
    before = ic.state_of(factory.id)
    result = as_admin(factory, admin).upload_version(
        version, code, min_upgrade_from=min_upgrade_from
    )
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert ic.state_of(factory.id) == before


@pytest.mark.parametrize(
    "notes", ["\x00", "a\u202eb", "n" * 10_001], ids=["NUL", "bidi override", "too long"]
)
def test_release_notes_follow_the_text_rule(
    ic: IC, factory: CanisterProxy, admin: Principal, notes: str
) -> None:
    before = ic.state_of(factory.id)
    result = as_admin(factory, admin).upload_version("1.1.0", ClubV2, notes)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible), result
    assert "release_notes" in result.error.reason
    assert ic.state_of(factory.id) == before


@pytest.mark.parametrize(("version", "code"), [(110, ClubV2), ("1.1.0", "ClubV2")])
def test_an_ill_typed_upload_is_rejected_and_changes_nothing(
    ic: IC, factory: CanisterProxy, admin: Principal, version: Any, code: Any
) -> None:
    """Arguments of the wrong type never reach the method: the IC refuses to decode them."""
    before = ic.state_of(factory.id)
    error = rejected(lambda: as_admin(factory, admin).upload_version(version, code))
    assert error.reject_code == RejectCode.CANISTER_ERROR
    assert ic.state_of(factory.id) == before


def test_uploading_the_same_version_twice_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal
) -> None:
    admin_factory = as_admin(factory, admin)
    assert admin_factory.upload_version("1.1.0", ClubV2, "first", stable=False) == Ok("1.1.0")
    before = ic.state_of(factory.id)
    result = admin_factory.upload_version("1.1.0", ClubV2, "second", stable=True)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert ic.state_of(factory.id) == before
    (v110,) = [v for v in factory.list_versions() if v.version == "1.1.0"]
    assert (v110.release_notes, v110.stable) == ("first", False)


def test_new_contracts_are_installed_from_the_latest_stable_version(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    old = create_club(alice, "old")
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    new = create_club(alice, "new")
    assert ic.code_of(old.id) is Club
    assert ic.code_of(new.id) is ClubV2
    assert info_of(factory, admin, new).version == "1.1.0"
    assert new.get_contract_meta().version == "1.1.0"


def test_latest_stable_is_the_highest_stable_version_not_the_last_uploaded(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.2.0", ClubV3)
    admin_factory.upload_version("1.1.0", ClubV2)
    assert factory.get_latest_stable_version() == "1.2.0"
    club = create_club(alice)
    assert ic.code_of(club.id) is ClubV3


def test_an_unstable_upload_does_not_change_the_latest_until_published(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    assert factory.get_latest_stable_version() == "1.0.0"
    assert ic.code_of(create_club(alice, "before").id) is Club
    assert admin_factory.publish_version("1.1.0").is_ok
    assert factory.get_latest_stable_version() == "1.1.0"
    (v110,) = [v for v in factory.list_versions() if v.version == "1.1.0"]
    assert v110.stable
    assert ic.code_of(create_club(alice, "after").id) is ClubV2


def test_publishing_is_for_admins_and_known_versions_only(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal
) -> None:
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    before = ic.state_of(factory.id)
    error = rejected(lambda: factory.as_caller(alice).publish_version("1.1.0"))
    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert without_denials(ic.state_of(factory.id)) == without_denials(before)
    assert admin_factory.publish_version("3.0.0") == Err(UnknownVersion("3.0.0"))
    bad_canary = admin_factory.publish_version("1.1.0", canary=-1)
    assert isinstance(bad_canary, Err) and isinstance(bad_canary.error, NotEligible)
    assert without_denials(ic.state_of(factory.id)) == without_denials(before)


def without_denials(state: Any) -> Any:
    return attrs.evolve(state, counters=attrs.evolve(state.counters, access_denied=0))


def test_versions_are_listed_newest_first_by_semver(
    factory: CanisterProxy, admin: Principal
) -> None:
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.2.0", ClubV3)
    admin_factory.upload_version("0.9.0", ClubNoRollback, accepts_rollback=False)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    versions = [v.version for v in factory.list_versions()]
    assert versions == ["1.2.0", "1.1.0", "1.0.0", "0.9.0"]


# A pool of version classes for the property test (semver order differs from text order:
# 1.10.0 > 1.9.0 and 10.0.0 > 9.0.0).
_POOL_VERSIONS = ("0.1.0", "0.10.0", "1.0.1", "1.9.0", "1.10.0", "2.0.0", "9.0.0", "10.0.0")
_POOL = {
    version: type(f"PoolClub_{version.replace('.', '_')}", (Club,), {"VERSION": version})
    for version in _POOL_VERSIONS
}


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@settings(max_examples=30, deadline=None)
@given(
    order=st.permutations(_POOL_VERSIONS),
    flags=st.lists(st.booleans(), min_size=len(_POOL_VERSIONS), max_size=len(_POOL_VERSIONS)),
    count=st.integers(min_value=0, max_value=len(_POOL_VERSIONS)),
)
def test_latest_stable_is_the_semver_maximum_of_stable_uploads_in_any_order(
    order: list[str], flags: list[bool], count: int
) -> None:
    """Whatever the upload order and stability flags, the latest stable version is the highest
    stable one (the initial 1.0.0 included), and the book is listed in descending semver."""
    uploads = list(zip(order, flags, strict=True))
    ic = IC()
    admin = Principal.from_name("factory-admin")
    factory = deploy_factory(ic, ClubFactory, caller=admin).as_caller(admin)
    for version, stable in uploads[:count]:
        assert factory.upload_version(version, _POOL[version], stable=stable) == Ok(version)
    stable_versions = ["1.0.0"] + [v for v, stable in uploads[:count] if stable]
    assert factory.get_latest_stable_version() == max(stable_versions, key=_semver)
    listed = [v.version for v in factory.list_versions()]
    expected = ["1.0.0"] + [v for v, _ in uploads[:count]]
    assert listed == sorted(expected, key=_semver, reverse=True)


# -- upgrade_contract -------------------------------------------------------------------------


def test_the_owner_upgrades_to_the_latest_stable_by_default_and_state_is_kept(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    bump(club, 3)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    # Not opted in to auto-update: the upload alone does not touch it.
    assert ic.code_of(club.id) is Club
    at = ic.time
    assert factory.as_caller(alice).upgrade_contract(club.id) == Ok("1.1.0")
    assert ic.code_of(club.id) is ClubV2
    assert info_of(factory, admin, club).version == "1.1.0"
    assert factory.as_caller(alice).get_contract_version(club.id) == "1.1.0"
    assert club.get_contract_meta().version == "1.1.0"
    assert club.count() == 3
    assert club.bump() == 4
    (record,) = factory.as_caller(alice).get_upgrade_history(club.id)
    assert record == UpgradeRecord(record.at, "upgrade", "1.0.0", "1.1.0", True, alice, None)
    assert record.at >= at
    assert stats(factory).upgrades == 1


def test_an_admin_may_upgrade_any_contract_to_a_chosen_version(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2)
    admin_factory.upload_version("1.2.0", ClubV3)
    assert admin_factory.upgrade_contract(club.id, "1.1.0") == Ok("1.1.0")
    assert ic.code_of(club.id) is ClubV2
    assert admin_factory.upgrade_contract(club.id) == Ok("1.2.0")
    assert ic.code_of(club.id) is ClubV3
    history = admin_factory.get_upgrade_history(club.id)
    assert [(r.kind, r.from_version, r.to_version, r.ok, r.by) for r in history] == [
        ("upgrade", "1.0.0", "1.1.0", True, admin),
        ("upgrade", "1.1.0", "1.2.0", True, admin),
    ]


def test_a_stranger_cannot_upgrade_a_contract(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    before = ic.state_of(factory.id)
    error = rejected(lambda: factory.as_caller(bob).upgrade_contract(club.id))
    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert ic.code_of(club.id) is Club
    assert without_denials(ic.state_of(factory.id)) == without_denials(before)
    assert ic.state_of(factory.id).counters.access_denied == before.counters.access_denied + 1


def test_upgrade_to_an_unknown_version_is_refused(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    before = ic.state_of(factory.id), ic.state_of(club.id)
    result = factory.as_caller(alice).upgrade_contract(club.id, "1.1.0")
    assert result == Err(UnknownVersion("1.1.0"))
    assert (ic.state_of(factory.id), ic.state_of(club.id)) == before
    assert ic.code_of(club.id) is Club


@pytest.mark.parametrize("target", ["1.0.0", "0.9.0", None])
def test_upgrade_to_a_version_that_is_not_newer_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, target: str | None,
) -> None:  # fmt: skip
    club = create_club(alice)
    as_admin(factory, admin).upload_version("0.9.0", ClubNoRollback)
    before = ic.state_of(factory.id), ic.state_of(club.id)
    # None: the latest stable is 1.0.0, which the club already runs.
    result = factory.as_caller(alice).upgrade_contract(club.id, target)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert (ic.state_of(factory.id), ic.state_of(club.id)) == before
    assert ic.code_of(club.id) is Club


def test_upgrade_from_below_min_upgrade_from_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    admin_factory.upload_version("1.2.0", ClubV3, min_upgrade_from="1.1.0")
    before = ic.state_of(factory.id), ic.state_of(club.id)
    result = factory.as_caller(alice).upgrade_contract(club.id)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert "1.1.0" in result.error.reason
    assert (ic.state_of(factory.id), ic.state_of(club.id)) == before
    # Through 1.1.0 it works.
    assert factory.as_caller(alice).upgrade_contract(club.id, "1.1.0") == Ok("1.1.0")
    assert factory.as_caller(alice).upgrade_contract(club.id) == Ok("1.2.0")
    assert ic.code_of(club.id) is ClubV3


# -- atomicity --------------------------------------------------------------------------------


def test_a_contract_is_not_upgraded_while_one_of_its_messages_awaits_a_call(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub
) -> None:
    """As a Motoko actor's ``pre_upgrade`` does, a contract refuses an upgrade while one of its
    messages awaits a call (the rest of that message could not run on the new code): here the
    club awaits the relay that asks the factory for the upgrade. The upgrade fails, the club's
    message finishes on the old code, and the same upgrade succeeds once nothing is awaited."""
    relay = ic.deploy(Relay)
    club = create_club(relay.id)
    bump(club, 2)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    asked = club.as_caller(relay.id).call_any(
        relay.id, "relay", factory.id, "upgrade_contract", (club.id,)
    )
    assert isinstance(asked, Err) and isinstance(asked.error, UpgradeFailed)
    assert "outstanding message callbacks" in asked.error.reason
    assert ic.code_of(club.id) is Club and club.count() == 2
    assert relay.relay(factory.id, "upgrade_contract", (club.id,)) == Ok("1.1.0")
    assert ic.code_of(club.id) is ClubV2 and club.count() == 2


def test_a_trapping_upgrade_leaves_the_contract_exactly_as_it_was(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice, members=(bob,))
    bump(club, 5)
    as_admin(factory, admin).upload_version("2.0.0", ClubBrokenUpgrade, stable=False)
    factory_before = ic.state_of(factory.id)
    club_before = ic.state_of(club.id)
    controllers_before = ic.controllers_of(club.id)
    result = factory.as_caller(alice).upgrade_contract(club.id, "2.0.0")
    assert isinstance(result, Err) and isinstance(result.error, UpgradeFailed)
    assert "migration failed" in result.error.reason
    # The contract still runs the old code with the old state, and still works.
    assert ic.code_of(club.id) is Club
    assert ic.state_of(club.id) == club_before
    assert ic.controllers_of(club.id) == controllers_before
    assert club.get_contract_meta().version == "1.0.0"
    assert club.count() == 5
    assert club.bump() == 6
    # The factory records the failure and nothing else.
    assert info_of(factory, admin, club).version == "1.0.0"
    (record,) = factory.as_caller(alice).get_upgrade_history(club.id)
    assert (record.kind, record.from_version, record.to_version, record.ok, record.by) == (
        "upgrade", "1.0.0", "2.0.0", False, alice,
    )  # fmt: skip
    assert record.reason is not None and "migration failed" in record.reason
    factory_after = ic.state_of(factory.id)
    assert factory_after.counters.failed_upgrades == factory_before.counters.failed_upgrades + 1
    assert factory_after.counters.upgrades == factory_before.counters.upgrades
    assert without_version_book(factory_after) == without_version_book(factory_before)


@pytest.mark.parametrize("kind", ["upgrade", "rollback"])
def test_a_trap_after_the_install_leaves_the_registry_saying_what_runs(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal,
    kind: str,
) -> None:  # fmt: skip
    """The install commits at the factory's call to the management canister; a trap later in
    the factory's message cannot undo it, so the registry must already say the new version."""
    club = create_club(alice)
    owner = factory.as_caller(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2, stable=False)
    if kind == "rollback":
        owner.upgrade_contract(club.id, "1.1.0").unwrap()
    method, target, code = (
        ("upgrade_contract", "1.1.0", ClubV2) if kind == "upgrade"
        else ("rollback_contract", "1.0.0", Club)
    )  # fmt: skip
    before = stats(factory).upgrades
    with ic.faults.trap(canister=factory.id, method=method):
        rejected(lambda: getattr(owner, method)(club.id, target))
    assert ic.code_of(club.id) is code
    assert owner.get_contract_version(club.id) == target
    last = owner.get_upgrade_history(club.id)[-1]
    assert (last.kind, last.to_version, last.ok) == (kind, target, True)
    assert stats(factory).upgrades == before + 1
    # The version checks now start from what runs: going back needs a rollback.
    if kind == "upgrade":
        refused = owner.upgrade_contract(club.id, "1.0.0")
        assert isinstance(refused, Err) and isinstance(refused.error, NotEligible)


def _refused_then_trapped(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> tuple[CanisterProxy, CanisterProxy]:
    """Alice's club, whose upgrade to the broken 2.0.0 was refused by the IC and whose
    factory message then trapped (1.1.0 is uploaded too); the club and alice's factory."""
    club = create_club(alice)
    owner = factory.as_caller(alice)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("2.0.0", ClubBrokenUpgrade, stable=False)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    with ic.faults.trap(canister=factory.id, method="upgrade_contract"):
        rejected(lambda: owner.upgrade_contract(club.id, "2.0.0"))
    return club, owner


def test_a_trap_after_a_refused_install_is_settled_by_asking_the_ic_what_runs(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    """The install is refused (its migration traps) and then the factory's own message traps,
    undoing the failure it had just recorded: the success recorded before the install is left.
    The next time the factory touches the contract (here ``check_controller``), it asks the IC
    for the module that runs and records the change as failed."""
    club, owner = _refused_then_trapped(ic, factory, admin, create_club, alice)
    assert ic.code_of(club.id) is Club
    assert owner.check_controller(club.id) is False
    assert owner.get_contract_version(club.id) == "1.0.0"
    last = owner.get_upgrade_history(club.id)[-1]
    assert (last.to_version, last.ok) == ("2.0.0", False)
    assert (stats(factory).upgrades, stats(factory).failed_upgrades) == (0, 1)
    assert len(ic.state_of(factory.id).changing) == 0
    assert owner.upgrade_contract(club.id, "1.1.0") == Ok("1.1.0")


def test_a_change_whose_outcome_was_not_recorded_is_settled_before_the_next_one(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    """The same, settled by the owner's next upgrade rather than a check: the refused 2.0.0
    is recorded as failed first, and 1.1.0 is an upgrade from the 1.0.0 that runs."""
    club, owner = _refused_then_trapped(ic, factory, admin, create_club, alice)
    assert owner.upgrade_contract(club.id, "1.1.0") == Ok("1.1.0")
    history = owner.get_upgrade_history(club.id)
    assert [(r.from_version, r.to_version, r.ok) for r in history] == [
        ("1.0.0", "2.0.0", False), ("1.0.0", "1.1.0", True),
    ]  # fmt: skip
    assert ic.code_of(club.id) is ClubV2


def test_a_failed_upgrade_keeps_the_contracts_pending_timers(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    """Atomic means the whole canister: a notification queued for retry is still retried after
    a failed upgrade."""
    club = create_club(alice)
    with ic.faults.reject(factory.id, "notify_participant_added"):
        club.grant(bob)
    assert club.get_contract_meta().pending_notifications == 1
    timers_before = ic.pending_timers()
    as_admin(factory, admin).upload_version("2.0.0", ClubBrokenUpgrade, stable=False)
    assert factory.as_caller(alice).upgrade_contract(club.id, "2.0.0").is_err
    assert ic.pending_timers() == timers_before
    ic.advance_time(minutes=2)
    assert club.get_contract_meta().pending_notifications == 0
    assert factory.as_caller(bob).get_contracts_by_role(bob, "member").total == 1


def test_a_successful_upgrade_does_not_strand_queued_notifications(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    """An upgrade clears the canister's timers (as on the IC); the contract's state is kept, so
    notifications queued before the upgrade must still reach the factory without anyone calling
    ``sync_roles``."""
    club = create_club(alice)
    with ic.faults.reject(factory.id, "notify_participant_added"):
        club.grant(bob)
    assert club.get_contract_meta().pending_notifications == 1
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    assert factory.as_caller(alice).upgrade_contract(club.id) == Ok("1.1.0")
    ic.advance_time(minutes=2)
    assert club.get_contract_meta().pending_notifications == 0
    assert factory.as_caller(bob).get_contracts_by_role(bob, "member").total == 1


def test_a_notification_that_fails_after_an_upgrade_is_still_retried(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal, carol: Principal,
) -> None:  # fmt: skip
    """The retry timer of the outbox must work after an upgrade as before it, also when the
    outbox was not empty at the time of the upgrade."""
    club = create_club(alice)
    with ic.faults.reject(factory.id, "notify_participant_added"):
        club.grant(bob)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    factory.as_caller(alice).upgrade_contract(club.id).unwrap()
    with ic.faults.reject(factory.id, "notify_participant_added"):
        club.grant(carol)
    assert ic.pending_timers() >= 1
    ic.advance_time(minutes=2)
    assert club.get_contract_meta().pending_notifications == 0
    assert factory.as_caller(carol).get_contracts_by_role(carol, "member").total == 1


# -- rollback_contract ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["upgrade_contract", "rollback_contract", "set_contract_visibility"]
)
def test_an_admin_naming_an_unknown_contract_is_told_so_without_a_security_event(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal, method: str
) -> None:
    stranger_canister = ic.create_canister(caller=alice)
    argument = {"upgrade_contract": None, "rollback_contract": "1.0.0"}.get(method, False)
    before = ic.state_of(factory.id)
    result = getattr(as_admin(factory, admin), method)(stranger_canister, argument)
    assert result == Err(UnknownContract(stranger_canister))
    assert ic.state_of(factory.id) == before
    # Anyone else is refused as before, whether the contract exists or not.
    error = rejected(lambda: getattr(factory.as_caller(alice), method)(stranger_canister, argument))
    assert "Unauthorized" in error.message
    assert stats(factory).access_denied == before.counters.access_denied + 1


def test_an_admin_checking_the_controller_of_an_unknown_contract_is_told_so(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal
) -> None:
    stranger_canister = ic.create_canister(caller=alice)
    before = ic.state_of(factory.id)
    error = rejected(lambda: as_admin(factory, admin).check_controller(stranger_canister))
    assert "UnknownContract" in error.message
    assert ic.state_of(factory.id) == before


def test_rollback_goes_back_to_an_older_version_keeping_state(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    factory.as_caller(alice).upgrade_contract(club.id).unwrap()
    bump(club, 2)
    assert factory.as_caller(alice).rollback_contract(club.id, "1.0.0") == Ok("1.0.0")
    assert ic.code_of(club.id) is Club
    assert info_of(factory, admin, club).version == "1.0.0"
    assert factory.as_caller(alice).get_contract_version(club.id) == "1.0.0"
    assert club.get_contract_meta().version == "1.0.0"
    assert club.count() == 2
    last = factory.as_caller(alice).get_upgrade_history(club.id)[-1]
    assert (last.kind, last.from_version, last.to_version, last.ok, last.by) == (
        "rollback", "1.1.0", "1.0.0", True, alice,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["1.1.0", "1.2.0"])
def test_rollback_to_the_same_or_a_newer_version_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, target: str,
) -> None:  # fmt: skip
    club = create_club(alice)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2)
    admin_factory.upload_version("1.2.0", ClubV3, stable=False)
    factory.as_caller(alice).upgrade_contract(club.id).unwrap()
    before = ic.state_of(factory.id), ic.state_of(club.id)
    result = factory.as_caller(alice).rollback_contract(club.id, target)
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert (ic.state_of(factory.id), ic.state_of(club.id)) == before
    assert ic.code_of(club.id) is ClubV2


def test_rollback_to_a_version_that_refuses_newer_state_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    as_admin(factory, admin).upload_version("0.9.0", ClubNoRollback, accepts_rollback=False)
    before = ic.state_of(factory.id), ic.state_of(club.id)
    result = factory.as_caller(alice).rollback_contract(club.id, "0.9.0")
    assert isinstance(result, Err) and isinstance(result.error, NotEligible)
    assert (ic.state_of(factory.id), ic.state_of(club.id)) == before
    assert ic.code_of(club.id) is Club


def test_rollback_to_an_unknown_version_or_by_a_stranger_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    factory.as_caller(alice).upgrade_contract(club.id).unwrap()
    before = ic.state_of(factory.id), ic.state_of(club.id)
    assert factory.as_caller(alice).rollback_contract(club.id, "0.5.0") == Err(
        UnknownVersion("0.5.0")
    )
    rejected(lambda: factory.as_caller(bob).rollback_contract(club.id, "1.0.0"))
    assert without_denials(ic.state_of(factory.id)) == without_denials(before[0])
    assert ic.state_of(club.id) == before[1]
    assert ic.code_of(club.id) is ClubV2


# -- auto-update ------------------------------------------------------------------------------


def test_auto_update_is_off_by_default_and_only_the_owner_may_set_it(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    assert info_of(factory, admin, club).auto_update is False
    for stranger in (bob, admin):
        before = ic.state_of(factory.id)
        error = rejected(lambda s=stranger: factory.as_caller(s).set_auto_update(club.id, True))
        assert error.reject_code == RejectCode.CANISTER_REJECT
        assert without_denials(ic.state_of(factory.id)) == without_denials(before)
    assert info_of(factory, admin, club).auto_update is False
    factory.as_caller(alice).set_auto_update(club.id, True)
    assert info_of(factory, admin, club).auto_update is True
    factory.as_caller(alice).set_auto_update(club.id, False)
    assert info_of(factory, admin, club).auto_update is False


def test_a_stable_upload_upgrades_only_the_contracts_that_opted_in(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    eager = create_club(alice, "eager")
    lazy = create_club(bob, "lazy")
    factory.as_caller(alice).set_auto_update(eager.id, True)
    bump(eager, 3)
    assert as_admin(factory, admin).upload_version("1.1.0", ClubV2) == Ok("1.1.0")
    assert ic.code_of(eager.id) is ClubV2
    assert ic.code_of(lazy.id) is Club
    assert eager.count() == 3
    assert info_of(factory, admin, eager).version == "1.1.0"
    report = factory.get_upgrade_report("1.1.0")
    assert report.upgraded == (eager.id,)
    assert (report.failed, report.skipped, report.halted) == ((), (), False)
    (record,) = factory.as_caller(alice).get_upgrade_history(eager.id)
    assert (record.kind, record.from_version, record.to_version, record.ok, record.by) == (
        "auto", "1.0.0", "1.1.0", True, admin,
    )  # fmt: skip


def test_an_unstable_upload_upgrades_nobody_until_it_is_published(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    factory.as_caller(alice).set_auto_update(club.id, True)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    assert ic.code_of(club.id) is Club
    assert factory.get_upgrade_report("1.1.0") is None
    report = admin_factory.publish_version("1.1.0").unwrap()
    assert report.upgraded == (club.id,)
    assert ic.code_of(club.id) is ClubV2
    assert factory.get_upgrade_report("1.1.0") == report


def test_publishing_a_version_below_the_latest_stable_upgrades_nobody(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    factory.as_caller(alice).set_auto_update(club.id, True)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.2.0", ClubV3, stable=False)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    admin_factory.upload_version("1.3.0", ClubOddTrap, stable=False)
    assert admin_factory.publish_version("1.2.0").unwrap().upgraded == (club.id,)
    report = admin_factory.publish_version("1.1.0").unwrap()
    assert (report.upgraded, report.failed, report.skipped) == ((), (), ())
    assert factory.get_latest_stable_version() == "1.2.0"
    assert ic.code_of(club.id) is ClubV3


def test_an_auto_update_failure_is_rolled_back_for_that_contract_only(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal, carol: Principal,
) -> None:  # fmt: skip
    even = create_club(alice, "even")
    odd = create_club(bob, "odd")
    also_even = create_club(carol, "also even")
    for club, owner in ((even, alice), (odd, bob), (also_even, carol)):
        factory.as_caller(owner).set_auto_update(club.id, True)
    bump(even, 2)
    bump(odd, 3)
    odd_before = ic.state_of(odd.id)
    assert as_admin(factory, admin).upload_version("1.3.0", ClubOddTrap) == Ok("1.3.0")
    report = factory.get_upgrade_report("1.3.0")
    assert report.upgraded == (even.id, also_even.id)
    assert [contract for contract, _ in report.failed] == [odd.id]
    assert "odd counter" in report.failed[0][1]
    assert (report.skipped, report.halted) == ((), False)
    assert ic.code_of(even.id) is ClubOddTrap and ic.code_of(also_even.id) is ClubOddTrap
    assert ic.code_of(odd.id) is Club
    assert ic.state_of(odd.id) == odd_before
    assert info_of(factory, admin, odd).version == "1.0.0"
    assert odd.bump() == 4
    failed = factory.as_caller(bob).get_upgrade_history(odd.id)[-1]
    assert (failed.kind, failed.ok, failed.to_version) == ("auto", False, "1.3.0")
    assert (stats(factory).upgrades, stats(factory).failed_upgrades) == (2, 1)


def test_a_contract_that_is_not_eligible_is_skipped_with_the_reason(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    ready = create_club(alice, "ready")
    behind = create_club(bob, "behind")
    factory.as_caller(alice).set_auto_update(ready.id, True)
    factory.as_caller(bob).set_auto_update(behind.id, True)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    factory.as_caller(alice).upgrade_contract(ready.id, "1.1.0").unwrap()
    admin_factory.upload_version("1.2.0", ClubV3, min_upgrade_from="1.1.0")
    report = factory.get_upgrade_report("1.2.0")
    assert report.upgraded == (ready.id,)
    assert report.failed == ()
    assert [contract for contract, _ in report.skipped] == [behind.id]
    assert "1.1.0" in report.skipped[0][1]
    assert ic.code_of(behind.id) is Club
    assert factory.as_caller(bob).get_upgrade_history(behind.id) == ()


def test_a_canary_failure_halts_the_rollout(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any
) -> None:
    owners = [principal(f"owner-{i}") for i in range(5)]
    clubs = [create_club(owner, f"club {i}") for i, owner in enumerate(owners)]
    for club, owner in zip(clubs, owners, strict=True):
        factory.as_caller(owner).set_auto_update(club.id, True)
    bump(clubs[1], 1)  # the second canary fails
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.3.0", ClubOddTrap, stable=False)
    report = admin_factory.publish_version("1.3.0", canary=2).unwrap()
    assert report.canary == 2
    assert report.halted is True
    assert report.upgraded == (clubs[0].id,)
    assert [contract for contract, _ in report.failed] == [clubs[1].id]
    assert [contract for contract, _ in report.skipped] == [club.id for club in clubs[2:]]
    assert [ic.code_of(club.id) for club in clubs] == [ClubOddTrap] + [Club] * 4


def test_a_failure_after_the_canaries_does_not_halt_the_rollout(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any
) -> None:
    owners = [principal(f"owner-{i}") for i in range(4)]
    clubs = [create_club(owner, f"club {i}") for i, owner in enumerate(owners)]
    for club, owner in zip(clubs, owners, strict=True):
        factory.as_caller(owner).set_auto_update(club.id, True)
    bump(clubs[2], 1)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.3.0", ClubOddTrap, stable=False)
    report = admin_factory.publish_version("1.3.0", canary=2).unwrap()
    assert report.halted is False
    assert report.upgraded == (clubs[0].id, clubs[1].id, clubs[3].id)
    assert [contract for contract, _ in report.failed] == [clubs[2].id]
    assert report.skipped == ()


def test_a_contract_skipped_without_a_try_takes_no_canary_place(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any
) -> None:
    owners = [principal(f"owner-{i}") for i in range(3)]
    free, odd, even = (create_club(owner, f"club {i}") for i, owner in enumerate(owners))
    for club, owner in zip((free, odd, even), owners, strict=True):
        factory.as_caller(owner).set_auto_update(club.id, True)
    detach(ic, free, owners[0])
    assert factory.as_caller(owners[0]).check_controller(free.id) is True
    bump(odd, 1)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.3.0", ClubOddTrap, stable=False)
    report = admin_factory.publish_version("1.3.0", canary=1).unwrap()
    # The detached club is not tried, so the odd one is the canary: its failure halts.
    assert report.halted is True
    assert [contract for contract, _ in report.failed] == [odd.id]
    assert report.skipped == ((free.id, "detached"), (even.id, "halted: a canary failed"))
    assert report.upgraded == ()
    assert ic.code_of(even.id) is Club


def test_a_published_version_cannot_be_published_again_and_keeps_its_report(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    clubs = [create_club(alice, "a"), create_club(bob, "b")]
    for club, owner in zip(clubs, (alice, bob), strict=True):
        factory.as_caller(owner).set_auto_update(club.id, True)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2)
    report = admin_factory.get_upgrade_report("1.1.0")
    assert report.upgraded == tuple(club.id for club in clubs)
    before = ic.state_of(factory.id)
    for version in ("1.1.0", "1.0.0"):
        again = admin_factory.publish_version(version)
        assert again == Err(NotEligible(f"version {version} is already published"))
    assert ic.state_of(factory.id) == before
    assert admin_factory.get_upgrade_report("1.1.0") == report


def _rollout_cut_short(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any,
    count: int,
) -> tuple[list[CanisterProxy], CanisterProxy]:
    """``count`` clubs opted in to auto-update, and version 1.1.0 published by a message that
    traps at its end (after the last install): the clubs, and the factory as its admin."""
    owners = [principal(f"owner-{i}") for i in range(count)]
    clubs = [create_club(owner, f"club {i}") for i, owner in enumerate(owners)]
    for club, owner in zip(clubs, owners, strict=True):
        factory.as_caller(owner).set_auto_update(club.id, True)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2, stable=False)
    with ic.faults.trap(factory.id, "publish_version"):
        rejected(lambda: admin_factory.publish_version("1.1.0"))
    return clubs, admin_factory


def test_a_rollout_cut_short_by_a_trap_keeps_its_report_and_is_resumed_by_publishing_again(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any
) -> None:
    """The factory's message traps at its end, after the last install: only its last segment
    is lost. The report written before each call says what was done and which upgrade was
    under way; publishing the version again settles that one and finishes the report."""
    clubs, admin_factory = _rollout_cut_short(ic, factory, admin, create_club, principal, 3)
    report = admin_factory.get_upgrade_report("1.1.0")
    assert (report.upgraded, report.trying) == ((clubs[0].id, clubs[1].id), clubs[2].id)
    assert report.finished is False

    report = admin_factory.publish_version("1.1.0").unwrap()
    assert report.upgraded == tuple(club.id for club in clubs)
    assert (report.failed, report.skipped, report.trying, report.finished) == ((), (), None, True)
    assert admin_factory.get_upgrade_report("1.1.0") == report
    histories = [admin_factory.get_upgrade_history(club.id) for club in clubs]
    assert [len(history) for history in histories] == [1, 1, 1]  # each upgraded once
    again = admin_factory.publish_version("1.1.0")
    assert again == Err(NotEligible("version 1.1.0 is already published"))


def test_a_resumed_rollout_waits_while_the_ic_cannot_say_how_the_upgrade_under_way_went(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, principal: Any
) -> None:
    """The upgrade under way when the rollout's message trapped is settled by asking the IC
    which code runs; while it cannot answer, the rollout stays unfinished with that upgrade
    still under way (it was counted as done, its outcome never recorded)."""
    clubs, admin_factory = _rollout_cut_short(ic, factory, admin, create_club, principal, 2)
    with ic.faults.reject(MANAGEMENT_ID, "canister_status", times=None):
        waiting = admin_factory.publish_version("1.1.0").unwrap()
    assert (waiting.upgraded, waiting.trying) == ((clubs[0].id,), clubs[1].id)
    assert waiting.finished is False
    assert admin_factory.get_upgrade_report("1.1.0") == waiting
    report = admin_factory.publish_version("1.1.0").unwrap()
    assert (report.upgraded, report.trying, report.finished) == (
        tuple(club.id for club in clubs), None, True
    )


TRAP_AFTER_INSTALLING: list[Principal] = []
"""Contracts after whose install ``FragileClubFactory``'s message traps (once each)."""


class FragileClubFactory(ClubFactory):
    """A club factory whose message traps right after installing a listed contract."""

    def _change_code(
        self, info: ContractInfo, target: VersionInfo, kind: str
    ) -> Ok[str] | Err[Any]:
        outcome = super()._change_code(info, target, kind)
        if info.id in TRAP_AFTER_INSTALLING:
            TRAP_AFTER_INSTALLING.remove(info.id)
            raise Trap("the factory's message failed half way")
        return outcome


def test_the_contracts_a_trapped_rollout_did_not_reach_are_upgraded_when_it_resumes(
    ic: IC, admin: Principal, backend: Principal, principal: Any
) -> None:
    """A stable upload whose rollout traps after its first install: the rest of the contracts
    that opted in are not stranded, and the canary the rollout began with still holds."""
    factory = deploy_factory(ic, FragileClubFactory, backends=[backend], caller=admin)
    owners = [principal(f"owner-{i}") for i in range(4)]
    clubs = []
    for i, owner in enumerate(owners):
        config = ClubConfig(name=f"club {i}")
        club = ic.actor(factory.as_caller(backend).create_contract(owner, config).unwrap(), owner)
        factory.as_caller(owner).set_auto_update(club.id, True)
        clubs.append(club)
    bump(clubs[1], 1)  # the second canary fails
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.3.0", ClubOddTrap, stable=False)
    TRAP_AFTER_INSTALLING[:] = [clubs[0].id]
    rejected(lambda: admin_factory.publish_version("1.3.0", canary=2))
    assert TRAP_AFTER_INSTALLING == []
    cut = admin_factory.get_upgrade_report("1.3.0")
    assert (cut.upgraded, cut.trying, cut.finished) == ((), clubs[0].id, False)

    report = admin_factory.publish_version("1.3.0").unwrap()
    assert (report.canary, report.halted, report.finished) == (2, True, True)
    assert report.upgraded == (clubs[0].id,)
    assert [contract for contract, _ in report.failed] == [clubs[1].id]
    assert [contract for contract, _ in report.skipped] == [clubs[2].id, clubs[3].id]
    assert [ic.code_of(club.id) for club in clubs] == [ClubOddTrap] + [Club] * 3


def test_a_detached_contract_is_skipped_and_reported_detached(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    attached = create_club(alice, "attached")
    free = create_club(bob, "free")
    factory.as_caller(alice).set_auto_update(attached.id, True)
    factory.as_caller(bob).set_auto_update(free.id, True)
    detach(ic, free, bob)
    free_before = ic.state_of(free.id)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    report = factory.get_upgrade_report("1.1.0")
    assert report.upgraded == (attached.id,)
    assert report.failed == ()
    assert report.skipped == ((free.id, "detached"),)
    assert ic.code_of(free.id) is Club
    assert ic.state_of(free.id) == free_before
    assert ic.controllers_of(free.id) == (bob,)
    assert info_of(factory, admin, free).detached is True
    # Known detached: the next rollout skips it without trying.
    failed_before = stats(factory).failed_upgrades
    as_admin(factory, admin).upload_version("1.2.0", ClubV3)
    assert factory.get_upgrade_report("1.2.0").skipped == ((free.id, "detached"),)
    assert stats(factory).failed_upgrades == failed_before


def test_upgrading_a_detached_contract_says_so(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, bob: Principal
) -> None:
    club = create_club(bob)
    detach(ic, club, bob)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    assert factory.as_caller(bob).upgrade_contract(club.id) == Err(ContractDetached(club.id))
    assert ic.code_of(club.id) is Club
    assert info_of(factory, admin, club).detached is True
    assert factory.as_caller(bob).check_controller(club.id) is True


class ClubForgery(Club):
    """Code the factory never uploaded, installed by the contract's owner (a controller)."""

    VERSION = "9.9.9"


def test_check_controller_finds_what_code_the_contract_really_runs(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, bob: Principal
) -> None:
    """The owner controls the contract too. Code the factory uploaded, installed directly, is
    recorded as the version that runs; code it never uploaded makes the contract detached (the
    factory cannot vouch for what it reports), until factory code runs there again."""
    club = create_club(bob)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2, stable=False)
    ic.install_code(club.id, ClubV2, mode="upgrade", caller=bob)
    assert factory.as_caller(bob).check_controller(club.id) is False
    assert info_of(factory, admin, club).version == "1.1.0"
    ic.install_code(club.id, ClubForgery, mode="upgrade", caller=bob)
    assert factory.as_caller(bob).check_controller(club.id) is True
    info = info_of(factory, admin, club)
    assert (info.detached, info.version) == (True, "1.1.0")
    assert factory.as_caller(bob).upgrade_contract(club.id) == Err(ContractDetached(club.id))
    ic.install_code(club.id, ClubV2, mode="upgrade", caller=bob)
    assert factory.as_caller(bob).check_controller(club.id) is False
    assert info_of(factory, admin, club).detached is False


# -- contract-initiated upgrades --------------------------------------------------------------


def test_a_requested_upgrade_runs_on_the_next_tick_and_is_reported_back(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    bump(club, 3)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    assert club.request_upgrade() == Ok("1.1.0")
    meta = club.get_contract_meta()
    assert (meta.upgrade_requested, meta.last_upgrade, meta.version) == ("1.1.0", None, "1.0.0")
    # Nothing changes until the factory's timer runs.
    assert ic.code_of(club.id) is Club
    assert info_of(factory, admin, club).version == "1.0.0"
    assert factory.as_caller(alice).get_upgrade_history(club.id) == ()
    ic.tick()
    assert ic.code_of(club.id) is ClubV2
    assert info_of(factory, admin, club).version == "1.1.0"
    meta = club.get_contract_meta()
    assert (meta.version, meta.upgrade_requested, meta.last_upgrade) == (
        "1.1.0", None, ("1.1.0", None),
    )  # fmt: skip
    assert club.count() == 3
    (record,) = factory.as_caller(alice).get_upgrade_history(club.id)
    assert (record.kind, record.from_version, record.to_version, record.ok) == (
        "requested", "1.0.0", "1.1.0", True,
    )  # fmt: skip


def test_a_requested_upgrade_that_traps_reports_the_old_version_and_why(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    bump(club, 2)
    as_admin(factory, admin).upload_version("2.0.0", ClubBrokenUpgrade, stable=False)
    assert club.request_upgrade("2.0.0") == Ok("2.0.0")
    ic.tick()
    assert ic.code_of(club.id) is Club
    meta = club.get_contract_meta()
    assert meta.upgrade_requested is None
    assert meta.last_upgrade is not None
    version, reason = meta.last_upgrade
    assert version == "1.0.0"
    assert reason is not None and "migration failed" in reason
    assert club.count() == 2
    assert info_of(factory, admin, club).version == "1.0.0"
    assert stats(factory).failed_upgrades == 1


def test_only_the_owner_may_request_an_upgrade(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    before = ic.state_of(club.id), ic.state_of(factory.id)
    for stranger in (bob, admin):
        error = rejected(lambda s=stranger: club.as_caller(s).request_upgrade())
        assert error.reject_code == RejectCode.CANISTER_REJECT
    assert (ic.state_of(club.id), ic.state_of(factory.id)) == before
    ic.tick()
    assert ic.code_of(club.id) is Club


def test_a_second_request_while_one_is_pending_is_refused(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    admin_factory = as_admin(factory, admin)
    admin_factory.upload_version("1.1.0", ClubV2)
    admin_factory.upload_version("1.2.0", ClubV3, stable=False)
    assert club.request_upgrade("1.1.0") == Ok("1.1.0")
    before = ic.state_of(club.id), ic.state_of(factory.id)
    second = club.request_upgrade("1.2.0")
    assert isinstance(second, Err) and isinstance(second.error, NotEligible)
    assert (ic.state_of(club.id), ic.state_of(factory.id)) == before
    ic.tick()
    assert ic.code_of(club.id) is ClubV2
    assert club.get_contract_meta().last_upgrade == ("1.1.0", None)
    # Once done, a new request is accepted.
    assert club.request_upgrade("1.2.0") == Ok("1.2.0")
    ic.tick()
    assert ic.code_of(club.id) is ClubV3


@pytest.mark.parametrize(
    ("target", "error_type"),
    [("1.0.0", NotEligible), ("0.0.1", UnknownVersion), (None, NotEligible)],
)
def test_a_request_for_a_version_the_contract_cannot_take_is_refused_at_once(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal,
    target: str | None, error_type: type,
) -> None:  # fmt: skip
    club = create_club(alice)
    before = ic.state_of(club.id), ic.state_of(factory.id)
    result = club.request_upgrade(target)
    assert isinstance(result, Err) and isinstance(result.error, error_type)
    assert (ic.state_of(club.id), ic.state_of(factory.id)) == before
    assert ic.pending_timers() == 0


def test_a_pending_request_survives_an_upgrade_of_the_factory(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    """An upgrade clears the factory's timers; its ``post_upgrade`` schedules the requests
    still pending again, so none is stranded (and none could be asked for again)."""
    clubs = [create_club(alice, f"club {i}") for i in range(3)]
    as_admin(factory, admin).upload_version("1.1.0", ClubV2, stable=False)
    for club in clubs:
        assert club.request_upgrade("1.1.0") == Ok("1.1.0")

    class ClubFactoryNext(ClubFactory):
        VERSION = "1.0.1"

    ic.upgrade_canister(factory.id, ClubFactoryNext, caller=admin)
    ic.tick()
    assert [ic.code_of(club.id) for club in clubs] == [ClubV2] * 3
    assert [club.get_contract_meta().last_upgrade for club in clubs] == [("1.1.0", None)] * 3
    assert len(ic.state_of(factory.id).upgrade_requests) == 0


def test_a_user_cannot_call_the_factorys_request_upgrade(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub, alice: Principal
) -> None:
    club = create_club(alice)
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    for caller in (alice, admin):
        before = ic.state_of(factory.id)
        error = rejected(lambda c=caller: factory.as_caller(c).request_upgrade("1.1.0"))
        assert error.reject_code == RejectCode.CANISTER_REJECT
        after = ic.state_of(factory.id)
        assert without_denials(after) == without_denials(before)
        assert after.counters.access_denied == before.counters.access_denied + 1
    ic.tick()
    assert ic.code_of(club.id) is Club


# -- on_upgraded cannot be faked ----------------------------------------------------------------


def test_nobody_but_the_factory_can_report_an_upgrade(
    ic: IC, factory: CanisterProxy, admin: Principal, create_club: CreateClub,
    alice: Principal, bob: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    other = create_club(bob, "other")
    as_admin(factory, admin).upload_version("1.1.0", ClubV2)
    assert club.request_upgrade() == Ok("1.1.0")
    meta_before = club.get_contract_meta()
    state_before = ic.state_of(club.id)
    attempts: list[Callable[[], object]] = [
        lambda: club.on_upgraded("9.9.9", None),  # the owner
        lambda: club.as_caller(bob).on_upgraded("9.9.9", None),  # a stranger
        lambda: club.as_caller(admin).on_upgraded("9.9.9", None),  # the factory's admin
        lambda: other.call_any(club.id, "on_upgraded", "9.9.9", None),  # another contract
    ]
    for attempt in attempts:
        error = rejected(attempt)
        assert "factory" in error.message
        assert club.get_contract_meta() == meta_before
        assert ic.state_of(club.id) == state_before

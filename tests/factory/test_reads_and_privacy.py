"""The factory's reads and who may see what.

Users ask the factory directly: ``get_my_contracts`` (everything a user created or holds a role
in, with their roles), ``get_contracts_by_role``, ``get_created_contracts``,
``get_public_contracts``, ``get_contract_info``, ``get_stats``, ``health`` and ``capacity``.
Listings are oldest first and paged (``offset``/``limit`` at most 1000, ``next_offset``, ``total``).

Privacy: a private contract exists only for its owner, its role holders and the factory's admins
(its controllers and its admin list). To anyone else ``get_contract_info`` answers ``None``,
listings skip it and give no total (a total would count it), and its version and upgrade history
are not told.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from icto import IC, Ok, Principal, RejectCode
from icto.factory import (
    CREATOR,
    ContractEntry,
    ContractInfo,
    FactoryCapacity,
    Page,
    deploy_factory,
)
from icto.factory.base import MAX_STATUS_LENGTH
from icto.ic import InvalidArguments
from icto.ic.proxy import CanisterProxy
from tests.factory.toys import MEMBER, MODERATOR, ClubConfig, ClubFactory, ClubV2
from tests.helpers import rejected

CreateClub = Callable[..., CanisterProxy]
SECOND = 1_000_000_000


@pytest.fixture
def stranger() -> Principal:
    """Someone who holds no role anywhere and administers nothing."""
    return Principal.from_name("stranger")


@pytest.fixture
def auditor() -> Principal:
    """Put on the factory's admin list by tests that need an admin who is not a controller."""
    return Principal.from_name("auditor")


def entry_ids(page: Page[ContractEntry]) -> list[Principal]:
    return [entry.info.id for entry in page.items]


def info_ids(page: Page[ContractInfo]) -> list[Principal]:
    return [info.id for info in page.items]


def roles_by_id(page: Page[ContractEntry]) -> dict[Principal, tuple[str, ...]]:
    return {entry.info.id: entry.roles for entry in page.items}


# -- get_my_contracts ---------------------------------------------------------------------------


def test_my_contracts_unite_created_and_role_contracts_oldest_first(
    ic: IC, factory: CanisterProxy, create_club: CreateClub,
    alice: Principal, bob: Principal, carol: Principal,
) -> None:  # fmt: skip
    """Every contract alice created or holds any role in appears once, with all her roles
    (sorted, ``creator`` included), in creation order; others' contracts do not appear."""
    own = create_club(alice, "own", members=(bob,))
    ic.advance_time(seconds=1)
    joined = create_club(bob, "joined", members=(alice,))
    ic.advance_time(seconds=1)
    both_roles = create_club(carol, "both roles")
    both_roles.grant(alice, MODERATOR)
    both_roles.grant(alice, MEMBER)
    ic.advance_time(seconds=1)
    own_member = create_club(alice, "own and member", members=(alice,))
    ic.advance_time(seconds=1)
    create_club(carol, "not hers", members=(bob,))

    page = factory.as_caller(alice).get_my_contracts(alice)

    assert entry_ids(page) == [own.id, joined.id, both_roles.id, own_member.id]
    assert [entry.roles for entry in page.items] == [
        (CREATOR,),
        (MEMBER,),
        (MEMBER, MODERATOR),
        (CREATOR, MEMBER),
    ]
    created = [entry.info.created_at for entry in page.items]
    assert created == sorted(created) and len(set(created)) == 4
    assert page.total == 4 and page.next_offset is None


def test_a_contract_stays_listed_until_the_users_last_role_goes(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    """Granting a role twice lists the contract once; revoking one of two roles keeps it with the
    other; revoking the last removes it. The owner's ``creator`` role cannot be revoked away."""
    club = create_club(alice)
    club.grant(bob, MEMBER)
    club.grant(bob, MEMBER)
    club.grant(bob, MODERATOR)
    mine = factory.as_caller(bob).get_my_contracts
    assert roles_by_id(mine(bob)) == {club.id: (MEMBER, MODERATOR)}
    assert mine(bob).total == 1

    club.revoke(bob, MODERATOR)
    assert roles_by_id(mine(bob)) == {club.id: (MEMBER,)}

    club.revoke(bob, MEMBER)
    page = mine(bob)
    assert page.items == () and page.total == 0 and page.next_offset is None

    club.grant(alice, MEMBER)
    club.revoke(alice, MEMBER)
    assert roles_by_id(factory.as_caller(alice).get_my_contracts(alice)) == {club.id: (CREATOR,)}


def test_pages_of_my_contracts_walk_the_whole_list(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    """Pages of 3 over 7 contracts: offsets 0, 3, 6; their concatenation is the full list."""
    clubs = []
    for n in range(7):
        if n % 2:
            clubs.append(create_club(bob, f"club {n}", members=(alice,)).id)
        else:
            clubs.append(create_club(alice, f"club {n}").id)
    mine = factory.as_caller(alice).get_my_contracts

    pages = [mine(alice, 0, 3), mine(alice, 3, 3), mine(alice, 6, 3)]

    assert [page.next_offset for page in pages] == [3, 6, None]
    assert [page.total for page in pages] == [7, 7, 7]
    assert [len(page.items) for page in pages] == [3, 3, 1]
    assert [i for page in pages for i in entry_ids(page)] == clubs
    assert entry_ids(mine(alice, 2, 2)) == clubs[2:4]
    beyond = mine(alice, 7, 3)
    assert beyond.items == () and beyond.total == 7 and beyond.next_offset is None
    assert [len(page) for page in pages] == [3, 3, 1] and len(beyond) == 0
    assert [entry.info.id for page in pages for entry in page] == clubs


def test_default_page_is_100_and_1000_is_the_largest_limit(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal
) -> None:
    clubs = [create_club(alice, f"club {n}").id for n in range(101)]
    mine = factory.as_caller(alice).get_my_contracts

    first = mine(alice)
    assert entry_ids(first) == clubs[:100]
    assert first.total == 101 and first.next_offset == 100
    rest = mine(alice, first.next_offset)
    assert entry_ids(rest) == clubs[100:] and rest.next_offset is None
    assert entry_ids(mine(alice, 0, 1000)) == clubs


OUT_OF_RANGE_PAGES = [
    pytest.param(0, 1001, id="limit-above-1000"),
    pytest.param(0, -1, id="negative-limit"),
    pytest.param(0, 0, id="zero-limit"),
    pytest.param(-1, 10, id="negative-offset"),
]
WRONGLY_TYPED_PAGES = [
    pytest.param(0, True, id="bool-limit"),
    pytest.param("0", 10, id="text-offset"),
    pytest.param(0, 2.5, id="float-limit"),
]
LISTINGS = ["my", "by_role", "created", "public"]


def _listing_call(
    factory: CanisterProxy, user: Principal, listing: str, offset: object, limit: object
) -> Callable[[], object]:
    reads = factory.as_caller(user)
    return {
        "my": lambda: reads.get_my_contracts(user, offset, limit),
        "by_role": lambda: reads.get_contracts_by_role(user, MEMBER, offset, limit),
        "created": lambda: reads.get_created_contracts(user, offset, limit),
        "public": lambda: reads.get_public_contracts(offset, limit),
    }[listing]


@pytest.mark.parametrize(("offset", "limit"), OUT_OF_RANGE_PAGES)
@pytest.mark.parametrize("listing", LISTINGS)
def test_out_of_range_pages_are_rejected_and_change_nothing(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal,
    listing: str, offset: int, limit: int,
) -> None:  # fmt: skip
    """Negative offsets, limits outside 1..1000 are refused by the factory itself."""
    create_club(alice, members=(alice,))
    before = ic.state_of(factory.id)

    error = rejected(_listing_call(factory, alice, listing, offset, limit))

    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert "offset" in error.message or "limit" in error.message
    assert ic.state_of(factory.id) == before
    assert factory.as_caller(alice).get_my_contracts(alice).total == 1


@pytest.mark.parametrize(("offset", "limit"), WRONGLY_TYPED_PAGES)
@pytest.mark.parametrize("listing", LISTINGS)
def test_wrongly_typed_pages_fail_to_decode_and_change_nothing(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal,
    listing: str, offset: object, limit: object,
) -> None:  # fmt: skip
    """An offset or limit that is not an int does not even decode (the IC's decoding trap)."""
    create_club(alice, members=(alice,))
    before = ic.state_of(factory.id)

    error = rejected(_listing_call(factory, alice, listing, offset, limit))

    assert isinstance(error, InvalidArguments)
    assert error.reject_code == RejectCode.CANISTER_ERROR
    assert ic.state_of(factory.id) == before


# -- by role, created, public, info -------------------------------------------------------------


def test_contracts_by_role_lists_only_that_role(
    factory: CanisterProxy, create_club: CreateClub,
    alice: Principal, bob: Principal, carol: Principal,
) -> None:  # fmt: skip
    as_member = create_club(bob, "member", members=(alice,))
    as_moderator = create_club(carol, "moderator")
    as_moderator.grant(alice, MODERATOR)
    as_both = create_club(bob, "both", members=(alice,))
    as_both.grant(alice, MODERATOR)
    as_creator = create_club(alice, "creator")
    create_club(carol, "unrelated", members=(bob,))
    by_role = factory.as_caller(alice).get_contracts_by_role

    members = by_role(alice, MEMBER)
    assert info_ids(members) == [as_member.id, as_both.id] and members.total == 2
    moderators = by_role(alice, MODERATOR)
    assert info_ids(moderators) == [as_moderator.id, as_both.id] and moderators.total == 2
    assert info_ids(by_role(alice, CREATOR)) == [as_creator.id]
    assert info_ids(by_role(carol, MEMBER)) == []

    as_both.revoke(alice, MEMBER)
    assert info_ids(by_role(alice, MEMBER)) == [as_member.id]
    assert info_ids(by_role(alice, MODERATOR)) == [as_moderator.id, as_both.id]


def test_an_unknown_role_is_rejected(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal
) -> None:
    create_club(alice, members=(alice,))
    before = ic.state_of(factory.id)

    error = rejected(lambda: factory.as_caller(alice).get_contracts_by_role(alice, "owner"))

    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert "owner" in error.message
    assert ic.state_of(factory.id) == before


def test_created_contracts_are_those_the_user_owns(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    first = create_club(alice, "first")
    bobs = create_club(bob, "bob's", members=(alice,))
    second = create_club(alice, "second", is_public=False)
    reads = factory.as_caller(alice)

    created = reads.get_created_contracts(alice)

    assert info_ids(created) == [first.id, second.id]
    assert created.total == 2 and created.next_offset is None
    assert {info.owner for info in created.items} == {alice}
    assert reads.get_contracts_by_role(alice, CREATOR) == created
    assert info_ids(reads.get_created_contracts(bob)) == [bobs.id]


def test_public_contracts_lists_only_public_ones_in_creation_order(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal,
    stranger: Principal,
) -> None:  # fmt: skip
    one = create_club(alice, "one")
    create_club(bob, "hidden", is_public=False)
    two = create_club(bob, "two")
    three = create_club(alice, "three")

    page = factory.as_caller(stranger).get_public_contracts()

    assert info_ids(page) == [one.id, two.id, three.id]
    assert page.total == 3 and page.next_offset is None
    assert all(info.is_public for info in page.items)
    second_page = factory.as_caller(stranger).get_public_contracts(1, 1)
    assert info_ids(second_page) == [two.id] and second_page.next_offset == 2
    assert factory.get_stats().public_contracts == 3


def test_contract_info_describes_the_contract(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal,
    carol: Principal, stranger: Principal,
) -> None:  # fmt: skip
    create_club(carol, "earlier")
    club = create_club(alice, "Chess", members=(bob, carol))
    club.grant(bob, MODERATOR)

    info = factory.as_caller(stranger).get_contract_info(club.id)

    assert info is not None
    assert (info.id, info.kind, info.owner, info.name) == (club.id, "club", alice, "Chess")
    assert (info.version, info.seq, info.status) == ("1.0.0", 1, "active")
    assert info.is_public and not info.auto_update and not info.detached
    assert dict(info.role_counts) == {MEMBER: 2, MODERATOR: 1}
    assert factory.get_contract_info(stranger) is None
    assert factory.get_contract_info(factory.id) is None


def test_stats_count_contracts_by_status(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    first = create_club(alice)
    create_club(bob, is_public=False)
    assert factory.get_stats().by_status == (("active", 2),)

    first.set_status("frozen")
    stats = factory.get_stats()
    assert stats.by_status == (("active", 1), ("frozen", 1))
    assert (stats.contracts, stats.public_contracts, stats.deployed) == (2, 1, 2)
    assert factory.as_caller(alice).get_contract_info(first.id).status == "frozen"

    rejected(lambda: first.set_status("not a status"))
    assert factory.get_stats().by_status == (("active", 1), ("frozen", 1))
    longest = "s" * MAX_STATUS_LENGTH
    first.set_status(longest)
    assert factory.get_stats().by_status == (("active", 1), (longest, 1))
    refusal = rejected(lambda: first.set_status(longest + "s"))
    assert f"status must be 1 to {MAX_STATUS_LENGTH} characters" in refusal.message
    assert factory.get_stats().by_status == (("active", 1), (longest, 1))

    first.set_status("active")
    assert factory.get_stats().by_status == (("active", 2),)


def test_health_reports_the_contracts_registered_and_the_factory_s_own_version(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    """services.md: a factory's health tells its status, contracts, cycles and version."""
    assert (factory.health().contracts, factory.health().version) == (0, ClubFactory.VERSION)
    create_club(alice)
    create_club(bob, is_public=False)

    health = factory.health()
    assert health.contracts == factory.get_stats().contracts == 2
    assert health.version == ClubFactory.VERSION and health.latest_stable == "1.0.0"


def test_health_names_each_issue(ic: IC, admin: Principal, backend: Principal) -> None:
    """Healthy with a backend, enough cycles and not paused; each lack is named."""
    factory = deploy_factory(ic, ClubFactory, backends=[backend], caller=admin)
    health = factory.health()
    assert health.healthy and health.issues == () and health.backends == 1
    assert health.latest_stable == "1.0.0" and not health.paused

    factory.as_caller(admin).pause_factory()
    health = factory.health()
    assert not health.healthy and health.paused and health.issues == ("paused",)
    factory.as_caller(admin).resume_factory()
    assert factory.health().healthy

    factory.as_caller(admin).remove_backend(backend)
    health = factory.health()
    assert health.issues == ("no backend is whitelisted",) and health.backends == 0
    factory.as_caller(admin).add_backend(backend)
    assert factory.health().healthy


def test_health_reports_low_cycles_until_topped_up(
    ic: IC, admin: Principal, backend: Principal
) -> None:
    poor = deploy_factory(
        ic, ClubFactory, backends=[backend], caller=admin, cycles=10**12,
        cycles_per_contract=2 * 10**12,
    )  # fmt: skip
    health = poor.health()
    assert health.issues == ("not enough cycles for one more contract",)
    assert not health.healthy and health.cycles == ic.cycles_balance(poor.id)

    ic.add_cycles(poor.id, 2 * 10**12)
    assert poor.health().healthy


def test_capacity_says_whether_the_factory_is_paused_and_how_many_deployments_are_left(
    ic: IC, factory: CanisterProxy, admin: Principal, alice: Principal, backend: Principal
) -> None:
    """``capacity()``, which a backend asks before it charges anybody: paused or not as the
    admin pauses and resumes, and ``deployments_left()`` as a deployment spends cycles."""
    asked = factory.as_caller(backend)
    running = asked.capacity()
    assert running == FactoryCapacity(False, factory.deployments_left(), whitelisted=True)
    assert running.deployments_left > 1
    factory.as_caller(admin).pause_factory()
    assert asked.capacity() == FactoryCapacity(True, factory.deployments_left(), True)
    factory.as_caller(admin).resume_factory()
    assert asked.capacity() == FactoryCapacity(False, factory.deployments_left(), True)

    poor = deploy_factory(
        ic, ClubFactory, backends=[backend], caller=admin, cycles=3 * 10**12,
        cycles_per_contract=2 * 10**12,
    )  # fmt: skip
    assert poor.as_caller(backend).capacity() == FactoryCapacity(False, 1, True)
    poor.as_caller(backend).create_contract(alice, ClubConfig(name="Last")).unwrap()
    assert poor.as_caller(backend).capacity() == FactoryCapacity(False, 0, True)
    assert poor.deployments_left() == 0


def test_capacity_tells_a_backend_whether_it_is_still_whitelisted(
    factory: CanisterProxy, admin: Principal, alice: Principal, backend: Principal
) -> None:
    assert factory.as_caller(backend).capacity().whitelisted
    assert not factory.as_caller(alice).capacity().whitelisted
    factory.as_caller(admin).remove_backend(backend)
    assert not factory.as_caller(backend).capacity().whitelisted


def test_health_lists_every_issue_at_once(ic: IC, admin: Principal) -> None:
    factory = deploy_factory(ic, ClubFactory, caller=admin, cycles=10**12)
    factory.as_caller(admin).pause_factory()
    assert set(factory.health().issues) == {
        "paused",
        "not enough cycles for one more contract",
        "no backend is whitelisted",
    }


# -- privacy ------------------------------------------------------------------------------------


def test_private_club_is_seen_by_owner_members_and_admins_only(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal, auditor: Principal,
    alice: Principal, bob: Principal, stranger: Principal,
) -> None:  # fmt: skip
    factory.as_caller(admin).set_admins((auditor,))
    club = create_club(alice, "secret", members=(bob,), is_public=False)

    for viewer in (alice, bob, admin, auditor):
        info = factory.as_caller(viewer).get_contract_info(club.id)
        assert info is not None and info.id == club.id and not info.is_public, viewer
    assert factory.as_caller(stranger).get_contract_info(club.id) is None
    assert factory.get_contract_info(club.id) is None  # anonymous


def test_strangers_listings_skip_a_private_club_and_give_no_total(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal,
    alice: Principal, bob: Principal, carol: Principal, stranger: Principal,
) -> None:  # fmt: skip
    before = create_club(alice, "open before", members=(bob,))
    secret = create_club(alice, "secret", members=(bob,), is_public=False)
    after = create_club(alice, "open after", members=(bob,))
    everything = [before.id, secret.id, after.id]
    seen_by_stranger = [before.id, after.id]
    looking = factory.as_caller(stranger)

    assert secret.id not in info_ids(looking.get_public_contracts())
    for page in (
        looking.get_my_contracts(alice),
        looking.get_my_contracts(bob),
    ):
        assert entry_ids(page) == seen_by_stranger and page.total is None
    for page in (
        looking.get_contracts_by_role(bob, MEMBER),
        looking.get_contracts_by_role(alice, CREATOR),
        looking.get_created_contracts(alice),
    ):
        assert info_ids(page) == seen_by_stranger and page.total is None

    # The user herself and admins get everything and the exact total.
    for viewer in (alice, admin):
        page = factory.as_caller(viewer).get_my_contracts(alice)
        assert entry_ids(page) == everything and page.total == 3
    # A member sees the club, but asking about someone else still gives no total.
    page = factory.as_caller(bob).get_my_contracts(alice)
    assert entry_ids(page) == everything and page.total is None
    # Someone unrelated to these clubs with clubs of her own: same as a stranger for alice's.
    create_club(carol, "carol's")
    assert entry_ids(factory.as_caller(carol).get_my_contracts(alice)) == seen_by_stranger


def test_a_strangers_pages_skip_private_clubs_and_still_reach_the_end(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, stranger: Principal
) -> None:
    """Walking ``next_offset`` with small pages yields exactly the visible clubs, in order."""
    clubs = [create_club(alice, f"club {n}", is_public=n % 3 != 1) for n in range(8)]
    visible = [club.id for n, club in enumerate(clubs) if n % 3 != 1]
    looking = factory.as_caller(stranger)

    seen: list[Principal] = []
    offset: int | None = 0
    for _ in range(len(clubs) + 1):
        if offset is None:
            break
        page = looking.get_my_contracts(alice, offset, 2)
        assert page.total is None and len(page.items) <= 2
        seen += entry_ids(page)
        offset = page.next_offset
    assert offset is None
    assert seen == visible


def test_a_strangers_pages_do_not_depend_on_private_clubs(
    admin: Principal, backend: Principal, alice: Principal, bob: Principal, stranger: Principal
) -> None:
    """Noninterference: two worlds that differ only in who owns two private clubs (alice, or
    bob) must look the same to a stranger paging through alice's contracts. Otherwise the
    stranger learns how many private clubs alice has, which ``total=None`` is there to hide."""

    def strangers_view(secret_owner: Principal) -> dict[tuple[int, int], Page[ContractEntry]]:
        ic = IC()  # two separate worlds, with the same ids in the same order
        factory = deploy_factory(ic, ClubFactory, backends=[backend], caller=admin)
        create = factory.as_caller(backend).create_contract
        create(alice, ClubConfig(name="open 1")).unwrap()
        for n in range(2):
            create(secret_owner, ClubConfig(name=f"secret {n}", is_public=False)).unwrap()
        create(alice, ClubConfig(name="open 2")).unwrap()
        looking = factory.as_caller(stranger)
        return {
            (offset, limit): looking.get_my_contracts(alice, offset, limit)
            for offset in range(5)
            for limit in range(1, 3)
        }

    with_secrets = strangers_view(alice)
    without_secrets = strangers_view(bob)

    assert [entry.info.name for entry in without_secrets[0, 2].items] == ["open 1", "open 2"]
    assert with_secrets == without_secrets


def test_a_revoked_member_no_longer_sees_the_private_club(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal
) -> None:
    club = create_club(alice, is_public=False)
    club.grant(bob, MODERATOR)
    assert factory.as_caller(bob).get_contract_info(club.id) is not None

    club.revoke(bob, MODERATOR)

    assert factory.as_caller(bob).get_contract_info(club.id) is None
    assert factory.as_caller(bob).get_my_contracts(bob).items == ()


def test_admins_on_the_list_see_private_clubs_only_while_listed(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal, auditor: Principal,
    alice: Principal,
) -> None:  # fmt: skip
    club = create_club(alice, is_public=False)
    assert factory.as_caller(auditor).get_contract_info(club.id) is None

    factory.as_caller(admin).set_admins((auditor,))
    assert factory.as_caller(auditor).get_contract_info(club.id) is not None
    page = factory.as_caller(auditor).get_my_contracts(alice)
    assert entry_ids(page) == [club.id] and page.total == 1

    factory.as_caller(admin).set_admins(())
    assert factory.as_caller(auditor).get_contract_info(club.id) is None
    assert factory.as_caller(auditor).get_my_contracts(alice).total is None


def test_set_public_toggles_keep_the_public_list_in_creation_order(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal,
    stranger: Principal,
) -> None:  # fmt: skip
    one = create_club(alice, "one")
    two = create_club(bob, "two")
    three = create_club(alice, "three")
    looking = factory.as_caller(stranger)

    def public() -> list[Principal]:
        page = looking.get_public_contracts()
        assert page.total == len(page.items) == factory.get_stats().public_contracts
        return info_ids(page)

    two.set_public(False)
    assert public() == [one.id, three.id]
    assert looking.get_contract_info(two.id) is None
    one.set_public(False)
    assert public() == [three.id]
    two.set_public(True)
    assert public() == [two.id, three.id]
    assert looking.get_contract_info(two.id) is not None
    one.set_public(True)
    assert public() == [one.id, two.id, three.id]
    one.set_public(True)  # already public: nothing moves
    assert public() == [one.id, two.id, three.id]
    assert [club.get_contract_meta().is_public for club in (one, two, three)] == [True] * 3


def test_a_club_created_private_can_be_made_public(
    factory: CanisterProxy, create_club: CreateClub, alice: Principal, stranger: Principal
) -> None:
    club = create_club(alice, is_public=False)
    looking = factory.as_caller(stranger)
    assert not club.get_contract_meta().is_public
    assert looking.get_public_contracts().items == ()
    assert factory.get_stats().public_contracts == 0

    club.set_public(True)

    assert info_ids(looking.get_public_contracts()) == [club.id]
    assert looking.get_contract_info(club.id).is_public
    page = looking.get_my_contracts(alice)
    assert entry_ids(page) == [club.id] and page.total is None


def test_set_contract_visibility_changes_the_index_and_the_contracts_meta(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal, alice: Principal,
    stranger: Principal,
) -> None:  # fmt: skip
    club = create_club(alice)
    looking = factory.as_caller(stranger)

    assert factory.as_caller(alice).set_contract_visibility(club.id, False) == Ok(None)
    assert not club.get_contract_meta().is_public
    assert not factory.as_caller(alice).get_contract_info(club.id).is_public
    assert looking.get_contract_info(club.id) is None
    assert looking.get_public_contracts().items == ()

    assert factory.as_caller(admin).set_contract_visibility(club.id, True) == Ok(None)
    assert club.get_contract_meta().is_public
    assert looking.get_contract_info(club.id).is_public
    assert info_ids(looking.get_public_contracts()) == [club.id]


@pytest.mark.parametrize("who", ["stranger", "member"])
def test_only_the_owner_or_an_admin_may_set_visibility(
    ic: IC, factory: CanisterProxy, create_club: CreateClub, alice: Principal, bob: Principal,
    stranger: Principal, who: str,
) -> None:  # fmt: skip
    club = create_club(alice, members=(bob,), is_public=False)
    caller = {"stranger": stranger, "member": bob}[who]
    denied = factory.get_stats().access_denied

    error = rejected(lambda: factory.as_caller(caller).set_contract_visibility(club.id, True))

    assert error.reject_code == RejectCode.CANISTER_REJECT
    assert "Unauthorized" in error.message
    assert factory.get_stats().access_denied == denied + 1
    assert not club.get_contract_meta().is_public
    assert not factory.as_caller(alice).get_contract_info(club.id).is_public
    assert factory.as_caller(stranger).get_public_contracts().items == ()


# -- versions and upgrades of a private contract ------------------------------------------------


def test_version_and_upgrade_history_of_a_private_club_are_hidden_from_strangers(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal, alice: Principal,
    bob: Principal, stranger: Principal,
) -> None:  # fmt: skip
    club = create_club(alice, members=(bob,), is_public=False)
    assert factory.as_caller(admin).upload_version("1.1.0", ClubV2) == Ok("1.1.0")
    assert factory.as_caller(alice).upgrade_contract(club.id) == Ok("1.1.0")

    for viewer in (alice, bob, admin):
        reads = factory.as_caller(viewer)
        assert reads.get_contract_version(club.id) == "1.1.0"
        (record,) = reads.get_upgrade_history(club.id)
        assert (record.kind, record.from_version, record.to_version) == (
            "upgrade", "1.0.0", "1.1.0"
        )  # fmt: skip
        assert record.ok and record.by == alice
    looking = factory.as_caller(stranger)
    assert looking.get_contract_version(club.id) is None
    assert looking.get_upgrade_history(club.id) == ()

    club.set_public(True)
    assert looking.get_contract_version(club.id) == "1.1.0"
    assert len(looking.get_upgrade_history(club.id)) == 1


def test_the_upgrade_report_does_not_name_private_clubs_to_strangers(
    factory: CanisterProxy, create_club: CreateClub, admin: Principal, alice: Principal,
    stranger: Principal,
) -> None:  # fmt: skip
    """Publishing a version upgrades the clubs that opted in; the report of it is readable by
    anyone, so it must not tell a stranger the id of a private club (which ``get_contract_info``
    hides from them)."""
    public = create_club(alice, "open")
    private = create_club(alice, "secret", is_public=False)
    for club in (public, private):
        factory.as_caller(alice).set_auto_update(club.id, True)
    factory.as_caller(admin).upload_version("1.1.0", ClubV2)
    assert private.get_contract_meta().version == "1.1.0"

    by_admin = factory.as_caller(admin).get_upgrade_report("1.1.0")
    assert set(by_admin.upgraded) == {public.id, private.id}

    report = factory.as_caller(stranger).get_upgrade_report("1.1.0")
    named = {*report.upgraded, *(c for c, _ in report.failed), *(c for c, _ in report.skipped)}
    assert factory.as_caller(stranger).get_contract_info(private.id) is None
    assert public.id in named
    assert private.id not in named

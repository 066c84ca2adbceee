"""Specification of ``icto.factory.ContractIndex`` as a pure value, against a plain model.

The model is what the index summarises, kept the obvious way: per contract its owner, ``seq``,
visibility, status, auto-update flag and a dict user → set of roles (``creator`` included). Every
rule changes both; after every step each index read (``contracts_of``, ``contracts_with_role``,
``roles_of``, ``members_of``, ``role_counts``, ``public``, ``auto_update``, ``status_counts``,
``ids``, ``len``) must be derivable from the model, no index may keep an empty entry behind, and
index values kept from earlier steps must still read exactly as they did (persistence).

Targeted tests then pin identity on no-op changes, the refusal to register an id twice and the
refusal of ``with_fields`` to touch indexed fields.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from icto import Principal
from icto.factory import ACTIVE, CREATOR, DEPLOYING, ContractIndex, ContractInfo

USERS = [Principal.from_name(name) for name in ("ann", "ben", "cat", "dan")]
CONTRACT_IDS = [Principal.from_name(f"c{n}") for n in range(10)]
ROLES = ("member", "admin", CREATOR)
STATUSES = (DEPLOYING, ACTIVE, "paused", "failed")

users = st.sampled_from(USERS)
roles = st.sampled_from(ROLES)


def register(
    index: ContractIndex,
    contract: Principal,
    owner: Principal,
    *,
    is_public: bool = True,
    initial: tuple[tuple[Principal, str], ...] = (),
) -> ContractIndex:
    return index.register(
        contract, kind="club", owner=owner, name=f"club {contract}", created_at=7,
        version="1.0.0", is_public=is_public, roles=initial,
    )  # fmt: skip


@attrs.define
class ModelContract:
    owner: Principal
    seq: int
    is_public: bool
    status: str = DEPLOYING
    auto_update: bool = False
    roles: dict[Principal, set[str]] = attrs.field(factory=dict)


def summary(index: ContractIndex) -> Any:
    """Everything the index tells through its reads, as plain values (to compare versions)."""
    infos = {contract: index.info(contract) for contract in CONTRACT_IDS}
    return (
        len(index),
        infos,
        tuple(index.ids),
        {user: list(index.contracts_of(user)) for user in USERS},
        {
            (role, user): list(index.contracts_with_role(role, user))
            for role in ROLES
            for user in USERS
        },
        {
            contract: dict(index.members_of(info))
            for contract, info in infos.items()
            if info is not None
        },
        list(index.public),
        list(index.auto_update),
        dict(index.status_counts),
    )


class IndexAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.index = ContractIndex()
        self.model: dict[Principal, ModelContract] = {}
        self.next_seq = 0
        self.forgotten: dict[Principal, list[ContractInfo]] = {}
        self.versions: list[tuple[ContractIndex, Any]] = [(self.index, summary(self.index))]

    # -- helpers ---------------------------------------------------------------------------------

    def _registered(self, data: st.DataObject) -> Principal:
        return data.draw(st.sampled_from(sorted(self.model)), label="contract")

    def _change(self, new: ContractIndex, *, expect_same: bool) -> None:
        if expect_same:
            assert new is self.index, "a change that changes nothing must return the same index"
        else:
            assert new is not self.index
        self.index = new
        self.versions.append((new, summary(new)))

    # -- rules -----------------------------------------------------------------------------------

    @rule(
        contract=st.sampled_from(CONTRACT_IDS),
        owner=users,
        is_public=st.booleans(),
        initial=st.lists(st.tuples(users, roles), max_size=4),
    )
    def register(
        self,
        contract: Principal,
        owner: Principal,
        is_public: bool,
        initial: list[tuple[Principal, str]],
    ) -> None:
        if contract in self.model:
            before = summary(self.index)
            with pytest.raises(ValueError, match="already registered"):
                register(self.index, contract, owner, is_public=is_public, initial=tuple(initial))
            assert summary(self.index) == before
            return
        new = register(self.index, contract, owner, is_public=is_public, initial=tuple(initial))
        held: dict[Principal, set[str]] = {owner: {CREATOR}}
        for user, role in initial:
            held.setdefault(user, set()).add(role)
        self.model[contract] = ModelContract(
            owner=owner, seq=self.next_seq, is_public=is_public, roles=held
        )
        self.next_seq += 1
        self._change(new, expect_same=False)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), user=users, role=roles)
    def with_role(self, data: st.DataObject, user: Principal, role: str) -> None:
        contract = self._registered(data)
        held = self.model[contract].roles
        already = role in held.get(user, set())
        held.setdefault(user, set()).add(role)
        self._change(self.index.with_role(contract, user, role), expect_same=already)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), user=users, role=roles)
    def without_role(self, data: st.DataObject, user: Principal, role: str) -> None:
        contract = self._registered(data)
        held = self.model[contract].roles
        present = role in held.get(user, set())
        if present:
            held[user].discard(role)
            if not held[user]:
                del held[user]
        self._change(self.index.without_role(contract, user, role), expect_same=not present)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), is_public=st.booleans())
    def with_visibility(self, data: st.DataObject, is_public: bool) -> None:
        contract = self._registered(data)
        same = self.model[contract].is_public == is_public
        self.model[contract].is_public = is_public
        self._change(self.index.with_visibility(contract, is_public), expect_same=same)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), status=st.sampled_from(STATUSES))
    def with_status(self, data: st.DataObject, status: str) -> None:
        contract = self._registered(data)
        same = self.model[contract].status == status
        self.model[contract].status = status
        self._change(self.index.with_status(contract, status), expect_same=same)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), enabled=st.booleans())
    def with_auto_update(self, data: st.DataObject, enabled: bool) -> None:
        contract = self._registered(data)
        same = self.model[contract].auto_update == enabled
        self.model[contract].auto_update = enabled
        self._change(self.index.with_auto_update(contract, enabled), expect_same=same)

    @rule(contract=st.sampled_from(CONTRACT_IDS))
    def forget(self, contract: Principal) -> None:
        known = contract in self.model
        if known:
            info = self.index.info(contract)
            assert info is not None
            self.forgotten.setdefault(contract, []).append(info)
            del self.model[contract]
        self._change(self.index.forget(contract), expect_same=not known)

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def registry_matches(self) -> None:
        assert len(self.index) == len(self.model)
        assert len(self.index.ids) == self.next_seq
        live = {m.seq: contract for contract, m in self.model.items()}
        assert list(self.index.ids) == [live.get(seq) for seq in range(self.next_seq)]
        for contract in CONTRACT_IDS:
            m = self.model.get(contract)
            info = self.index.info(contract)
            if m is None:
                assert info is None
                continue
            assert info is not None
            assert self.index.at(m.seq) == info
            assert (info.id, info.owner, info.seq) == (contract, m.owner, m.seq)
            assert (info.is_public, info.status, info.auto_update) == (
                m.is_public,
                m.status,
                m.auto_update,
            )
            counts = Counter(role for held in m.roles.values() for role in held if role != CREATOR)
            assert dict(info.role_counts) == dict(counts)
            assert all(count > 0 for count in info.role_counts.values())

    @invariant()
    def user_indexes_match(self) -> None:
        for user in USERS:
            mine = sorted(m.seq for m in self.model.values() if m.roles.get(user))
            assert list(self.index.contracts_of(user)) == mine
            union = sorted(
                {seq for role in ROLES for seq in self.index.contracts_with_role(role, user)}
            )
            assert union == mine, "contracts_of is the union of the per-role lists"
            for role in ROLES:
                expected = sorted(
                    m.seq for m in self.model.values() if role in m.roles.get(user, set())
                )
                assert list(self.index.contracts_with_role(role, user)) == expected

    @invariant()
    def roles_and_members_match(self) -> None:
        for contract, m in self.model.items():
            info = self.index.info(contract)
            assert info is not None
            for user in USERS:
                assert self.index.roles_of(user, info) == tuple(sorted(m.roles.get(user, ())))
            assert dict(self.index.members_of(info)) == {
                user: tuple(sorted(held)) for user, held in m.roles.items()
            }
        for infos in self.forgotten.values():
            for info in infos:
                assert self.index.ids[info.seq] is None
                assert dict(self.index.members_of(info)) == {}
                assert all(self.index.roles_of(user, info) == () for user in USERS)

    @invariant()
    def public_auto_update_and_status_counts_match(self) -> None:
        assert list(self.index.public) == sorted(m.seq for m in self.model.values() if m.is_public)
        assert list(self.index.auto_update) == sorted(
            m.seq for m in self.model.values() if m.auto_update
        )
        assert dict(self.index.status_counts) == dict(
            Counter(m.status for m in self.model.values())
        )

    @invariant()
    def no_empty_entries_are_left_behind(self) -> None:
        index = self.index
        users_with_contracts = {u for m in self.model.values() for u in m.roles}
        assert set(index.by_user.keys()) == users_with_contracts
        assert all(len(seqs) > 0 for seqs in index.by_user.values())
        held_pairs = {
            (role, user) for m in self.model.values() for user, rs in m.roles.items() for role in rs
        }
        assert set(index.by_role.keys()) == held_pairs
        assert all(len(seqs) > 0 for seqs in index.by_role.values())
        assert set(index.members.keys()) == {m.seq for m in self.model.values() if m.roles}
        for members in index.members.values():
            assert len(members) > 0
            assert all(held for held in members.values())
        assert all(count > 0 for count in index.status_counts.values())
        assert set(index.contracts.keys()) == set(self.model)

    @invariant()
    def older_versions_are_unchanged(self) -> None:
        for version, seen in self.versions:
            assert summary(version) == seen


IndexAgainstModel.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestIndexAgainstModel = IndexAgainstModel.TestCase


# -- targeted tests --------------------------------------------------------------------------------

ANN, BEN, CAT = USERS[:3]
C0, C1 = CONTRACT_IDS[:2]


@pytest.fixture
def index() -> ContractIndex:
    """Two contracts: c0 (ann's, ben a member, public) and c1 (ben's, private)."""
    index = register(ContractIndex(), C0, ANN, initial=((BEN, "member"),))
    return register(index, C1, BEN, is_public=False)


def test_register_records_the_contract_its_creator_and_initial_roles(
    index: ContractIndex,
) -> None:
    info = index.info(C0)
    assert info is not None
    assert (info.seq, info.owner, info.status, info.is_public) == (0, ANN, DEPLOYING, True)
    assert dict(info.role_counts) == {"member": 1}
    assert index.roles_of(ANN, info) == (CREATOR,)
    assert index.roles_of(BEN, info) == ("member",)
    assert list(index.contracts_of(BEN)) == [0, 1]
    assert list(index.contracts_with_role(CREATOR, BEN)) == [1]
    assert list(index.public) == [0]
    assert dict(index.status_counts) == {DEPLOYING: 2}


def test_with_role_that_is_already_held_returns_the_same_index(index: ContractIndex) -> None:
    assert index.with_role(C0, BEN, "member") is index
    assert index.with_role(C0, ANN, CREATOR) is index
    once = index.with_role(C0, CAT, "admin")
    assert once is not index
    assert once.with_role(C0, CAT, "admin") is once


def test_other_no_op_changes_return_the_same_index(index: ContractIndex) -> None:
    assert index.without_role(C0, CAT, "member") is index
    assert index.without_role(C0, BEN, "admin") is index
    assert index.with_visibility(C0, True) is index
    assert index.with_status(C0, DEPLOYING) is index
    assert index.with_auto_update(C0, False) is index
    assert index.forget(CONTRACT_IDS[5]) is index


def test_registering_an_id_twice_is_refused(index: ContractIndex) -> None:
    before = summary(index)
    with pytest.raises(ValueError, match="already registered"):
        register(index, C0, CAT, is_public=False, initial=((CAT, "admin"),))
    assert summary(index) == before
    info = index.info(C0)
    assert info is not None
    assert info.owner == ANN


def test_a_forgotten_id_can_be_registered_again_with_a_new_seq(index: ContractIndex) -> None:
    again = register(index.forget(C0), C0, CAT)
    info = again.info(C0)
    assert info is not None
    assert (info.seq, info.owner) == (2, CAT)
    assert list(again.ids) == [None, C1, C0]
    assert list(again.contracts_of(ANN)) == []
    assert list(again.contracts_of(BEN)) == [1]
    assert list(again.contracts_of(CAT)) == [2]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", ACTIVE),
        ("is_public", False),
        ("auto_update", True),
        ("role_counts", None),
        ("seq", 9),
        ("id", CONTRACT_IDS[9]),
        ("owner", CAT),
    ],
)
def test_with_fields_refuses_indexed_fields(index: ContractIndex, field: str, value: Any) -> None:
    before = summary(index)
    with pytest.raises(ValueError, match="indexed"):
        index.with_fields(C0, **{field: value})
    with pytest.raises(ValueError, match="indexed"):
        index.with_fields(C0, name="renamed", **{field: value})
    assert summary(index) == before


def test_with_fields_changes_plain_fields_only(index: ContractIndex) -> None:
    changed = index.with_fields(C0, version="1.1.0", name="renamed", detached=True, details=3)
    info = changed.info(C0)
    old = index.info(C0)
    assert info is not None
    assert old is not None
    assert (info.version, info.name, info.detached, info.details) == ("1.1.0", "renamed", True, 3)
    restored = attrs.evolve(info, version=old.version, name=old.name, detached=False, details=None)
    assert restored == old
    assert (old.version, old.name) == ("1.0.0", f"club {C0}")
    same_reads = summary(changed)[2:]
    assert same_reads == summary(index)[2:]

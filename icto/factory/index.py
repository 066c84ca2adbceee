"""``ContractIndex``: a factory's registry and its user indexes, as one persistent value.

Contracts are numbered in creation order (``seq``); every list is kept in ``seq`` order, so lists
come out oldest first and pages are slices. Each change costs a few HAMT operations plus O(log k)
in the length k of the lists it touches (and one list entry per member of a contract with few
members), whatever the number of contracts; nothing is ever copied whole.

A user's list (``by_user``) maps the seq of each contract the user holds roles in to the user's
``ContractEntry`` there: the contract's info and the user's roles, exactly what
``get_my_contracts`` returns, so a page of it is two slices with nothing built. A change to a
contract's info rebuilds its members' entries, one list update per member; that is bounded only
while the contract has few members (``_FEW`` besides the owner), so beyond that its members'
lists hold their roles alone and a page builds those entries when it shows them.

Memory is what bounds a factory with millions of contracts, so a contract costs little beyond its
info and its members' entries: one HAMT entry (``contracts``), a slot in two tries (``ids``,
``others``) and one entry in each member's list. Per-role lists are kept only for users with more
than ``_LISTED`` contracts (a shorter list is filtered by role when asked), role tuples and
``role_counts`` maps are shared between contracts, and an owner's membership is read from the
owner's own list rather than stored again per contract.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice, repeat
from typing import Any, Final, TypeAlias

import attrs
import immutables

from icto.collections import SortedMap, SortedSet, Vector
from icto.collections.records import evolve, slot_setters
from icto.factory.types import CREATOR, ContractEntry, ContractInfo, Page, make_page
from icto.ic.principal import Principal

Roles: TypeAlias = tuple[str, ...]
Held: TypeAlias = "ContractEntry | Roles"
"""What a user's list holds for one contract: the user's entry, or (in a contract with many
members) the user's roles alone."""
Row: TypeAlias = SortedMap[int, Held]
"""A user's contracts: seq → the user's entry or roles there (sorted roles, never empty)."""
Others: TypeAlias = "Principal | tuple[Principal, ...] | immutables.Map[Principal, None] | None"
"""Who besides the owner holds a role in a contract: one principal, a sorted tuple of up to
``_FEW``, a map beyond, or nobody (one canonical form per size, so equal indexes compare equal)."""

_NO_CONTRACTS: Final[SortedSet[int]] = SortedSet()
_NO_ROW: Final[Row] = SortedMap()
_NO_MEMBERS: Final[immutables.Map[Principal, Roles]] = immutables.Map()
_NO_COUNTS: Final[immutables.Map[str, int]] = immutables.Map()
_FEW: Final = 8
"""The most members besides the owner that a contract keeps in a tuple and keeps entries for."""
_LISTED: Final = 32
"""Per-role lists are kept only for users with more contracts than this; a shorter list is
filtered by role when asked."""

_SHARED_MAX: Final = 4096
"""How many distinct role tuples and ``role_counts`` maps are shared at most (a cache bound)."""
_SHARED_COUNT_MAX: Final = 16
"""``role_counts`` maps with a count above this are not shared (they are rarely equal)."""
_role_sets: dict[Roles, Roles] = {}
_count_maps: dict[immutables.Map[str, int], immutables.Map[str, int]] = {}

_set_info, _set_roles = slot_setters(ContractEntry)


def _entry(info: ContractInfo, roles: Roles) -> ContractEntry:
    """``ContractEntry(info, roles)`` through its slots, at half the generated ``__init__``'s
    cost (a change rebuilds one per member)."""
    entry: ContractEntry = object.__new__(ContractEntry)
    _set_info(entry, info)
    _set_roles(entry, roles)
    return entry


def _shared_roles(roles: Iterable[str]) -> Roles:
    """``roles`` sorted, as the one tuple shared by every holder of the same roles."""
    key = tuple(sorted(roles))
    shared = _role_sets.get(key)
    if shared is None:
        if len(_role_sets) >= _SHARED_MAX:
            return key
        shared = _role_sets[key] = key
    return shared


def _shared_counts(counts: immutables.Map[str, int]) -> immutables.Map[str, int]:
    """``counts``, or an equal map already in use: most contracts have the same few counts."""
    shared = _count_maps.get(counts)
    if shared is not None:
        return shared
    if len(_count_maps) < _SHARED_MAX and all(n <= _SHARED_COUNT_MAX for n in counts.values()):
        _count_maps[counts] = counts
    return counts


def _bump(counts: immutables.Map[str, int], key: str, delta: int) -> immutables.Map[str, int]:
    count = counts.get(key, 0) + delta
    return counts.set(key, count) if count else counts.delete(key)


def _counted(info: ContractInfo, role: str, delta: int) -> ContractInfo:
    """``info`` with ``delta`` more holders of ``role`` (``creator`` is not counted)."""
    if role == CREATOR:
        return info
    counts = _shared_counts(_bump(info.role_counts, role, delta))
    return ContractInfo(
        info.id, info.kind, info.owner, info.name, info.created_at, info.version, info.seq,
        info.status, info.is_public, counts, info.details, info.auto_update, info.detached,
    )  # fmt: skip


def _roles(held: Held | None) -> Roles:
    if held is None:
        return ()
    return held.roles if type(held) is ContractEntry else held  # type: ignore[return-value]


def _members(others: Others) -> Iterable[Principal]:
    if others is None:
        return ()
    if isinstance(others, Principal):
        return (others,)
    return others


def _few(others: Others) -> bool:
    """Whether the contract's members get entries in their lists (see the module doc)."""
    return not isinstance(others, immutables.Map)


def _others_of(members: list[Principal]) -> Others:
    """The canonical form of these (sorted) members: nobody, one, a tuple, or a map."""
    if not members:
        return None
    if len(members) == 1:
        return members[0]
    if len(members) > _FEW:
        return immutables.Map(dict.fromkeys(members))
    return tuple(members)


def _with_other(others: Others, user: Principal) -> Others:
    """``others`` with ``user``, who was not in it."""
    if isinstance(others, immutables.Map):
        return others.set(user, None)
    members = list(_members(others))
    insort(members, user)
    return _others_of(members)


def _without_other(others: Others, user: Principal) -> Others:
    """``others`` without ``user``, who was in it."""
    if isinstance(others, immutables.Map):
        rest = others.delete(user)
        return rest if len(rest) > _FEW else _others_of(sorted(rest))
    return _others_of([member for member in _members(others) if member != user])


def _rebuilt(
    by_user: immutables.Map[Principal, Row],
    info: ContractInfo,
    users: Iterable[Principal],
    few: bool,
) -> immutables.Map[Principal, Row]:
    """``by_user`` with what the lists of ``users`` hold for the contract redone from ``info``:
    entries (members with the same roles share one) if ``few``, else the roles alone."""
    seq = info.seq
    made: dict[Roles, ContractEntry] = {}
    for user in users:
        row = by_user.get(user)
        held = None if row is None else row.get(seq)
        if row is None or held is None:
            continue
        roles = _roles(held)
        value: Held = roles
        if few:
            value = made.get(roles) or made.setdefault(roles, _entry(info, roles))
        by_user = by_user.set(user, row.set(seq, value))
    return by_user


def _listed(
    lists: immutables.Map[tuple[str, Principal], SortedSet[int]],
    user: Principal,
    seq: int,
    before: Row,
    after: Row,
    gained: Roles,
    lost: Roles,
) -> immutables.Map[tuple[str, Principal], SortedSet[int]]:
    """The per-role lists once ``user``'s list went from ``before`` to ``after``, the user
    gaining and losing those roles in contract ``seq``: built when the list grows past
    ``_LISTED``, dropped when it shrinks back, else updated (only for long lists)."""
    if len(after) > _LISTED:
        if len(before) <= _LISTED:
            per_role: dict[str, list[int]] = {}
            for held_seq, held in after.items():
                for role in _roles(held):
                    per_role.setdefault(role, []).append(held_seq)
            for role, seqs in per_role.items():
                lists = lists.set((role, user), SortedSet.from_sorted(seqs))
            return lists
        for role in gained:
            key = (role, user)
            lists = lists.set(key, lists.get(key, _NO_CONTRACTS).add(seq))
        for role in lost:
            key = (role, user)
            left = lists[key].discard(seq)
            lists = lists.set(key, left) if left else lists.delete(key)
    elif len(before) > _LISTED:
        for role in {role for held in before.values() for role in _roles(held)}:
            lists = lists.delete((role, user))
    return lists


@attrs.frozen
class ContractIndex:
    """Registry (id → ``ContractInfo``) and indexes: per user (with the user's entry), per
    (role, user), public, opted in to auto-update, and counts per status. ``ids`` maps a
    ``seq`` to its contract (``None`` once forgotten); ``others`` lists per ``seq`` the members
    besides the owner, so a contract can be forgotten, and its entries rebuilt, without a
    scan. ``role_lists`` holds the per-role lists of users with more than ``_LISTED``
    contracts; ``by_role`` reads them all."""

    contracts: immutables.Map[Principal, ContractInfo] = immutables.Map()
    ids: Vector[Principal | None] = Vector()
    others: Vector[Others] = Vector()
    by_user: immutables.Map[Principal, Row] = immutables.Map()
    role_lists: immutables.Map[tuple[str, Principal], SortedSet[int]] = immutables.Map()
    public: SortedSet[int] = _NO_CONTRACTS
    auto_update: SortedSet[int] = _NO_CONTRACTS
    status_counts: immutables.Map[str, int] = immutables.Map()

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.contracts)

    @property
    def members(self) -> Mapping[int, immutables.Map[Principal, Roles]]:
        """``seq`` → each member's roles, for the contracts with any member (a read-only view;
        iterating it visits every contract)."""
        return _Members(self)

    @property
    def by_role(self) -> Mapping[tuple[str, Principal], SortedSet[int]]:
        """(role, user) → the user's contracts with that role, for every role held (a
        read-only view; iterating it visits every user)."""
        return _ByRole(self)

    def info(self, contract: Principal) -> ContractInfo | None:
        return self.contracts.get(contract)

    def at(self, seq: int) -> ContractInfo:
        contract = self.ids[seq]
        assert contract is not None, f"contract #{seq} was forgotten"
        return self.contracts[contract]

    def roles_of(self, user: Principal, info: ContractInfo) -> Roles:
        """The roles ``user`` holds in the contract (``creator`` included), sorted."""
        row = self.by_user.get(user)
        return () if row is None else _roles(row.get(info.seq))

    def contracts_of(self, user: Principal) -> Row:
        """The contracts in which ``user`` holds any role: a ``SortedMap`` from seq to the
        user's entry (or roles), which reads like a ``SortedSet`` of the seqs."""
        return self.by_user.get(user, _NO_ROW)

    def contracts_with_role(self, role: str, user: Principal) -> SortedSet[int]:
        """O(1) for users with more than ``_LISTED`` contracts, else a filter of their list."""
        row = self.by_user.get(user)
        if row is None:
            return _NO_CONTRACTS
        if len(row) > _LISTED:
            return self.role_lists.get((role, user), _NO_CONTRACTS)
        seqs = [seq for seq, held in row.items() if role in _roles(held)]
        return SortedSet.from_sorted(seqs) if seqs else _NO_CONTRACTS

    def members_of(self, info: ContractInfo) -> immutables.Map[Principal, Roles]:
        others = self.others[info.seq] if 0 <= info.seq < len(self.others) else None
        found = {}
        for user in (info.owner, *_members(others)):
            roles = self.roles_of(user, info)
            if roles:
                found[user] = roles
        return immutables.Map(found) if found else _NO_MEMBERS

    def page_of(self, user: Principal, offset: int, limit: int) -> Page[ContractEntry]:
        """A page of ``user``'s contracts as ``get_my_contracts`` entries (``offset`` and
        ``limit`` already checked): two slices of the user's list; only the entries of
        contracts with many members are built here."""
        row = self.by_user.get(user)
        if row is None:
            return make_page((), 0, None)
        seqs, held = row.page_items(offset, limit)
        if not all(map(isinstance, held, repeat(ContractEntry))):
            held = tuple(
                value if type(value) is ContractEntry else _entry(self.at(seq), _roles(value))
                for seq, value in zip(seqs, held, strict=True)
            )
        total = len(row)
        end = offset + len(held)
        return make_page(held, total, end if end < total else None)  # type: ignore[arg-type]

    # -- changes ------------------------------------------------------------------------------

    def register(
        self,
        contract: Principal,
        *,
        kind: str,
        owner: Principal,
        name: str,
        created_at: int,
        version: str,
        is_public: bool,
        details: Any = None,
        roles: Iterable[tuple[Principal, str]] = (),
    ) -> ContractIndex:
        """Add a new contract, its owner as ``creator`` and its initial roles."""
        if contract in self.contracts:
            raise ValueError(f"{contract} is already registered")
        seq = len(self.ids)
        held: dict[Principal, set[str]] = {owner: {CREATOR}}
        for user, role in roles:
            held.setdefault(user, set()).add(role)
        counts: dict[str, int] = {}
        shared = {user: _shared_roles(mine) for user, mine in held.items()}
        for mine in shared.values():
            for role in mine:
                if role != CREATOR:
                    counts[role] = counts.get(role, 0) + 1
        others = _others_of(sorted(islice(held, 1, None)))
        info = ContractInfo(
            id=contract, kind=kind, owner=owner, name=name, created_at=created_at,
            version=version, seq=seq, is_public=is_public, details=details,
            role_counts=_shared_counts(immutables.Map(counts)) if counts else _NO_COUNTS,
        )  # fmt: skip
        few = _few(others)
        made: dict[Roles, ContractEntry] = {}
        by_user, lists = self.by_user, self.role_lists
        for user, mine in shared.items():
            value: Held = mine
            if few:
                value = made.get(mine) or made.setdefault(mine, _entry(info, mine))
            row = by_user.get(user, _NO_ROW)
            grown = row.set(seq, value)
            by_user = by_user.set(user, grown)
            lists = _listed(lists, user, seq, row, grown, mine, ())
        return evolve(
            self,
            contracts=self.contracts.set(contract, info),
            ids=self.ids.append(contract),
            others=self.others.append(others),
            by_user=by_user,
            role_lists=lists,
            public=self.public.add(seq) if is_public else self.public,
            status_counts=_bump(self.status_counts, info.status, 1),
        )

    def forget(self, contract: Principal) -> ContractIndex:
        """Remove a contract and every index entry that names it."""
        info = self.contracts.get(contract)
        if info is None:
            return self
        seq = info.seq
        by_user, lists = self.by_user, self.role_lists
        for user in (info.owner, *_members(self.others[seq])):
            row = by_user.get(user)
            held = None if row is None else row.get(seq)
            if row is None or held is None:
                continue
            left = row.discard(seq)
            by_user = by_user.set(user, left) if left else by_user.delete(user)
            lists = _listed(lists, user, seq, row, left, (), _roles(held))
        return evolve(
            self,
            contracts=self.contracts.delete(contract),
            ids=self.ids.set(seq, None),
            others=self.others.set(seq, None),
            by_user=by_user,
            role_lists=lists,
            public=self.public.discard(seq),
            auto_update=self.auto_update.discard(seq),
            status_counts=_bump(self.status_counts, info.status, -1),
        )

    def with_role(self, contract: Principal, user: Principal, role: str) -> ContractIndex:
        """``user`` holds ``role`` in ``contract``; the same index if it already did."""
        info = self.contracts[contract]
        seq = info.seq
        row = self.by_user.get(user, _NO_ROW)
        held = _roles(row.get(seq))
        if role in held:
            return self
        before = self.others[seq]
        after = _with_other(before, user) if not held and user != info.owner else before
        return self._member_changed(
            info, _counted(info, role, 1), user, row, _shared_roles((*held, role)), before, after,
            (role,), (),
        )  # fmt: skip

    def without_role(self, contract: Principal, user: Principal, role: str) -> ContractIndex:
        """``user`` no longer holds ``role`` in ``contract``; the same index if it did not."""
        info = self.contracts[contract]
        seq = info.seq
        row = self.by_user.get(user, _NO_ROW)
        held = _roles(row.get(seq))
        if role not in held:
            return self
        rest = _shared_roles(r for r in held if r != role) if len(held) > 1 else ()
        before = self.others[seq]
        after = _without_other(before, user) if not rest and user != info.owner else before
        return self._member_changed(
            info, _counted(info, role, -1), user, row, rest, before, after, (), (role,)
        )

    def _member_changed(
        self,
        info: ContractInfo,
        new_info: ContractInfo,
        user: Principal,
        row: Row,
        roles: Roles,
        before: Others,
        after: Others,
        gained: Roles,
        lost: Roles,
    ) -> ContractIndex:
        """The index once ``user`` (whose list is ``row``) holds ``roles`` in the contract, its
        info is ``new_info`` and its other members ``after``: the user's list, and the other
        members' entries if the info changed or the contract crossed ``_FEW``."""
        seq = info.seq
        few = _few(after)
        if roles:
            changed = row.set(seq, _entry(new_info, roles) if few else roles)
        else:
            changed = row.discard(seq)
        by_user = self.by_user.set(user, changed) if changed else self.by_user.delete(user)
        lists = self.role_lists
        if len(row) > _LISTED or len(changed) > _LISTED:
            lists = _listed(lists, user, seq, row, changed, gained, lost)
        if few != _few(before) or (few and new_info is not info):
            members = [info.owner, *_members(after)]
            if user in members:
                members.remove(user)
            by_user = _rebuilt(by_user, new_info, members, few)
        changes: dict[str, Any] = {"by_user": by_user, "role_lists": lists}
        if after is not before:
            changes["others"] = self.others.set(seq, after)
        if new_info is not info:
            changes["contracts"] = self.contracts.set(info.id, new_info)
        return evolve(self, **changes)

    def _with_info(self, new_info: ContractInfo, **changes: Any) -> ContractIndex:
        """The index with a contract's info replaced (and its members' entries rebuilt)."""
        others = self.others[new_info.seq]
        by_user = self.by_user
        if _few(others):
            by_user = _rebuilt(by_user, new_info, (new_info.owner, *_members(others)), True)
        return evolve(
            self,
            contracts=self.contracts.set(new_info.id, new_info),
            by_user=by_user,
            **changes,
        )

    def with_visibility(self, contract: Principal, is_public: bool) -> ContractIndex:
        info = self.contracts[contract]
        if info.is_public == is_public:
            return self
        seq = info.seq
        return self._with_info(
            evolve(info, is_public=is_public),
            public=self.public.add(seq) if is_public else self.public.discard(seq),
        )

    def with_status(self, contract: Principal, status: str) -> ContractIndex:
        info = self.contracts[contract]
        if info.status == status:
            return self
        counts = _bump(_bump(self.status_counts, info.status, -1), status, 1)
        return self._with_info(evolve(info, status=status), status_counts=counts)

    def with_auto_update(self, contract: Principal, enabled: bool) -> ContractIndex:
        info = self.contracts[contract]
        if info.auto_update == enabled:
            return self
        seq = info.seq
        return self._with_info(
            evolve(info, auto_update=enabled),
            auto_update=self.auto_update.add(seq) if enabled else self.auto_update.discard(seq),
        )

    def with_fields(self, contract: Principal, **changes: Any) -> ContractIndex:
        """A copy with plain fields of one contract's info changed (``version``, ``detached``,
        ``details``, ``name``); indexed fields have their own methods."""
        indexed = {"status", "is_public", "auto_update", "role_counts", "seq", "id", "owner"}
        if wrong := indexed.intersection(changes):
            raise ValueError(f"{sorted(wrong)} are indexed: use their own with_* method")
        return self._with_info(evolve(self.contracts[contract], **changes))



class _Members(Mapping[int, immutables.Map[Principal, Roles]]):
    """``ContractIndex.members``: seq → each member's roles, for contracts with any member."""

    __slots__ = ("_index",)

    def __init__(self, index: ContractIndex) -> None:
        self._index = index

    def __getitem__(self, seq: int) -> immutables.Map[Principal, Roles]:
        index = self._index
        contract = index.ids[seq] if 0 <= seq < len(index.ids) else None
        members = _NO_MEMBERS if contract is None else index.members_of(index.contracts[contract])
        if not members:
            raise KeyError(seq)
        return members

    def __iter__(self) -> Iterator[int]:
        index = self._index
        return (info.seq for info in index.contracts.values() if index.members_of(info))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ByRole(Mapping[tuple[str, Principal], SortedSet[int]]):
    """``ContractIndex.by_role``: (role, user) → the user's contracts with that role."""

    __slots__ = ("_index",)

    def __init__(self, index: ContractIndex) -> None:
        self._index = index

    def __getitem__(self, key: tuple[str, Principal]) -> SortedSet[int]:
        try:
            role, user = key
            seqs = self._index.contracts_with_role(role, user)
        except (TypeError, ValueError):
            raise KeyError(key) from None
        if not seqs:
            raise KeyError(key)
        return seqs

    def __iter__(self) -> Iterator[tuple[str, Principal]]:
        index = self._index
        for user, row in index.by_user.items():
            if len(row) <= _LISTED:
                yield from {(role, user) for held in row.values() for role in _roles(held)}
        yield from index.role_lists.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self)

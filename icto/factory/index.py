"""``ContractIndex``: a factory's registry and its user indexes, as one persistent value.

Contracts are numbered in creation order (``seq``); every index is a ``SortedSet`` of those
numbers, so lists come out oldest first and pages are slices. Each change costs a few HAMT
operations plus O(log k) in the length k of the lists it touches, whatever the number of
contracts; nothing is ever copied whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import attrs
import immutables

from icto.collections import SortedSet, Vector
from icto.factory.types import CREATOR, ContractInfo
from icto.ic.principal import Principal

_NO_CONTRACTS: Final[SortedSet[int]] = SortedSet()
_NO_MEMBERS: Final[immutables.Map[Principal, tuple[str, ...]]] = immutables.Map()


def _bump(counts: immutables.Map[str, int], key: str, delta: int) -> immutables.Map[str, int]:
    count = counts.get(key, 0) + delta
    return counts.set(key, count) if count else counts.delete(key)


@attrs.frozen
class ContractIndex:
    """Registry (id → ``ContractInfo``) and indexes: per user, per (role, user), public, opted in
    to auto-update, and counts per status. ``members`` maps a contract's ``seq`` to the roles of
    each user in it, which makes "what are alice's roles here" one lookup and lets a contract be
    forgotten without a scan."""

    contracts: immutables.Map[Principal, ContractInfo] = immutables.Map()
    ids: Vector[Principal | None] = Vector()
    members: immutables.Map[int, immutables.Map[Principal, tuple[str, ...]]] = immutables.Map()
    by_user: immutables.Map[Principal, SortedSet[int]] = immutables.Map()
    by_role: immutables.Map[tuple[str, Principal], SortedSet[int]] = immutables.Map()
    public: SortedSet[int] = _NO_CONTRACTS
    auto_update: SortedSet[int] = _NO_CONTRACTS
    status_counts: immutables.Map[str, int] = immutables.Map()

    # -- reads --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.contracts)

    def info(self, contract: Principal) -> ContractInfo | None:
        return self.contracts.get(contract)

    def at(self, seq: int) -> ContractInfo:
        contract = self.ids[seq]
        assert contract is not None, f"contract #{seq} was forgotten"
        return self.contracts[contract]

    def roles_of(self, user: Principal, info: ContractInfo) -> tuple[str, ...]:
        """The roles ``user`` holds in the contract (``creator`` included), sorted."""
        return self.members.get(info.seq, _NO_MEMBERS).get(user, ())

    def contracts_of(self, user: Principal) -> SortedSet[int]:
        """The contracts in which ``user`` holds any role, by ``seq``."""
        return self.by_user.get(user, _NO_CONTRACTS)

    def contracts_with_role(self, role: str, user: Principal) -> SortedSet[int]:
        return self.by_role.get((role, user), _NO_CONTRACTS)

    def members_of(self, info: ContractInfo) -> immutables.Map[Principal, tuple[str, ...]]:
        return self.members.get(info.seq, _NO_MEMBERS)

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
        info = ContractInfo(
            id=contract, kind=kind, owner=owner, name=name, created_at=created_at,
            version=version, seq=seq, is_public=is_public, details=details,
        )  # fmt: skip
        index = attrs.evolve(
            self,
            contracts=self.contracts.set(contract, info),
            ids=self.ids.append(contract),
            public=self.public.add(seq) if is_public else self.public,
            status_counts=_bump(self.status_counts, info.status, 1),
        )
        index = index.with_role(contract, owner, CREATOR)
        for user, role in roles:
            index = index.with_role(contract, user, role)
        return index

    def forget(self, contract: Principal) -> ContractIndex:
        """Remove a contract and every index entry that names it."""
        info = self.contracts.get(contract)
        if info is None:
            return self
        index = self
        for user, roles in self.members_of(info).items():
            for role in roles:
                index = index.without_role(contract, user, role)
        return attrs.evolve(
            index,
            contracts=index.contracts.delete(contract),
            ids=index.ids.set(info.seq, None),
            public=index.public.discard(info.seq),
            auto_update=index.auto_update.discard(info.seq),
            status_counts=_bump(index.status_counts, info.status, -1),
        )

    def with_role(self, contract: Principal, user: Principal, role: str) -> ContractIndex:
        """``user`` holds ``role`` in ``contract``; the same index if it already did."""
        info = self.contracts[contract]
        seq = info.seq
        members = self.members.get(seq, _NO_MEMBERS)
        held = members.get(user, ())
        if role in held:
            return self
        key = (role, user)
        changes: dict[str, Any] = {
            "members": self.members.set(seq, members.set(user, tuple(sorted((*held, role))))),
            "by_role": self.by_role.set(key, self.by_role.get(key, _NO_CONTRACTS).add(seq)),
        }
        if not held:
            changes["by_user"] = self.by_user.set(user, self.contracts_of(user).add(seq))
        if role != CREATOR:
            counted = attrs.evolve(info, role_counts=_bump(info.role_counts, role, 1))
            changes["contracts"] = self.contracts.set(contract, counted)
        return attrs.evolve(self, **changes)

    def without_role(self, contract: Principal, user: Principal, role: str) -> ContractIndex:
        """``user`` no longer holds ``role`` in ``contract``; the same index if it did not."""
        info = self.contracts[contract]
        seq = info.seq
        members = self.members.get(seq, _NO_MEMBERS)
        held = members.get(user, ())
        if role not in held:
            return self
        rest = tuple(r for r in held if r != role)
        members = members.set(user, rest) if rest else members.delete(user)
        key = (role, user)
        with_role = self.by_role[key].discard(seq)
        changes: dict[str, Any] = {
            "members": self.members.set(seq, members) if members else self.members.delete(seq),
            "by_role": self.by_role.set(key, with_role) if with_role else self.by_role.delete(key),
        }
        if not rest:
            remaining = self.by_user[user].discard(seq)
            changes["by_user"] = (
                self.by_user.set(user, remaining) if remaining else self.by_user.delete(user)
            )
        if role != CREATOR:
            counted = attrs.evolve(info, role_counts=_bump(info.role_counts, role, -1))
            changes["contracts"] = self.contracts.set(contract, counted)
        return attrs.evolve(self, **changes)

    def with_visibility(self, contract: Principal, is_public: bool) -> ContractIndex:
        info = self.contracts[contract]
        if info.is_public == is_public:
            return self
        return attrs.evolve(
            self,
            contracts=self.contracts.set(contract, attrs.evolve(info, is_public=is_public)),
            public=self.public.add(info.seq) if is_public else self.public.discard(info.seq),
        )

    def with_status(self, contract: Principal, status: str) -> ContractIndex:
        info = self.contracts[contract]
        if info.status == status:
            return self
        counts = _bump(_bump(self.status_counts, info.status, -1), status, 1)
        return attrs.evolve(
            self,
            contracts=self.contracts.set(contract, attrs.evolve(info, status=status)),
            status_counts=counts,
        )

    def with_auto_update(self, contract: Principal, enabled: bool) -> ContractIndex:
        info = self.contracts[contract]
        if info.auto_update == enabled:
            return self
        seq = info.seq
        return attrs.evolve(
            self,
            contracts=self.contracts.set(contract, attrs.evolve(info, auto_update=enabled)),
            auto_update=self.auto_update.add(seq) if enabled else self.auto_update.discard(seq),
        )

    def with_fields(self, contract: Principal, **changes: Any) -> ContractIndex:
        """A copy with plain fields of one contract's info changed (``version``, ``detached``,
        ``details``, ``name``); indexed fields have their own methods."""
        indexed = {"status", "is_public", "auto_update", "role_counts", "seq", "id", "owner"}
        if wrong := indexed.intersection(changes):
            raise ValueError(f"{sorted(wrong)} are indexed: use their own with_* method")
        info = attrs.evolve(self.contracts[contract], **changes)
        return attrs.evolve(self, contracts=self.contracts.set(contract, info))


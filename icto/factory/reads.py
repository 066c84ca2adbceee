"""The factory's reads: users query the factory directly; O(1) lookups plus O(page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from icto.collections import SortedMap, SortedSet
from icto.factory.base import (
    FactoryBase,
    check_page,
)
from icto.factory.types import (
    CREATOR,
    DEFAULT_PAGE,
    MAX_PAGE,
    ContractEntry,
    ContractInfo,
    FactoryHealth,
    FactoryStats,
    Page,
    make_page,
)
from icto.ic.canister import query
from icto.ic.principal import Principal

T = TypeVar("T")


class FactoryReads(FactoryBase):
    """Listings by user, role and visibility, with privacy: a private contract exists only for
    its owner, its role holders and the factory's admins."""

    # -- reads --------------------------------------------------------------------------------

    def _page(
        self,
        seqs: SortedSet[int] | SortedMap[int, Any],
        offset: int,
        limit: int,
        item: Callable[[ContractInfo], T],
        trusted: bool,
    ) -> Page[T]:
        """A page of ``seqs``: O(log k + page) for trusted viewers (the user themselves, admins).

        Anyone else sees only the contracts they may see, with offsets counted over those alone
        and no total, so neither the total nor the positions reveal private contracts; that costs
        a scan of the list from its start."""
        check_page(offset, limit)
        index = self.state.index
        if trusted:
            items = tuple(item(index.at(seq)) for seq in seqs.page(offset, limit))
            end = offset + len(items)
            return make_page(items, len(seqs), end if end < len(seqs) else None)
        viewer = self.caller
        found: list[T] = []
        skipped = 0
        for seq in seqs:
            info = index.at(seq)
            if not self._may_see(info, viewer):
                continue
            if skipped < offset:
                skipped += 1
            elif len(found) == limit:
                return Page(tuple(found), None, offset + limit)
            else:
                found.append(item(info))
        return Page(tuple(found), None, None)

    def _trusted_for(self, user: Principal) -> bool:
        return self.caller == user or self._is_admin(self.caller)

    @query
    def get_my_contracts(
        self, user: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractEntry]:
        """The contracts ``user`` created or holds any role in, oldest first, each with the
        user's roles. O(log k + page) for the user asking about themselves (and admins): the
        page comes straight from the user's list in the index."""
        index = self.state.index
        caller = self.caller
        if caller is user or caller == user or self._is_admin(caller):
            if not (
                type(offset) is int and type(limit) is int and offset >= 0 and 0 < limit <= MAX_PAGE
            ):
                check_page(offset, limit)
            return index.page_of(user, offset, limit)
        return self._page(
            index.contracts_of(user), offset, limit,
            lambda info: ContractEntry(info, index.roles_of(user, info)),
            False,
        )  # fmt: skip

    @query
    def get_contracts_by_role(
        self, user: Principal, role: str, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        if role != CREATOR:
            self._known_role(role)
        seqs = self.state.index.contracts_with_role(role, user)
        return self._page(seqs, offset, limit, _same, self._trusted_for(user))

    @query
    def get_created_contracts(
        self, user: Principal, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        seqs = self.state.index.contracts_with_role(CREATOR, user)
        return self._page(seqs, offset, limit, _same, self._trusted_for(user))

    @query
    def get_public_contracts(
        self, offset: int = 0, limit: int = DEFAULT_PAGE
    ) -> Page[ContractInfo]:
        return self._page(self.state.index.public, offset, limit, _same, True)

    @query
    def get_contract_info(self, contract: Principal) -> ContractInfo | None:
        """The contract's info; ``None`` if it is not ours, or private and not the caller's."""
        return self._visible_info(contract)

    @query
    def get_stats(self) -> FactoryStats:
        state = self.state
        counters = state.counters
        return FactoryStats(
            kind=self.KIND,
            contracts=len(state.index),
            public_contracts=len(state.index.public),
            deployed=counters.deployed,
            failed_deployments=counters.failed_deployments,
            by_status=tuple(sorted(state.index.status_counts.items())),
            access_denied=counters.access_denied,
            upgrades=counters.upgrades,
            failed_upgrades=counters.failed_upgrades,
            paused=state.paused,
        )

    @query
    def health(self) -> FactoryHealth:
        state = self.state
        issues = []
        if state.paused:
            issues.append("paused")
        left = self._deployments_left()
        if left < 1:
            issues.append("not enough cycles for one more contract")
        if not state.backends:
            issues.append("no backend is whitelisted")
        if state.failed_cleanups:
            issues.append(f"{len(state.failed_cleanups)} failed deployments to clean up")
        return FactoryHealth(
            healthy=not issues,
            paused=state.paused,
            cycles=self.cycles_balance,
            latest_stable=state.latest_stable,
            backends=len(state.backends),
            issues=tuple(issues),
            deployments_left=left,
            kind=self.KIND,
            contracts=len(state.index),
            version=self.VERSION,
        )


def _same(info: ContractInfo) -> ContractInfo:
    return info

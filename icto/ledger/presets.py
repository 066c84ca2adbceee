"""Ready-made ledgers: the ICP ledger at its mainnet id, and ``deploy_ledger`` for any token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from icto.ic.account import Account
from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.proxy import CanisterProxy
from icto.ledger.ledger import Ledger
from icto.ledger.types import LedgerInit


def deploy_ledger(
    ic: IC,
    init: LedgerInit,
    canister_id: Principal | None = None,
    controllers: Iterable[Principal] | None = None,
    caller: Principal | None = None,
) -> CanisterProxy:
    """Create and install a ledger canister (pinned at ``canister_id`` if given); return a proxy."""
    if not isinstance(init, LedgerInit):
        raise TypeError(f"init must be a LedgerInit, not {type(init).__name__}")
    return ic.deploy(
        Ledger,
        init,
        controllers=None if controllers is None else tuple(controllers),
        caller=caller,
        canister_id=canister_id,
    )


@attrs.frozen
class LedgerPreset:
    """A well-known ledger: its parameters and where it lives."""

    name: str
    symbol: str
    decimals: int
    fee: int
    max_memo_length: int
    canister_id: Principal

    def init(
        self, minting_account: Account, initial_balances: Iterable[tuple[Account, int]] = ()
    ) -> LedgerInit:
        return LedgerInit(
            name=self.name,
            symbol=self.symbol,
            decimals=self.decimals,
            transfer_fee=self.fee,
            minting_account=minting_account,
            initial_balances=tuple(initial_balances),
            max_memo_length=self.max_memo_length,
        )

    def deploy(
        self,
        ic: IC,
        minting_account: Account,
        initial_balances: Iterable[tuple[Account, int]] = (),
        controllers: Iterable[Principal] | None = None,
    ) -> CanisterProxy:
        """Deploy this ledger at its own canister id."""
        return deploy_ledger(
            ic, self.init(minting_account, initial_balances), self.canister_id, controllers
        )


ICP: Final = LedgerPreset(
    name="Internet Computer",
    symbol="ICP",
    decimals=8,
    fee=10_000,
    max_memo_length=32,
    canister_id=Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai"),
)
"""The ICP ledger: 8 decimals, fee 10_000 e8s, at ``ryjl3-tyaaa-aaaaa-aaaba-cai`` as on mainnet."""

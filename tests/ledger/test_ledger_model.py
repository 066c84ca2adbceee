"""Random transfers, approvals, transfer_froms, mints, burns and time steps against a plain model.

The model keeps balances and allowances in dicts and predicts every result with the few rules that
matter for these operations (fee burned, allowance before funds, expiry at ``now`` is expired,
minimum burn). Invariants: total supply equals the sum of balances, no balance is negative, and
block indices are consecutive.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from icto import (
    E8S,
    IC,
    U64_MAX,
    Account,
    AllowanceArgs,
    ApproveArgs,
    BadBurn,
    Err,
    Expired,
    InsufficientAllowance,
    InsufficientFunds,
    LedgerInit,
    Ok,
    Principal,
    TransferArgs,
    TransferFromArgs,
    deploy_ledger,
)

FEE = 10_000
OWNERS = [Principal.from_name(name) for name in ("ann", "ben", "cat")]
SUBACCOUNTS = [None, bytes(31) + b"\x01"]
ACCOUNTS = [Account(owner, sub) for owner in OWNERS for sub in SUBACCOUNTS]
MINTER = Account(Principal.from_name("mint"))

accounts = st.sampled_from(ACCOUNTS)
amounts = st.one_of(st.integers(0, 3 * FEE), st.integers(0, 2 * E8S))


class LedgerAgainstModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ic = IC(trace=False)
        genesis = {account: E8S for account in ACCOUNTS[::2]}
        init = LedgerInit(
            name="Model", symbol="MDL", transfer_fee=FEE, minting_account=MINTER,
            initial_balances=tuple(genesis.items()),
        )  # fmt: skip
        self.ledger = deploy_ledger(self.ic, init)
        self.balances = {account: genesis.get(account, 0) for account in ACCOUNTS}
        self.allowances: dict[tuple[Account, Account], tuple[int, int | None]] = {}
        self.blocks = len(genesis)

    def _allowance(self, source: Account, spender: Account) -> int:
        amount, expires_at = self.allowances.get((source, spender), (0, None))
        return 0 if expires_at is not None and expires_at <= self.ic.time else amount

    def _expect(self, result: object, expected: object) -> None:
        if isinstance(expected, Ok):
            assert result == Ok(self.blocks), result
            self.blocks += 1
        else:
            assert result == expected, (result, expected)

    @rule(source=accounts, to=accounts, amount=amounts)
    def transfer(self, source: Account, to: Account, amount: int) -> None:
        balance = self.balances[source]
        args = TransferArgs(to=to, amount=amount, from_subaccount=source.subaccount)
        result = self.ledger.as_caller(source.owner).icrc1_transfer(args)
        if balance < amount + FEE:
            self._expect(result, Err(InsufficientFunds(balance)))
            return
        self.balances[source] -= amount + FEE
        self.balances[to] += amount
        self._expect(result, Ok(None))

    @rule(source=accounts, spender=accounts, amount=amounts, ttl=st.none() | st.integers(-5, 50))
    def approve(self, source: Account, spender: Account, amount: int, ttl: int | None) -> None:
        if spender.owner == source.owner:
            return  # self-approval traps; covered by the approve tests
        expires_at = None if ttl is None else self.ic.time + ttl
        args = ApproveArgs(
            spender=spender, amount=amount, from_subaccount=source.subaccount, expires_at=expires_at
        )
        result = self.ledger.as_caller(source.owner).icrc2_approve(args)
        balance = self.balances[source]
        if balance < FEE:
            self._expect(result, Err(InsufficientFunds(balance)))
        elif expires_at is not None and expires_at <= self.ic.time:
            self._expect(result, Err(Expired(self.ic.time)))
        else:
            self.balances[source] -= FEE
            self.allowances[(source, spender)] = (min(amount, U64_MAX), expires_at)
            self._expect(result, Ok(None))

    @rule(source=accounts, spender=accounts, to=accounts, amount=amounts)
    def transfer_from(self, source: Account, spender: Account, to: Account, amount: int) -> None:
        args = TransferFromArgs(
            from_=source, to=to, amount=amount, spender_subaccount=spender.subaccount
        )
        result = self.ledger.as_caller(spender.owner).icrc2_transfer_from(args)
        own = spender == source
        allowed = self._allowance(source, spender)
        if not own and allowed < amount + FEE:
            self._expect(result, Err(InsufficientAllowance(allowed)))
            return
        if self.balances[source] < amount + FEE:
            self._expect(result, Err(InsufficientFunds(self.balances[source])))
            return
        if not own:
            _, expires_at = self.allowances[(source, spender)]
            left = allowed - amount - FEE
            if left:
                self.allowances[(source, spender)] = (left, expires_at)
            else:
                del self.allowances[(source, spender)]
        self.balances[source] -= amount + FEE
        self.balances[to] += amount
        self._expect(result, Ok(None))

    @rule(to=accounts, amount=amounts)
    def mint(self, to: Account, amount: int) -> None:
        args = TransferArgs(to=to, amount=amount)
        result = self.ledger.as_caller(MINTER.owner).icrc1_transfer(args)
        self.balances[to] += amount
        self._expect(result, Ok(None))

    @rule(source=accounts, amount=amounts)
    def burn(self, source: Account, amount: int) -> None:
        args = TransferArgs(to=MINTER, amount=amount, from_subaccount=source.subaccount)
        result = self.ledger.as_caller(source.owner).icrc1_transfer(args)
        balance = self.balances[source]
        min_burn = min(FEE, balance)
        if amount < min_burn:
            self._expect(result, Err(BadBurn(min_burn)))
        elif amount == 0:
            self._expect(result, Err(BadBurn(FEE)))
        elif balance < amount:
            self._expect(result, Err(InsufficientFunds(balance)))
        else:
            self.balances[source] -= amount
            self._expect(result, Ok(None))

    @rule(nanos=st.integers(0, 60))
    def advance_time(self, nanos: int) -> None:
        self.ic.advance_time(nanos=nanos)

    @invariant()
    def books_balance(self) -> None:
        observed = {a: self.ledger.icrc1_balance_of(a) for a in ACCOUNTS}
        assert observed == self.balances
        assert all(balance >= 0 for balance in observed.values())
        assert self.ledger.icrc1_total_supply() == sum(observed.values())
        assert self.ledger.icrc1_balance_of(MINTER) == 0

    @invariant()
    def allowances_match(self) -> None:
        for source in ACCOUNTS[:3]:
            for spender in ACCOUNTS[3:]:
                allowance = self.ledger.icrc2_allowance(AllowanceArgs(source, spender))
                assert allowance.allowance == self._allowance(source, spender)

    @invariant()
    def block_indices_are_consecutive(self) -> None:
        assert self.ledger.get_transaction_count() == self.blocks


LedgerAgainstModel.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
TestLedgerAgainstModel = LedgerAgainstModel.TestCase

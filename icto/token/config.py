"""``TokenConfig`` and the one function that says whether it is valid.

The backend (before taking any payment), the Token Factory (before deploying) and the token's own
``init`` all call ``validate_token_config``: one rule, one place. A config found valid is
remembered (by identity, see ``icto.validation.memo``), so the same value handed from canister to
canister in one deployment is checked in full once.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.ledger.types import U64_MAX
from icto.validation import IdentityMemo, identified_problem, is_nat, pairs, text_problem

NAME_LENGTH: Final = (3, 32)
SYMBOL_LENGTH: Final = (2, 8)
MAX_DECIMALS: Final = 18
MAX_LOGO_BYTES: Final = 30 * 1024
MAX_MEMO_LENGTH: Final = 256
MAX_DESCRIPTION: Final = 1000
MAX_INITIAL_BALANCES: Final = 10_000

_SYMBOL: Final = re.compile(r"^[A-Za-z0-9]+$")
_VALID: Final[IdentityMemo[bool]] = IdentityMemo(256)
"""(config, owner) objects found valid. Only "valid" is stored: a valid ``TokenConfig`` is made of
immutable parts only (text, ints, bools, ``Account``, tuples), so it stays valid; an invalid one
is checked again each time."""


@attrs.frozen(kw_only=True)
class TokenConfig:
    """What a user asks the Token Factory to deploy: an ICRC-1/2 ledger.

    Building one never fails on values; ``validate_token_config`` lists what is wrong.
    ``minting_account=None`` means the owner's default account. Total supply is the sum of
    ``initial_balances``.
    """

    name: str
    symbol: str
    decimals: int = 8
    transfer_fee: int = 10_000
    initial_balances: tuple[tuple[Account, int], ...] = attrs.field(default=(), converter=pairs)
    minting_account: Account | None = None
    fee_collector: Account | None = None
    logo: str | None = None
    max_memo_length: int = 80
    is_public: bool = True
    description: str = ""

    def minting_account_for(self, owner: Principal) -> Account:
        return self.minting_account if self.minting_account is not None else Account(owner)

    @property
    def total_supply(self) -> int:
        return sum(amount for _, amount in self.initial_balances)


def _logo_problem(logo: object) -> str | None:
    """A logo is one line of text (a data URL) of at most ``MAX_LOGO_BYTES`` in UTF-8."""
    problem = text_problem("logo", logo, 0, MAX_LOGO_BYTES)
    if problem is None and len(str(logo).encode()) > MAX_LOGO_BYTES:
        problem = f"logo must be at most {MAX_LOGO_BYTES} bytes in UTF-8"
    return problem


def validate_token_config(config: object, owner: Principal | None = None) -> tuple[str, ...]:
    """Every reason ``config`` cannot be deployed (for ``owner``, if given); empty if valid.
    The same (config, owner) objects found valid before are not checked again."""
    if _VALID.get(config, owner):
        return ()
    reasons = _problems(config, owner)
    if not reasons:
        _VALID.put(True, config, owner)
    return reasons


def _problems(config: object, owner: Principal | None) -> tuple[str, ...]:
    if not isinstance(config, TokenConfig):
        return (f"expected a TokenConfig, got {type(config).__name__}",)
    reasons = []
    owner_problem = None if owner is None else identified_problem(owner, "owner")
    for problem in (
        owner_problem,
        text_problem("name", config.name, *NAME_LENGTH),
        text_problem("symbol", config.symbol, *SYMBOL_LENGTH),
        text_problem("description", config.description, 0, MAX_DESCRIPTION, multiline=True),
        None if config.logo is None else _logo_problem(config.logo),
    ):
        if problem:
            reasons.append(problem)
    if isinstance(config.symbol, str) and not _SYMBOL.match(config.symbol):
        reasons.append("symbol must use only the ASCII letters and digits")
    if not is_nat(config.decimals) or config.decimals > MAX_DECIMALS:
        reasons.append(f"decimals must be an int from 0 to {MAX_DECIMALS}")
    if not is_nat(config.transfer_fee) or config.transfer_fee > U64_MAX:
        reasons.append("transfer_fee must be an int from 0 to 2**64 - 1")
    if not is_nat(config.max_memo_length) or config.max_memo_length > MAX_MEMO_LENGTH:
        reasons.append(f"max_memo_length must be an int from 0 to {MAX_MEMO_LENGTH}")
    is_public: object = config.is_public
    if not isinstance(is_public, bool):
        reasons.append("is_public must be a bool")
    for field, role in (("minting_account", "minter"), ("fee_collector", "fee collector")):
        value = getattr(config, field)
        if value is None:
            continue
        if not isinstance(value, Account):
            reasons.append(f"{field} must be an Account or None")
        elif problem := identified_problem(value.owner, role):
            reasons.append(problem)
    reasons.extend(_balance_problems(config, owner))
    return tuple(reasons)


def _balance_problems(config: TokenConfig, owner: Principal | None) -> list[str]:
    balances = config.initial_balances
    if not isinstance(balances, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Account)
        and is_nat(pair[1])
        for pair in balances
    ):  # fmt: skip
        return ["initial_balances must be (Account, amount >= 0) pairs"]
    problems = []
    holders = (identified_problem(account.owner, "initial holder") for account, _ in balances)
    unheld = next((problem for problem in holders if problem), None)
    if unheld:
        problems.append(unheld)
    if len(balances) > MAX_INITIAL_BALANCES:
        problems.append(f"at most {MAX_INITIAL_BALANCES} initial balances, got {len(balances)}")
    accounts = [account.normalized() for account, _ in balances]
    if len(set(accounts)) != len(accounts):
        problems.append("initial_balances name an account more than once")
    if sum(amount for _, amount in balances) > U64_MAX:
        problems.append("the total supply must fit in 64 bits")
    minting = config.minting_account
    if minting is None and owner is not None and isinstance(owner, Principal):
        minting = Account(owner)
    if isinstance(minting, Account):
        if minting.normalized() in accounts:
            problems.append(
                "the minting account (by default the owner's default account) cannot hold an "
                "initial balance: use another subaccount, or set minting_account"
            )
        collector = config.fee_collector
        if isinstance(collector, Account) and collector.normalized() == minting.normalized():
            problems.append("the fee collector cannot be the minting account")
    return problems

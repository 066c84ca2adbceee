"""Metadata, supported standards, the ICP preset and deploy_ledger, free queries, upgrades.

References: icrc.md §1.2 (queries), §2.11 (metadata, supported standards); ledger.md "Init".
"""

from __future__ import annotations

from typing import Any

import pytest

import icto
from icto import (
    E8S,
    IC,
    ICP,
    Account,
    Allowance,
    AllowanceArgs,
    ApproveArgs,
    CallRejected,
    Duplicate,
    Err,
    Ledger,
    LedgerInit,
    Ok,
    Principal,
    RejectCode,
    TransferArgs,
    TransferFromArgs,
    deploy_ledger,
)
from icto.ic.proxy import CanisterProxy
from tests.helpers import rejected
from tests.ledger.conftest import FEE
from tests.ledger.helpers import make_init, owner_books

ALICE_START = 10 * E8S
BOB_START = 1 * E8S
ZERO_SUB = bytes(32)
SUB1 = bytes(31) + b"\x01"
PINNED = Principal.from_canister_index(4242)


# -- ICRC-1 queries -------------------------------------------------------------------------------


def test_basic_queries_return_the_init_values(ledger: CanisterProxy, minter: Principal) -> None:
    assert ledger.icrc1_name() == "Test Token"
    assert ledger.icrc1_symbol() == "TST"
    assert ledger.icrc1_decimals() == 8
    assert ledger.icrc1_fee() == FEE
    minting = ledger.icrc1_minting_account()
    assert minting == Account(minter)
    assert minting.owner == minter
    assert ledger.icrc1_total_supply() == ALICE_START + BOB_START


def test_supported_standards_name_icrc1_and_icrc2(ledger: CanisterProxy) -> None:
    names = [record.name for record in ledger.icrc1_supported_standards()]
    assert "ICRC-1" in names
    assert "ICRC-2" in names
    assert len(names) == len(set(names))


def test_metadata_publishes_the_standard_keys_with_the_endpoint_values(
    ledger: CanisterProxy,
) -> None:
    metadata = ledger.icrc1_metadata()
    keys = [key for key, _ in metadata]
    assert len(keys) == len(set(keys))
    values = dict(metadata)
    assert values["icrc1:decimals"] == ledger.icrc1_decimals() == 8
    assert type(values["icrc1:decimals"]) is int
    assert values["icrc1:name"] == ledger.icrc1_name() == "Test Token"
    assert values["icrc1:symbol"] == ledger.icrc1_symbol() == "TST"
    assert values["icrc1:fee"] == ledger.icrc1_fee() == FEE
    assert type(values["icrc1:fee"]) is int
    assert values["icrc1:max_memo_length"] == 32


def test_metadata_follows_a_custom_init(ic: IC, minter: Principal) -> None:
    token = deploy_ledger(ic, make_init(minter, decimals=3, max_memo_length=80))
    values = dict(token.icrc1_metadata())
    assert values["icrc1:decimals"] == token.icrc1_decimals() == 3
    assert values["icrc1:name"] == "Meta Token"
    assert values["icrc1:symbol"] == "MTA"
    assert values["icrc1:fee"] == token.icrc1_fee() == 2_500
    assert values["icrc1:max_memo_length"] == 80


def test_user_metadata_comes_first_in_the_order_given(ic: IC, minter: Principal) -> None:
    user = (("icrc1:logo", "data:image/png;base64,AAAA"), ("acme:rank", 7), ("acme:blob", b"\x00"))
    token = deploy_ledger(ic, make_init(minter, metadata=user))
    metadata = token.icrc1_metadata()
    assert metadata[:3] == user
    keys = [key for key, _ in metadata]
    assert len(keys) == len(set(keys))
    assert {"icrc1:decimals", "icrc1:name", "icrc1:symbol", "icrc1:fee"} <= set(keys[3:])


def test_user_metadata_may_be_given_as_a_dict(ic: IC, minter: Principal) -> None:
    token = deploy_ledger(ic, make_init(minter, metadata={"acme:x": "y"}))
    assert token.icrc1_metadata()[0] == ("acme:x", "y")


@pytest.mark.parametrize(
    "key",
    ["icrc1:decimals", "icrc1:name", "icrc1:symbol", "icrc1:fee", "icrc1:max_memo_length"],
)
def test_reserved_metadata_keys_make_install_fail_and_leave_no_canister(
    ic: IC, minter: Principal, key: str
) -> None:
    init = make_init(minter, metadata=((key, 1),))
    canisters_before = len(ic.snapshot().canisters)
    with pytest.raises(CallRejected) as info:
        deploy_ledger(ic, init, canister_id=PINNED)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert key in info.value.message
    assert not ic.canister_exists(PINNED)
    assert len(ic.snapshot().canisters) == canisters_before
    # the id is still free
    assert deploy_ledger(ic, make_init(minter), canister_id=PINNED).id == PINNED


def test_duplicate_user_metadata_keys_make_install_fail(ic: IC, minter: Principal) -> None:
    init = make_init(minter, metadata=(("acme:x", 1), ("acme:x", 2)))
    with pytest.raises(CallRejected) as info:
        deploy_ledger(ic, init, canister_id=PINNED)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert not ic.canister_exists(PINNED)


def test_decimals_default_to_8(ic: IC, minter: Principal) -> None:
    init = make_init(minter)
    assert init.decimals == 8
    assert deploy_ledger(ic, init).icrc1_decimals() == 8


@pytest.mark.parametrize("decimals", [0, 18, 255])
def test_decimals_up_to_255_are_accepted(ic: IC, minter: Principal, decimals: int) -> None:
    assert deploy_ledger(ic, make_init(minter, decimals=decimals)).icrc1_decimals() == decimals


@pytest.mark.parametrize(
    "decimals, error", [(256, ValueError), (-1, ValueError), (8.0, TypeError), (True, TypeError)]
)
def test_decimals_outside_nat8_are_refused_at_init_construction(
    minter: Principal, decimals: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_init(minter, decimals=decimals)


# -- the ICP preset and deploy_ledger -------------------------------------------------------------


def test_e8s_is_ten_to_the_eighth() -> None:
    assert icto.E8S == E8S == 100_000_000


def test_icp_preset_deploys_the_icp_ledger_at_its_mainnet_id(
    ic: IC, minter: Principal, alice: Principal
) -> None:
    icp = ICP.deploy(ic, Account(minter), [(Account(alice), 5 * E8S)])
    assert icp.id == Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai") == ICP.canister_id
    assert icp.icrc1_name() == "Internet Computer"
    assert icp.icrc1_symbol() == "ICP"
    assert icp.icrc1_decimals() == 8
    assert icp.icrc1_fee() == 10_000
    assert icp.icrc1_minting_account() == Account(minter)
    assert icp.icrc1_balance_of(Account(alice)) == 5 * E8S
    assert icp.icrc1_total_supply() == 5 * E8S
    assert dict(icp.icrc1_metadata())["icrc1:max_memo_length"] == 32
    assert icp.get_transaction_count() == 1
    assert ic.code_of(icp.id) is Ledger


def test_deploying_icp_twice_on_one_ic_fails_and_keeps_the_first(
    ic: IC, minter: Principal, alice: Principal
) -> None:
    icp = ICP.deploy(ic, Account(minter), [(Account(alice), 5 * E8S)])
    canisters_before = len(ic.snapshot().canisters)
    with pytest.raises(CallRejected) as info:
        ICP.deploy(ic, Account(minter), [(Account(alice), 99 * E8S)])
    assert info.value.error_code == "IC0538"
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert len(ic.snapshot().canisters) == canisters_before
    assert icp.icrc1_balance_of(Account(alice)) == 5 * E8S
    assert icp.get_transaction_count() == 1


def test_deploy_ledger_pins_the_canister_id(ic: IC, minter: Principal) -> None:
    token = deploy_ledger(ic, make_init(minter), canister_id=PINNED)
    assert token.id == PINNED
    assert ic.canister_exists(PINNED)
    assert token.icrc1_symbol() == "MTA"


@pytest.mark.parametrize("bad", [None, {"name": "X"}, ("X", "X", 8, 0)])
def test_deploy_ledger_requires_a_ledger_init(ic: IC, bad: Any) -> None:
    canisters_before = len(ic.snapshot().canisters)
    with pytest.raises(TypeError):
        deploy_ledger(ic, bad)
    assert len(ic.snapshot().canisters) == canisters_before


def test_installing_the_ledger_class_without_a_ledger_init_traps(ic: IC) -> None:
    with pytest.raises(CallRejected) as info:
        ic.deploy(Ledger, {"name": "X"}, canister_id=PINNED)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert not ic.canister_exists(PINNED)


# -- queries are free -----------------------------------------------------------------------------


def test_a_query_call_is_free_and_changes_nothing(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    cycles = ic.cycles_balance(ledger.id)
    state = ic.state_of(ledger.id)
    before = owner_books(ledger, alice, bob)
    assert ic.query_call(ledger.id, "icrc1_balance_of", Account(alice)) == ALICE_START
    assert ic.query_call(ledger.id, "icrc1_total_supply") == ALICE_START + BOB_START
    assert ic.query_call(ledger.id, "get_blocks", 0, 10) == ledger.get_blocks(0, 10)
    assert ic.cycles_balance(ledger.id) == cycles
    assert ic.state_of(ledger.id) is state
    assert owner_books(ledger, alice, bob) == before


def test_an_update_method_cannot_be_sent_as_a_query(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    before = owner_books(ledger, alice, bob)
    with pytest.raises(CallRejected) as info:
        ic.query_call(
            ledger.id, "icrc1_transfer", TransferArgs(to=Account(bob), amount=1), caller=alice
        )
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert owner_books(ledger, alice, bob) == before
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=1)) == Ok(2)


def test_balance_of_normalises_the_default_subaccount(
    ledger: CanisterProxy, alice: Principal
) -> None:
    assert ledger.icrc1_balance_of(Account(alice, ZERO_SUB)) == ALICE_START
    assert ledger.icrc1_balance_of(Account(alice, SUB1)) == 0


# -- upgrade --------------------------------------------------------------------------------------


def test_upgrade_keeps_balances_blocks_allowances_and_dedup(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    cat = ic.time
    transfer = TransferArgs(to=Account(bob), amount=123, created_at_time=cat)
    assert ledger.as_caller(alice).icrc1_transfer(transfer) == Ok(2)
    expires = ic.time + 10**12
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol), amount=50_000, expires_at=expires)
    ) == Ok(3)
    before = owner_books(ledger, alice, bob, carol)
    blocks = ledger.get_blocks(0, 100)
    metadata = ledger.icrc1_metadata()

    ic.upgrade_canister(ledger.id, Ledger)

    assert owner_books(ledger, alice, bob, carol) == before
    assert ledger.get_blocks(0, 100) == blocks
    assert ledger.icrc1_metadata() == metadata
    assert ledger.icrc2_allowance(AllowanceArgs(Account(alice), Account(carol))) == Allowance(
        50_000, expires
    )
    assert ledger.as_caller(alice).icrc1_transfer(transfer) == Err(Duplicate(2))
    assert ledger.as_caller(carol).icrc2_transfer_from(
        TransferFromArgs(from_=Account(alice), to=Account(carol), amount=1_000)
    ) == Ok(4)
    assert ledger.icrc1_balance_of(Account(carol)) == 1_000
    assert ledger.icrc2_allowance(AllowanceArgs(Account(alice), Account(carol))) == Allowance(
        50_000 - 1_000 - FEE, expires
    )
    assert ledger.icrc1_balance_of(Account(alice)) == ALICE_START - 123 - 3 * FEE - 1_000


@pytest.mark.parametrize("arg", ["init", "junk"])
def test_a_ledger_upgrade_argument_is_refused_and_the_upgrade_rolled_back(
    ic: IC, ledger: CanisterProxy, minter: Principal, arg: str
) -> None:
    """An upgrade takes no argument: a ``LedgerInit`` with another fee was dropped without a
    word (the fee stayed); it is refused, code and state as before."""
    given = LedgerInit(
        name="Other", symbol="OTH", transfer_fee=1, minting_account=Account(minter)
    ) if arg == "init" else arg  # fmt: skip
    before = ic.state_of(ledger.id)
    refusal = rejected(lambda: ic.upgrade_canister(ledger.id, Ledger, given))
    assert "upgrade takes no argument" in refusal.message
    assert ic.state_of(ledger.id) == before
    assert ledger.icrc1_fee() == 10_000


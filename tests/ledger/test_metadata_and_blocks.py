"""Metadata, presets, deployment, the block log, queries and upgrades.

References: icrc.md §1.2 (queries), §2.7 (block indices), §2.11 (metadata, supported standards);
ledger.md "Init" and "Interface" (block log, ICP preset).
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
    Block,
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
from tests.ledger.conftest import FEE

ALICE_START = 10 * E8S
BOB_START = 1 * E8S
ZERO_SUB = bytes(32)
SUB1 = bytes(31) + b"\x01"
PINNED = Principal.from_canister_index(4242)


def make_init(minter: Principal, **overrides: Any) -> LedgerInit:
    fields: dict[str, Any] = {
        "name": "Meta Token",
        "symbol": "MTA",
        "transfer_fee": 2_500,
        "minting_account": Account(minter),
    }
    fields.update(overrides)
    return LedgerInit(**fields)


def books(ledger: CanisterProxy, *owners: Principal) -> tuple[Any, ...]:
    balances = tuple(ledger.icrc1_balance_of(Account(owner)) for owner in owners)
    allowances = tuple(
        ledger.icrc2_allowance(AllowanceArgs(Account(a), Account(b)))
        for a in owners
        for b in owners
        if a != b
    )
    return balances, allowances, ledger.icrc1_total_supply(), ledger.get_transaction_count()


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


# -- reprs ----------------------------------------------------------------------------------------


def test_block_repr_shows_accounts_as_text(ledger: CanisterProxy, alice: Principal) -> None:
    block = ledger.get_blocks(0, 1)[0]
    assert f"Account('{alice.to_text()}')" in repr(block)


def test_block_repr_shows_a_subaccount_in_icrc1_text(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob, SUB1), amount=5)
    ) == Ok(2)
    text = Account(bob, SUB1).to_text()
    assert text.startswith(bob.to_text() + "-")
    assert text.endswith(".1")
    assert f"Account('{text}')" in repr(ledger.get_blocks(2, 1)[0])


# -- the block log: slicing -----------------------------------------------------------------------


@pytest.fixture
def five_blocks(ledger: CanisterProxy, alice: Principal, bob: Principal) -> CanisterProxy:
    """Blocks 0, 1 genesis; 2, 3, 4 transfers of 1, 2, 3 from Alice to Bob."""
    for amount in (1, 2, 3):
        assert (
            ledger.as_caller(alice)
            .icrc1_transfer(TransferArgs(to=Account(bob), amount=amount))
            .is_ok
        )
    assert ledger.get_transaction_count() == 5
    return ledger


def test_transaction_count_counts_genesis_blocks(ledger: CanisterProxy) -> None:
    assert ledger.get_transaction_count() == 2


@pytest.mark.parametrize(
    "start, length, amounts",
    [
        (0, 5, [ALICE_START, BOB_START, 1, 2, 3]),
        (0, 2, [ALICE_START, BOB_START]),
        (2, 1, [1]),
        (1, 3, [BOB_START, 1, 2]),
        (3, 10, [2, 3]),
        (4, 1, [3]),
        (0, 0, []),
        (3, 0, []),
        (5, 1, []),
        (5, 0, []),
        (1000, 5, []),
    ],
)
def test_get_blocks_returns_exactly_the_existing_part_of_the_slice(
    five_blocks: CanisterProxy, start: int, length: int, amounts: list[int]
) -> None:
    blocks = five_blocks.get_blocks(start, length)
    assert [block.amount for block in blocks] == amounts
    assert all(isinstance(block, Block) for block in blocks)


def test_get_blocks_slices_agree_with_the_whole_log(five_blocks: CanisterProxy) -> None:
    whole = five_blocks.get_blocks(0, 5)
    for start in range(6):
        for length in range(7):
            assert five_blocks.get_blocks(start, length) == whole[start : start + length]


@pytest.mark.parametrize("start, length", [(-1, 1), (0, -1), (-5, -5), (-1, 0)])
def test_negative_start_or_length_traps_and_changes_nothing(
    five_blocks: CanisterProxy, alice: Principal, bob: Principal, start: int, length: int
) -> None:
    before = books(five_blocks, alice, bob)
    with pytest.raises(CallRejected) as info:
        five_blocks.get_blocks(start, length)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert books(five_blocks, alice, bob) == before
    assert five_blocks.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=1)
    ) == Ok(5)


@pytest.mark.parametrize("start, length", [("0", 1), (0, 1.0), (None, 1), (True, 1)])
def test_non_integer_get_blocks_arguments_are_rejected(
    five_blocks: CanisterProxy, alice: Principal, bob: Principal, start: Any, length: Any
) -> None:
    before = books(five_blocks, alice, bob)
    with pytest.raises(CallRejected) as info:
        five_blocks.get_blocks(start, length)
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert books(five_blocks, alice, bob) == before
    assert five_blocks.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(bob), amount=1)
    ) == Ok(5)


# -- the block log: what each kind records --------------------------------------------------------


def test_genesis_balances_are_mint_blocks_at_install_time(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    genesis = ic.time
    first, second = ledger.get_blocks(0, 2)
    for block, owner, amount in ((first, alice, ALICE_START), (second, bob, BOB_START)):
        assert block.kind == "mint"
        assert block.timestamp == genesis
        assert block.amount == amount
        assert block.from_ is None
        assert block.to == Account(owner)
        assert block.spender is None
        assert block.fee is None
        assert block.memo is None


def test_mint_block_records_to_amount_memo_and_no_from_or_fee(
    ic: IC, ledger: CanisterProxy, minter: Principal, carol: Principal
) -> None:
    ic.advance_time(seconds=17)
    cat = ic.time - 5
    args = TransferArgs(to=Account(carol, SUB1), amount=3 * E8S, memo=b"mint", created_at_time=cat)
    assert ledger.as_caller(minter).icrc1_transfer(args) == Ok(2)
    block = ledger.get_blocks(2, 1)[0]
    assert block == Block(
        "mint", ic.time, 3 * E8S, from_=None, to=Account(carol, SUB1), spender=None, fee=None,
        memo=b"mint", created_at_time=cat,
    )  # fmt: skip
    assert block.to.subaccount == SUB1


def test_burn_block_records_from_amount_and_no_to_or_fee(
    ic: IC, ledger: CanisterProxy, alice: Principal, minter: Principal
) -> None:
    ic.advance_time(minutes=3)
    assert ledger.as_caller(alice).icrc1_transfer(
        TransferArgs(to=Account(minter), amount=E8S, memo=b"")
    ) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "burn", ic.time, E8S, from_=Account(alice), to=None, spender=None, fee=None, memo=b"",
        created_at_time=None,
    )  # fmt: skip


def test_transfer_block_records_accounts_fee_memo_and_created_at_time(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    ic.advance_time(hours=2)
    cat = ic.time - 10**9
    args = TransferArgs(
        to=Account(bob, SUB1), amount=12_345, memo=b"\x01" * 32, created_at_time=cat
    )
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "transfer", ic.time, 12_345, from_=Account(alice), to=Account(bob, SUB1), spender=None,
        fee=FEE, memo=b"\x01" * 32, created_at_time=cat,
    )  # fmt: skip


def test_transfer_block_records_accounts_as_given(
    ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    """Account(p, 32 zero bytes) stays spelled that way in the block (None stays None)."""
    args = TransferArgs(to=Account(bob, ZERO_SUB), amount=7, from_subaccount=ZERO_SUB)
    assert ledger.as_caller(alice).icrc1_transfer(args) == Ok(2)
    assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=8)) == Ok(3)
    given, plain = ledger.get_blocks(2, 2)
    assert given.to.subaccount == ZERO_SUB
    assert given.from_.subaccount == ZERO_SUB
    assert plain.to.subaccount is None
    assert plain.from_.subaccount is None
    assert ledger.icrc1_balance_of(Account(bob)) == BOB_START + 15


def test_approve_block_records_spender_expected_allowance_expiry_and_fee(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    ic.advance_time(seconds=42)
    expires = ic.time + 3_600 * 10**9
    cat = ic.time
    args = ApproveArgs(
        spender=Account(carol, SUB1), amount=77_000, expected_allowance=0, expires_at=expires,
        memo=b"ap", created_at_time=cat,
    )  # fmt: skip
    assert ledger.as_caller(alice).icrc2_approve(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "approve", ic.time, 77_000, from_=Account(alice), to=None, spender=Account(carol, SUB1),
        fee=FEE, memo=b"ap", created_at_time=cat, expected_allowance=0, expires_at=expires,
    )  # fmt: skip


def test_approve_block_without_optional_fields(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol), amount=1)
    ) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "approve", ic.time, 1, from_=Account(alice), spender=Account(carol), fee=FEE,
    )  # fmt: skip
    block = ledger.get_blocks(2, 1)[0]
    assert (block.expected_allowance, block.expires_at, block.memo, block.created_at_time) == (
        None, None, None, None,
    )  # fmt: skip


def test_transfer_from_block_records_the_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol, SUB1), amount=E8S)
    ) == Ok(2)
    ic.advance_time(seconds=9)
    cat = ic.time
    args = TransferFromArgs(
        from_=Account(alice), to=Account(bob), amount=4_000, spender_subaccount=SUB1,
        memo=b"tf", created_at_time=cat,
    )  # fmt: skip
    assert ledger.as_caller(carol).icrc2_transfer_from(args) == Ok(3)
    assert ledger.get_blocks(3, 1)[0] == Block(
        "transfer_from", ic.time, 4_000, from_=Account(alice), to=Account(bob),
        spender=Account(carol, SUB1), fee=FEE, memo=b"tf", created_at_time=cat,
    )  # fmt: skip


def test_self_transfer_from_block_records_the_caller_as_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    args = TransferFromArgs(from_=Account(alice), to=Account(bob), amount=10)
    assert ledger.as_caller(alice).icrc2_transfer_from(args) == Ok(2)
    assert ledger.get_blocks(2, 1)[0] == Block(
        "transfer_from", ic.time, 10, from_=Account(alice), to=Account(bob),
        spender=Account(alice), fee=FEE,
    )  # fmt: skip


def test_burn_through_transfer_from_is_a_burn_block_with_the_spender(
    ic: IC, ledger: CanisterProxy, alice: Principal, carol: Principal, minter: Principal
) -> None:
    assert ledger.as_caller(alice).icrc2_approve(
        ApproveArgs(spender=Account(carol), amount=E8S)
    ) == Ok(2)
    args = TransferFromArgs(from_=Account(alice), to=Account(minter), amount=FEE)
    assert ledger.as_caller(carol).icrc2_transfer_from(args) == Ok(3)
    block = ledger.get_blocks(3, 1)[0]
    assert block == Block(
        "burn", ic.time, FEE, from_=Account(alice), to=None, spender=Account(carol), fee=None
    )
    assert block.spender is not None


def test_block_timestamps_follow_ic_time_at_each_call(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    times = []
    for step in (1, 60, 3_600, 86_400):
        ic.advance_time(seconds=step)
        times.append(ic.time)
        assert ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(bob), amount=1)).is_ok
    assert [block.timestamp for block in ledger.get_blocks(2, 4)] == times


def test_block_indices_are_consecutive_across_kinds(
    ledger: CanisterProxy, alice: Principal, bob: Principal, carol: Principal, minter: Principal
) -> None:
    results = [
        ledger.as_caller(minter).icrc1_transfer(TransferArgs(to=Account(carol), amount=E8S)),
        ledger.as_caller(alice).icrc1_transfer(TransferArgs(to=Account(minter), amount=FEE)),
        ledger.as_caller(alice).icrc2_approve(ApproveArgs(spender=Account(carol), amount=E8S)),
        ledger.as_caller(carol).icrc2_transfer_from(
            TransferFromArgs(from_=Account(alice), to=Account(bob), amount=1)
        ),
        ledger.as_caller(bob).icrc1_transfer(TransferArgs(to=Account(carol), amount=1)),
    ]
    assert results == [Ok(2), Ok(3), Ok(4), Ok(5), Ok(6)]
    kinds = [block.kind for block in ledger.get_blocks(0, 100)]
    assert kinds == ["mint", "mint", "mint", "burn", "approve", "transfer_from", "transfer"]
    assert ledger.get_transaction_count() == 7


# -- queries are free -----------------------------------------------------------------------------


def test_a_query_call_is_free_and_changes_nothing(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    cycles = ic.cycles_balance(ledger.id)
    state = ic.state_of(ledger.id)
    before = books(ledger, alice, bob)
    assert ic.query_call(ledger.id, "icrc1_balance_of", Account(alice)) == ALICE_START
    assert ic.query_call(ledger.id, "icrc1_total_supply") == ALICE_START + BOB_START
    assert ic.query_call(ledger.id, "get_blocks", 0, 10) == ledger.get_blocks(0, 10)
    assert ic.cycles_balance(ledger.id) == cycles
    assert ic.state_of(ledger.id) is state
    assert books(ledger, alice, bob) == before


def test_an_update_method_cannot_be_sent_as_a_query(
    ic: IC, ledger: CanisterProxy, alice: Principal, bob: Principal
) -> None:
    before = books(ledger, alice, bob)
    with pytest.raises(CallRejected) as info:
        ic.query_call(
            ledger.id, "icrc1_transfer", TransferArgs(to=Account(bob), amount=1), caller=alice
        )
    assert info.value.reject_code is RejectCode.CANISTER_ERROR
    assert books(ledger, alice, bob) == before
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
    before = books(ledger, alice, bob, carol)
    blocks = ledger.get_blocks(0, 100)
    metadata = ledger.icrc1_metadata()

    ic.upgrade_canister(ledger.id, Ledger)

    assert books(ledger, alice, bob, carol) == before
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

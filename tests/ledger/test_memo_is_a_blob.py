"""A memo is a blob: a ``Principal`` (which is ``bytes`` underneath) is refused as one, as Candid
tells ``blob`` from ``principal``."""

from __future__ import annotations

import pytest

from icto import Account, ApproveArgs, Principal, TransferArgs
from icto.ic.proxy import CanisterProxy
from icto.ledger.types import TransferFromArgs
from tests.helpers import rejected

TO = Account(Principal.from_name("bob"))


@pytest.mark.parametrize(
    "build",
    [
        lambda memo: TransferArgs(to=TO, amount=1, memo=memo),
        lambda memo: ApproveArgs(spender=TO, amount=1, memo=memo),
        lambda memo: TransferFromArgs(from_=TO, to=TO, amount=1, memo=memo),
    ],
    ids=["transfer", "approve", "transfer_from"],
)
def test_a_principal_is_not_a_memo(build: object) -> None:
    assert callable(build)
    assert build(b"\x04").memo == b"\x04"
    with pytest.raises(TypeError, match="memo must be bytes"):
        build(Principal.anonymous())


@pytest.mark.parametrize("method", ["icrc1_transfer", "icrc2_approve"])
def test_a_mutable_memo_slipped_past_the_record_is_refused(
    ledger: CanisterProxy, alice: Principal, method: str
) -> None:
    """A record built around its validators carrying a ``bytearray`` memo: the ledger traps
    and nothing changes (it used to keep the bytearray, which its sender could then rewrite in
    the block log, and which made the world unsavable)."""
    args: object = (
        TransferArgs(to=TO, amount=5, memo=b"ok") if method == "icrc1_transfer"
        else ApproveArgs(spender=TO, amount=5, memo=b"ok")
    )  # fmt: skip
    object.__setattr__(args, "memo", bytearray(b"paid invoice #1"))
    before = ledger.get_transaction_count()
    error = rejected(lambda: getattr(ledger.as_caller(alice), method)(args))
    assert "memo must be bytes" in error.message
    assert ledger.get_transaction_count() == before

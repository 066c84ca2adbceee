"""A memo is a blob: a ``Principal`` (which is ``bytes`` underneath) is refused as one, as Candid
tells ``blob`` from ``principal``."""

from __future__ import annotations

import pytest

from icto import Account, ApproveArgs, Principal, TransferArgs
from icto.ledger.types import TransferFromArgs

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

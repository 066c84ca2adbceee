"""What nobody registered for goes back to the owner once its window has closed, once, and
never at a recipient's expense."""

from __future__ import annotations

from icto import E8S, IC, Account, ApproveArgs, Err, Ok, Principal
from icto.distribution import (
    Category,
    DistributionConfig,
    InvalidRequest,
    NotOwner,
    Open,
    Window,
    days,
)
from icto.system import deploy_system

OWNER, BOB, MALLORY = (Principal.from_name(n) for n in ("owner", "bob", "mallory"))
SHARE = 10 * E8S
FEE = 10_000


def test_unregistered_shares_return_to_the_owner_after_the_window_and_only_once() -> None:
    ic = IC()
    system = deploy_system(ic)
    window = Window(ic.time, ic.time + days(2))
    config = DistributionConfig(
        title="Drop", token=system.icp_ledger.id, start=ic.time + days(1),
        categories=(Category("drop", 4 * SHARE, Open(4, window)),),
    )  # fmt: skip
    dist_id = system.distribution_factory.as_caller(system.backend.id).create_contract(
        OWNER, config
    ).unwrap()  # fmt: skip
    reserve = config.claims_covered * 4 * FEE
    system.faucet(OWNER, 4 * SHARE + reserve + 2 * FEE)  # the approval's fee and transfer_from's
    system.icp_ledger.as_caller(OWNER).icrc2_approve(
        ApproveArgs(spender=Account(dist_id), amount=4 * SHARE + reserve + FEE)
    ).unwrap()  # fmt: skip
    dist = ic.actor(dist_id, OWNER)
    dist.fund().unwrap()
    assert dist.as_caller(BOB).register(0) == Ok(SHARE)
    early = dist.withdraw_unallocated()
    assert early == Err(InvalidRequest(("nothing unallocated in a closed window",)))
    ic.advance_time(days=2)
    assert dist.as_caller(MALLORY).withdraw_unallocated() == Err(NotOwner(MALLORY))
    before = ic.state_of(dist_id)
    assert dist.withdraw_unallocated() == Ok(3 * SHARE - FEE)
    assert system.icp_balance(OWNER) == 3 * SHARE - FEE
    assert dist.withdraw_unallocated().is_err
    assert ic.state_of(dist_id).participants == before.participants
    assert dist.as_caller(BOB).claim().unwrap().amount == SHARE
    assert system.icp_balance(dist_id) == reserve - FEE  # the withdrawal paid its own fee

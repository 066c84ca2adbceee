"""What nobody registered for goes back to the owner once its window has closed, once, and
never at a recipient's expense."""

from __future__ import annotations

from icto import E8S, IC, Account, ApproveArgs, Err, Ok, Principal
from icto.distribution import (
    Category,
    DistributionConfig,
    Fixed,
    InvalidRequest,
    Linear,
    NotOwner,
    Open,
    Window,
    days,
)
from icto.system import deploy_system

OWNER, BOB, CAROL, MALLORY = (
    Principal.from_name(n) for n in ("owner", "bob", "carol", "mallory")
)
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


def test_a_removed_fixed_recipients_share_returns_to_the_owner_once_the_start_has_come() -> None:
    """Fixed recipients have no window: what one removed before the start held can be given to
    nobody once the start has come (the owner adds recipients only before it), so it goes back
    then, and never at the remaining recipient's expense."""
    ic = IC()
    system = deploy_system(ic)
    start = ic.time + days(1)
    config = DistributionConfig(
        title="Team", token=system.icp_ledger.id, start=start, cancellable=False,
        categories=(Category("team", 2 * SHARE, Fixed(((BOB, SHARE), (CAROL, SHARE))),
                             Linear(days(10))),),
    )  # fmt: skip
    dist_id = system.distribution_factory.as_caller(system.backend.id).create_contract(
        OWNER, config
    ).unwrap()  # fmt: skip
    reserve = config.claims_covered * 2 * FEE
    system.faucet(OWNER, 2 * SHARE + reserve + 2 * FEE)
    system.icp_ledger.as_caller(OWNER).icrc2_approve(
        ApproveArgs(spender=Account(dist_id), amount=2 * SHARE + reserve + FEE)
    ).unwrap()  # fmt: skip
    dist = ic.actor(dist_id, OWNER)
    dist.fund().unwrap()
    dist.remove_recipient(CAROL).unwrap()
    nothing_yet = Err(InvalidRequest(("nothing unallocated in a closed window",)))
    assert dist.withdraw_unallocated() == nothing_yet
    ic.set_time(start)
    assert dist.withdraw_unallocated() == Ok(SHARE - FEE)
    assert system.icp_balance(OWNER) == SHARE - FEE
    assert dist.withdraw_unallocated() == nothing_yet
    ic.set_time(start + days(10))
    assert dist.as_caller(BOB).claim().unwrap().amount == SHARE
    assert system.icp_balance(dist_id) == reserve - FEE

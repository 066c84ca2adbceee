"""A Merkle airdrop of 100,000 recipients: every leaf proves its membership of the root and no
forged proof does (a flipped byte, another leaf's proof, another principal, amount or category, a
truncated, extended or empty proof). On a deployed distribution holding only the root, each
recipient registers with its proof and claims exactly its amount, once; a replayed, forged or
borrowed proof is refused, and the contract's balance goes down by exactly the amounts paid and
their fees, taken from the reserve."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import pytest

from icto import IC, Account, ApproveArgs, Err, Ok, Principal
from icto.distribution import (
    Category,
    DistributionConfig,
    MerkleRoot,
    MerkleTree,
    NotEligible,
    NothingToClaim,
    NotRecipient,
    Phase,
    WrongPhase,
    days,
    leaf,
)
from icto.distribution.merkle import verify
from icto.ic.proxy import CanisterProxy
from icto.ic.world import World
from icto.system import System, deploy_system

LEAVES = 100_000
FEE = 10_000
RESERVE = 4_000_000_000  # 4 claims covered * 100_000 recipients * 10_000 fee
OWNER = Principal.from_name("airdrop-owner")
MALLORY = Principal.from_name("mallory")
EDGES = (0, 1, 2, 65_535, 65_536, 99_998, 99_999)
SAMPLE = sorted({*EDGES, *random.Random(20_240_601).sample(range(LEAVES), 200 - len(EDGES))})
CLAIMERS = SAMPLE[::10]


@attrs.frozen
class Airdrop:
    recipients: tuple[Principal, ...]
    amounts: tuple[int, ...]
    tree: MerkleTree

    def claim(self, i: int) -> tuple[Principal, int, int]:
        """Leaf ``i``'s principal, amount and category."""
        return self.recipients[i], self.amounts[i], 0

    def leaf(self, i: int) -> bytes:
        return leaf(*self.claim(i))


@pytest.fixture(scope="module")
def airdrop() -> Airdrop:
    recipients = tuple(Principal.from_name(f"r{i}") for i in range(LEAVES))
    amounts = tuple(10_000 + i * 7_919 % 1_000_003 for i in range(LEAVES))
    tree = MerkleTree([leaf(p, amount, 0) for p, amount in zip(recipients, amounts, strict=True)])
    return Airdrop(recipients, amounts, tree)


def test_every_sampled_leaf_proves_its_membership_of_the_root(airdrop: Airdrop) -> None:
    root = airdrop.tree.root
    assert len(SAMPLE) == 200
    for i in SAMPLE:
        proof = airdrop.tree.proof(i)
        assert len(proof) <= 17  # 2**17 = 131_072 >= 100_000
        assert verify(root, airdrop.leaf(i), proof), i


def flipped(proof: tuple[bytes, ...], i: int) -> tuple[bytes, ...]:
    """``proof`` with one bit of one byte of one sibling flipped (which ones depends on ``i``)."""
    k, j = i % len(proof), i % 32
    sibling = proof[k]
    changed = sibling[:j] + bytes([sibling[j] ^ 1]) + sibling[j + 1 :]
    return (*proof[:k], changed, *proof[k + 1 :])


Forged = tuple[Principal, int, int, tuple[bytes, ...]]
"""Who claims the leaf, for how much, in which category, with which proof."""
Forgery = Callable[[Airdrop, int], Forged]
FORGERIES: dict[str, Forgery] = {
    "a flipped byte": lambda a, i: (*a.claim(i), flipped(a.tree.proof(i), i)),
    "another leaf's proof": lambda a, i: (*a.claim(i), a.tree.proof((i + 1) % LEAVES)),
    "another amount": lambda a, i: (a.recipients[i], a.amounts[i] + 1, 0, a.tree.proof(i)),
    "a truncated proof": lambda a, i: (*a.claim(i), a.tree.proof(i)[:-1]),
    "an extended proof": lambda a, i: (*a.claim(i), (*a.tree.proof(i), a.tree.proof(i)[0])),
    "an empty proof": lambda a, i: (*a.claim(i), ()),
    "a short sibling": lambda a, i: (*a.claim(i), (a.tree.proof(i)[0][:31], *a.tree.proof(i)[1:])),
}
"""Forged registrations by the leaf's own principal in its own category."""
ELSEWHERE: dict[str, Forgery] = {
    "another principal": lambda a, i: (MALLORY, a.amounts[i], 0, a.tree.proof(i)),
    "another category": lambda a, i: (a.recipients[i], a.amounts[i], 1, a.tree.proof(i)),
}


@pytest.mark.parametrize("forgery", [*FORGERIES.values(), *ELSEWHERE.values()],
                         ids=[*FORGERIES, *ELSEWHERE])  # fmt: skip
def test_no_forged_proof_leads_to_the_root(airdrop: Airdrop, forgery: Forgery) -> None:
    root = airdrop.tree.root
    for i in SAMPLE:
        principal, amount, category, proof = forgery(airdrop, i)
        assert not verify(root, leaf(principal, amount, category), proof), i


# -- end to end on a deployed distribution ---------------------------------------------------


@attrs.frozen
class Deployed:
    system: System
    distribution: Principal
    start: int
    snapshot: World

    def actor(self, caller: Principal) -> CanisterProxy:
        return self.system.ic.actor(self.distribution, caller)


@pytest.fixture(scope="module")
def deployed(airdrop: Airdrop) -> Deployed:
    """The airdrop deployed with its root, starting in a day, funded by its owner (who is left
    with nothing)."""
    ic = IC()
    system = deploy_system(ic)
    total = sum(airdrop.amounts)
    start = ic.time + days(1)
    config = DistributionConfig(
        title="Airdrop", token=system.icp_ledger.id, start=start,
        categories=(Category("drop", total, MerkleRoot(airdrop.tree.root, 100_000)),),
    )  # fmt: skip
    factory = system.distribution_factory.as_caller(system.backend.id)
    distribution = factory.create_contract(OWNER, config).unwrap()
    system.faucet(OWNER, total + RESERVE + 2 * FEE)
    approval = ApproveArgs(spender=Account(distribution), amount=total + RESERVE + FEE)
    system.icp_ledger.as_caller(OWNER).icrc2_approve(approval).unwrap()
    assert isinstance(ic.actor(distribution, OWNER).fund(), Ok)
    assert system.icp_balance(OWNER) == 0
    assert system.icp_balance(distribution) == total + RESERVE
    return Deployed(system, distribution, start, ic.snapshot())


@pytest.fixture
def world(deployed: Deployed) -> Deployed:
    deployed.system.ic.restore(deployed.snapshot)
    return deployed


def test_the_funded_airdrop_keeps_one_fee_reserve_per_possible_recipient(
    world: Deployed, airdrop: Airdrop
) -> None:
    stats = world.actor(OWNER).get_stats()
    assert (stats.phase, stats.funded, stats.participants) == (Phase.FUNDED, True, 0)
    assert stats.reserve == RESERVE
    assert stats.balance_required == sum(airdrop.amounts) + RESERVE


def test_each_recipient_registers_with_its_proof_and_claims_exactly_its_amount_once(
    world: Deployed, airdrop: Airdrop
) -> None:
    system = world.system
    for i in CLAIMERS:
        me = world.actor(airdrop.recipients[i])
        assert me.register(0, airdrop.amounts[i], airdrop.tree.proof(i)) == Ok(airdrop.amounts[i])
        assert me.claim() == Err(
            WrongPhase(Phase.FUNDED, "Active, Completed or Cancelled (and not paused)")
        )
    system.ic.set_time(world.start)
    balance = system.icp_balance(world.distribution)
    reserve = world.actor(OWNER).get_stats().reserve
    for i in CLAIMERS:
        recipient, amount = airdrop.recipients[i], airdrop.amounts[i]
        me = world.actor(recipient)
        claim = me.claim().unwrap()
        assert (claim.user, claim.amount, claim.fee, claim.fee_from_reserve) == (
            recipient, amount, FEE, True,
        )  # fmt: skip
        assert system.icp_balance(recipient) == amount
        assert me.claim() == Err(NothingToClaim(0))
        assert isinstance(me.register(0, amount, airdrop.tree.proof(i)), Err)
        assert system.icp_balance(recipient) == amount
    paid = sum(airdrop.amounts[i] for i in CLAIMERS)
    assert system.icp_balance(world.distribution) == balance - paid - len(CLAIMERS) * FEE
    stats = world.actor(OWNER).get_stats()
    assert (stats.claimed, stats.participants) == (paid, len(CLAIMERS))
    assert stats.reserve == reserve - len(CLAIMERS) * FEE
    claims = world.actor(OWNER).get_claims()
    assert sorted(claim.user for claim in claims) == sorted(airdrop.recipients[i] for i in CLAIMERS)


def test_a_replayed_registration_is_refused(world: Deployed, airdrop: Airdrop) -> None:
    i = CLAIMERS[3]
    recipient, amount, proof = airdrop.recipients[i], airdrop.amounts[i], airdrop.tree.proof(i)
    me = world.actor(recipient)
    assert me.register(0, amount, proof) == Ok(amount)
    assert me.register(0, amount, proof) == Err(
        NotEligible(f"{recipient} already has an allocation in category 0")
    )
    assert me.get_participant(recipient).allocation == amount
    assert world.actor(OWNER).get_stats().participants == 1


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_proof_is_refused_and_the_genuine_one_still_works(
    world: Deployed, airdrop: Airdrop, forgery: Forgery
) -> None:
    i = CLAIMERS[5]
    recipient, amount, category, proof = forgery(airdrop, i)
    me = world.actor(recipient)
    assert me.register(category, amount, proof) == Err(
        NotEligible("the proof does not match the root")
    )
    assert me.get_participant(recipient) is None
    assert me.register(0, airdrop.amounts[i], airdrop.tree.proof(i)) == Ok(airdrop.amounts[i])


def test_a_proof_is_refused_to_any_other_caller(world: Deployed, airdrop: Airdrop) -> None:
    i, j = CLAIMERS[7], CLAIMERS[8]
    amount, proof = airdrop.amounts[i], airdrop.tree.proof(i)
    refused = Err(NotEligible("the proof does not match the root"))
    assert world.actor(MALLORY).register(0, amount, proof) == refused
    assert world.actor(airdrop.recipients[j]).register(0, amount, proof) == refused
    assert world.actor(airdrop.recipients[i]).register(0, amount, proof) == Ok(amount)
    world.system.ic.set_time(world.start)
    assert world.actor(MALLORY).claim() == Err(NotRecipient(MALLORY))
    assert world.system.icp_balance(MALLORY) == 0
    assert world.actor(airdrop.recipients[i]).claim().unwrap().amount == amount


def test_an_instant_airdrop_takes_registrations_after_its_start_and_pays_at_once(
    world: Deployed, airdrop: Airdrop
) -> None:
    """Completed (everything vested) is about the schedule, not the registration window: a
    Merkle airdrop without a window takes proofs after its start, and pays them at once."""
    i = CLAIMERS[0]
    world.system.ic.set_time(world.start)
    me = world.actor(airdrop.recipients[i])
    assert me.register(0, airdrop.amounts[i], airdrop.tree.proof(i)) == Ok(airdrop.amounts[i])
    assert me.claim().unwrap().amount == airdrop.amounts[i]

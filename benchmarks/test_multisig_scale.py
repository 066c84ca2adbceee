"""A multisig wallet's approve + execute and its proposal pages cost the same whatever the number
of proposals it already holds.

A wallet holding n proposals is built by writing them straight into its ``WalletState`` the way
the wallet's own bookkeeping keeps them (the ``proposals`` vector indexed by id, the ids of each
status in ``by_status``, ``(expiry, id)`` of every open proposal in ``deadlines``, the events of
each), spread over the 30 days since the wallet was deployed: mostly Executed, some Failed and
Rejected, and the open ones Pending or Executable until their 7-day lifetime ends, Expired after.
The operations measured then go through the IC like a signer's: ingress ``approve`` and
``execute`` of a Transfer proposed just before (a real ICP ledger transfer), and a
``get_proposals`` query for a page of one status.
"""

from __future__ import annotations

import functools
import gc
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import attrs
import immutables
import pytest

from benchmarks.conftest import FIGURES, MEDIUM
from icto import E8S, IC, Account, Principal
from icto.collections import SortedSet
from icto.collections.vector import Vector
from icto.ic.proxy import CanisterProxy
from icto.multisig import (
    MultisigConfig,
    Proposal,
    Role,
    Status,
    Transfer,
    TransferOutcome,
    WalletEvent,
    WalletState,
)
from icto.system import System, deploy_system

ALICE = Principal.from_name("alice")
BOB = Principal.from_name("bob")
CAROL = Principal.from_name("carol")
PAYEE = Account(Principal.from_name("payee"))
HISTORY_DAYS = 30
DAY_NS = 24 * 3600 * 10**9
PAGE = 100


@attrs.frozen
class Scene:
    system: System
    wallet: Principal
    proposals: int

    @property
    def ic(self) -> IC:
        return self.system.ic

    def signer(self, principal: Principal) -> CanisterProxy:
        return self.ic.actor(self.wallet, principal)

    def transfer(self, amount: int) -> Transfer:
        return Transfer(self.system.icp_ledger.id, PAYEE, amount)


def _history(
    state: WalletState, count: int, ledger: Principal, start: int, now: int
) -> WalletState:
    """``state`` holding ``count`` Transfer proposals created evenly between ``start`` and
    ``now``. Of each hundred consecutive ids, 90 are Executed, 3 Failed and 3 Rejected; the other
    4 are open (2 Pending, 2 Executable) if their lifetime has not ended by ``now``, else
    Expired."""
    proposals: list[Proposal] = []
    events: list[WalletEvent] = []
    by_status: dict[Status, list[int]] = defaultdict(list)
    deadlines: list[tuple[int, int]] = []
    for i in range(count):
        created = start + i * (now - start) // count
        proposer, other = (ALICE, BOB) if i % 2 == 0 else (BOB, ALICE)
        transfer = Transfer(ledger, PAYEE, 1_000 + i)
        proposal = Proposal(
            id=i, action=transfer, proposer=proposer, description="", created_at=created,
            expires_at=created + state.lifetime, status=Status.PENDING, threshold=2,
            approvals=SortedSet((proposer,)),
        )  # fmt: skip
        events.append(WalletEvent(created, "Proposed", proposer, i, str(transfer.KIND)))
        share = i % 100
        if share < 93:
            failed = share >= 90
            outcome = (
                TransferOutcome(transfer, None, "InsufficientFunds") if failed
                else TransferOutcome(transfer, i)
            )  # fmt: skip
            failure = "transfer 0 of 1 failed: InsufficientFunds" if failed else None
            proposal = attrs.evolve(
                proposal, status=Status.FAILED if failed else Status.EXECUTED,
                approvals=SortedSet((proposer, other)), approved_at=created, finished_at=created,
                executed_by=other, failure=failure, outcomes=(outcome,),
            )  # fmt: skip
            events.append(WalletEvent(created, "ApprovedBy", other, i))
            events.append(WalletEvent(created, str(proposal.status), other, i, failure or ""))
        elif share < 96:
            proposal = attrs.evolve(
                proposal, status=Status.REJECTED, rejections=SortedSet((other, CAROL)),
                finished_at=created,
            )  # fmt: skip
            events.append(WalletEvent(created, "RejectedBy", other, i))
            events.append(WalletEvent(created, "RejectedBy", CAROL, i))
        elif proposal.expires_at <= now:
            proposal = attrs.evolve(
                proposal, status=Status.EXPIRED, finished_at=proposal.expires_at
            )
            events.append(WalletEvent(proposal.expires_at, "Expired", None, i))
        else:
            if share >= 98:
                proposal = attrs.evolve(
                    proposal, status=Status.EXECUTABLE, approvals=SortedSet((proposer, other)),
                    approved_at=created,
                )  # fmt: skip
                events.append(WalletEvent(created, "ApprovedBy", other, i))
            deadlines.append((proposal.expires_at, i))
        proposals.append(proposal)
        by_status[proposal.status].append(i)
    return attrs.evolve(
        state,
        proposals=Vector(proposals),
        by_status=immutables.Map({status: SortedSet(ids) for status, ids in by_status.items()}),
        deadlines=SortedSet(deadlines),
        events=Vector(events),
    )


def _install(ic: IC, canister_id: Principal, state: Any) -> None:
    """Replace the canister's state in the world."""
    world = ic.world
    record = world.canisters[canister_id]
    canisters = world.canisters.set(canister_id, record.with_state(state, record.cycles))
    ic.restore(world._replace(canisters=canisters))


@functools.cache
def scene(count: int) -> Scene:
    """A funded 2-of-3 wallet (timelock 0) holding ``count`` proposals. The cyclic garbage
    collector is paused while it is built and the result is frozen out of its reach
    (``gc.freeze``), as in ``test_factory_scale.py``."""
    started = time.perf_counter()
    gc.disable()
    try:
        system = deploy_system(IC(trace=False))
        ic = system.ic
        config = MultisigConfig(
            name="Treasury", members=((ALICE, Role.OWNER), (BOB, Role.SIGNER),
                                      (CAROL, Role.SIGNER)),
            threshold=2,
        )  # fmt: skip
        factory = system.multisig_factory.as_caller(system.backend.id)
        wallet = factory.create_contract(ALICE, config).unwrap()
        system.faucet(wallet, 1_000_000 * E8S)
        deployed = ic.time
        ic.advance_time(days=HISTORY_DAYS)
        state = _history(ic.state_of(wallet), count, system.icp_ledger.id, deployed, ic.time)
        _install(ic, wallet, state)
    finally:
        gc.enable()
    gc.freeze()
    if count == MEDIUM:
        elapsed_ms = (time.perf_counter() - started) * 1e3
        FIGURES[f"ms to build a wallet of {count:,} proposals"] = elapsed_ms
    info = ic.actor(wallet, ALICE).get_wallet_info()
    assert info.proposals == count
    assert sum(held for _, held in info.by_status) == count
    return Scene(system, wallet, count)


OPS = 10
"""Proposals approved and executed per measured round."""


@pytest.mark.parametrize(("key", "count"), [("multisig_exec_1", 1),
                                            ("multisig_exec_large", MEDIUM)])  # fmt: skip
def test_approve_and_execute_cost_the_same_in_a_wallet_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """Each round approves (the second vote of 2) and executes ``OPS`` fresh Transfer proposals
    inside ``ic.anchor()``, so every round meets the same wallet."""
    s = scene(count)
    ic = s.ic
    alice, bob = s.signer(ALICE), s.signer(BOB)
    with ic.anchor():
        ids = [alice.propose(s.transfer(10_000 + n)).unwrap() for n in range(OPS)]
        assert ids == list(range(count, count + OPS))

        def run() -> Proposal:
            with ic.anchor():
                for proposal_id in ids:
                    bob.approve(proposal_id).unwrap()
                    done: Proposal = bob.execute(proposal_id).unwrap()
            return done

        done = measure(key, run, OPS)
        assert done.status is Status.EXECUTED
        assert done.outcomes[0].block is not None
        assert alice.get_proposal(ids[-1]).status is Status.PENDING


@pytest.mark.parametrize(("key", "count"), [("multisig_list_small", PAGE),
                                            ("multisig_list_large", MEDIUM)])  # fmt: skip
def test_a_page_of_one_status_costs_the_same_in_a_wallet_of_any_size(
    measure: Callable[..., Any], key: str, count: int
) -> None:
    """A page of the newest Executed proposals (90 of the 100 in the small wallet: a full page of
    100 in the large one)."""
    s = scene(count)
    alice = s.signer(ALICE)
    ops = 50

    def run() -> Any:
        page = None
        for _ in range(ops):
            page = alice.get_proposals(Status.EXECUTED, 0, PAGE)
        return page

    page = measure(key, run, ops)
    executed = [p for p in page.items if p.status is Status.EXECUTED]
    assert len(executed) == len(page.items) == min(PAGE, page.total)
    assert [p.id for p in page.items] == sorted((p.id for p in page.items), reverse=True)
    assert page.total == count // 100 * 90 + min(count % 100, 90)

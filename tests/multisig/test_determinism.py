"""A wallet's proposals read the same in every process.

A proposal's approvals and rejections are sets of principals. A principal hashes by its bytes,
which Python hashes with the per-process hash seed, so a ``frozenset`` of them iterates in an
order that changes from one process to the next: the wallet keeps them as ``SortedSet``s, in
principal order. Same script, same proposals, whatever ``PYTHONHASHSEED``. A world saved while
they were ``frozenset``s still loads: the wallet reads its votes sorted and keeps counting them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from icto import E8S, IC, Ok, Principal
from icto.collections import SortedSet
from icto.ic.proxy import CanisterProxy
from icto.multisig import AddObserver, MultisigConfig, Role, Status
from icto.system import deploy_system
from tests.helpers import output_under_hash_seed, saved_records

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE = (Principal.from_name(name) for name in NAMES)
OLGA = Principal.from_name("olga")
HEADER = {"format": "icto-world", "version": 1}

SCENE = """
import json

from icto import E8S, IC, Principal
from icto.multisig import AddObserver, MultisigConfig, Role
from icto.system import deploy_system

names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")
alice, *signers = (Principal.from_name(name) for name in names)
ic = IC()
system = deploy_system(ic)
system.faucet(alice, 10 * E8S)
system.approve_backend(alice, 5 * E8S)
config = MultisigConfig(
    name="W", threshold=6,
    members=((alice, Role.OWNER), *((signer, Role.SIGNER) for signer in signers)),
)
wallet = ic.actor(system.backend.as_caller(alice).deploy_multisig(config).unwrap().canister_id)
proposal_id = wallet.as_caller(alice).propose(AddObserver(Principal.from_name("olga"))).unwrap()
for signer in signers[:3]:
    wallet.as_caller(signer).approve(proposal_id)
wallet.as_caller(signers[3]).reject(proposal_id)
print(json.dumps([str(p) for p in wallet.as_caller(alice).get_proposal(proposal_id).approvals]))
print(wallet.as_caller(alice).get_proposals().items)
"""


def run_scene(hash_seed: str) -> str:
    return output_under_hash_seed(SCENE, hash_seed)


def test_approvals_and_rejections_read_alike_whatever_the_hash_seed() -> None:
    outputs = [run_scene(seed) for seed in ("0", "1", "2")]

    assert outputs[1:] == outputs[:1] * 2
    approvals = [Principal.from_text(text) for text in json.loads(outputs[0].splitlines()[0])]
    assert approvals == sorted(approvals) and len(approvals) == 4


def test_votes_are_kept_in_principal_order() -> None:
    _, wallet = deployed()
    proposal_id = wallet.as_caller(GRACE).propose(AddObserver(OLGA)).unwrap()
    for voter in (ERIN, BOB, FRANK):
        wallet.as_caller(voter).approve(proposal_id).unwrap()
    for voter in (DAVE, CAROL):
        wallet.as_caller(voter).reject(proposal_id).unwrap()

    proposal = wallet.get_proposal(proposal_id)
    assert proposal.approvals == SortedSet((GRACE, ERIN, BOB, FRANK))
    assert list(proposal.approvals) == sorted((GRACE, ERIN, BOB, FRANK))
    assert list(proposal.rejections) == sorted((DAVE, CAROL))
    assert wallet.get_proposals().items == (proposal,)


def test_a_world_saved_with_frozenset_votes_loads_and_reads_them_sorted(tmp_path: Path) -> None:
    ic, wallet = deployed()
    pid = wallet.propose(AddObserver(OLGA)).unwrap()
    for voter in (ERIN, BOB):
        wallet.as_caller(voter).approve(pid).unwrap()
    wallet.as_caller(DAVE).reject(pid).unwrap()
    path = tmp_path / "world.icto"
    ic.save(path)
    payload = json.loads(path.read_bytes().split(b"\n")[1])
    (record,) = saved_proposals(payload)
    for votes in ("approvals", "rejections"):  # as a frozenset was saved: sorted, untagged
        record["f"][votes] = {"$frozenset": record["f"][votes]["$sset"]}
    signed = (json.dumps(HEADER) + "\n" + json.dumps(payload) + "\n").encode()
    path.write_bytes(signed + f"sha256 {hashlib.sha256(signed).hexdigest()}\n".encode())

    loaded = IC.load(path)
    old = loaded.state_of(wallet.id).proposals[pid]
    assert type(old.approvals) is frozenset and type(old.rejections) is frozenset
    reader = loaded.actor(wallet.id, ALICE)
    (listed,) = reader.get_proposals().items
    assert listed == reader.get_proposal(pid)
    assert listed.approvals == SortedSet((ALICE, ERIN, BOB))
    assert listed.rejections == SortedSet((DAVE,))
    assert loaded.actor(wallet.id, CAROL).approve(pid) == Ok(Status.PENDING)
    assert loaded.actor(wallet.id, FRANK).reject(pid) == Ok(Status.PENDING)
    voted = reader.get_proposal(pid)
    assert voted.approvals == SortedSet((ALICE, ERIN, BOB, CAROL))
    assert voted.rejections == SortedSet((DAVE, FRANK))


def deployed() -> tuple[IC, CanisterProxy]:
    """A 5-of-7 wallet: alice its owner, the others signers."""
    ic = IC()
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    members = ((ALICE, Role.OWNER), *((p, Role.SIGNER) for p in (BOB, CAROL, DAVE, ERIN, FRANK,
                                                                   GRACE)))  # fmt: skip
    config = MultisigConfig(name="W", threshold=5, members=members)
    deployed = system.backend.as_caller(ALICE).deploy_multisig(config).unwrap()
    return ic, ic.actor(deployed.canister_id, ALICE)


def saved_proposals(node: Any) -> list[dict[str, Any]]:
    return list(saved_records(node, "icto.multisig.types:Proposal"))

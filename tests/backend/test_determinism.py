"""The backend's own work is the same in every process.

Its timer retries failed refunds and settles deployments whose reply was lost; a factory cleans
up half-created canisters. Each goes through a map whose iteration order follows the string
hash seed, which differs between processes, so each must go in an order of its own: the oldest
record first, canisters in principal order. Same script, same ids, same blocks.
"""

from __future__ import annotations

from tests.helpers import output_under_hash_seed

SCENE = """
from icto import E8S, IC, MANAGEMENT_ID, Account, Principal
from icto.ledger.types import TransferArgs
from icto.system import deploy_system
from tests.backend.conftest import token_config

ic = IC()
system = deploy_system(ic)
backend, factory = system.backend, system.token_factory
backend.admin_set_config("payment.fee_recipient", Account(Principal.from_name("treasury")))
spendable = system.icp_balance(backend.id) - 10_000
system.icp_ledger.as_caller(backend.id).icrc1_transfer(
    TransferArgs(to=Account(Principal.from_name("sink")), amount=spendable)
)
users = [Principal.from_name(f"user{i}") for i in range(8)]
for user in users:
    system.faucet(user, 10 * E8S)
    system.approve_backend(user, 5 * E8S)
for i in range(4):  # installs fail, so do the clean-ups; refunds fail: the backend has no float
    with ic.faults.reject(MANAGEMENT_ID, "install_code"):
        with ic.faults.reject(MANAGEMENT_ID, "delete_canister"):
            backend.as_caller(users[i]).deploy_token(token_config(f"T{i}", f"user{i}"))
for i in range(4, 8):  # the factory's reply is lost, and so are the ticket's look-ups
    with ic.faults.reject(factory.id, "create_contract"):
        with ic.faults.reject(factory.id, "get_deployment", times=None):
            backend.as_caller(users[i]).deploy_token(token_config(f"U{i}", f"user{i}"))
system.faucet(backend.id, 10 * E8S)
ic.advance_time(seconds=61)
for user in users:
    refund = system.invoice_storage.get_refunds_by_user(user).items[0]
    print(refund.id, refund.status.block)
print(factory.get_failed_cleanups())
print(factory.cleanup_failed_deployments())
"""


def run_scene(hash_seed: str) -> str:
    return output_under_hash_seed(SCENE, hash_seed)


def test_timer_retries_settlements_and_clean_ups_go_alike_whatever_the_hash_seed() -> None:
    outputs = [run_scene(seed) for seed in ("0", "1", "2")]

    assert outputs[1:] == outputs[:1] * 2
    *refunds, listed, cleaned = outputs[0].splitlines()
    retried, settled = refunds[:4], refunds[4:]
    assert sorted(retried, key=lambda line: int(line.split()[1])) == retried  # oldest first
    assert sorted(settled, key=lambda line: int(line.split()[1])) == settled
    assert listed.count("injected fault") == 4 and cleaned.count("Principal(") == 4

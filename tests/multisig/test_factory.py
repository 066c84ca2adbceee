"""The Multisig Factory through the backend's paid flow: the paying user owns the wallet, every
member is indexed under their role, and a config the wallet would refuse costs nothing."""

from __future__ import annotations

import pytest

from icto import E8S, IC, Err, Principal
from icto.backend import DEFAULT_FEES, MULTISIG_FACTORY
from icto.factory.types import InvalidConfig
from icto.multisig import (
    ChangeRole,
    MultisigConfig,
    MultisigDetails,
    MultisigWallet,
    RemoveSigner,
    Role,
    Status,
)
from icto.system import System, deploy_system
from tests.helpers import rejected

ALICE, BOB, CAROL, DAVE = (Principal.from_name(n) for n in ("alice", "bob", "carol", "dave"))
FEE = DEFAULT_FEES[MULTISIG_FACTORY]
LEDGER_FEE = 10_000
CONFIG = MultisigConfig(
    name="Team", threshold=2, timelock=60 * 10**9,
    members=((ALICE, Role.OWNER), (BOB, Role.SIGNER), (CAROL, Role.OWNER), (DAVE, Role.OBSERVER)),
)  # fmt: skip


@pytest.fixture(scope="module")
def world() -> tuple[IC, System, object]:
    ic = IC()
    system = deploy_system(ic)
    system.faucet(ALICE, 10 * E8S)
    system.approve_backend(ALICE, 5 * E8S)
    return ic, system, ic.snapshot()


@pytest.fixture
def system(world: tuple[IC, System, object]) -> System:
    ic, system, snapshot = world
    ic.restore(snapshot)  # type: ignore[arg-type]
    return system


def test_a_paid_deployment_makes_the_user_owner_and_indexes_every_member(system: System) -> None:
    result = system.backend.as_caller(ALICE).deploy_multisig(CONFIG).unwrap()
    assert (result.service, result.fee_paid) == (MULTISIG_FACTORY, FEE)
    assert system.icp_balance(ALICE) == 10 * E8S - LEDGER_FEE - FEE - LEDGER_FEE
    factory = system.multisig_factory
    info = factory.as_caller(ALICE).get_contract_info(result.canister_id)
    assert (info.kind, info.owner, info.name, info.is_public) == ("multisig", ALICE, "Team", False)
    assert info.details == MultisigDetails(threshold=2, members=4, timelock=60 * 10**9)
    expected = {ALICE: ("creator", "signer"), BOB: ("signer",), CAROL: ("signer",),
                DAVE: ("observer",)}  # fmt: skip
    for person, roles in expected.items():
        (entry,) = factory.as_caller(person).get_my_contracts(person)
        assert (entry.info.id, entry.roles) == (result.canister_id, roles)
    assert dict(info.role_counts) == {"signer": 3, "observer": 1}
    wallet = system.ic.actor(result.canister_id, DAVE)
    assert wallet.get_wallet_info().owner == ALICE


@pytest.mark.parametrize(
    "config",
    [
        MultisigConfig(name="Team", threshold=1, members=((BOB, Role.OWNER),)),
        MultisigConfig(name="Team", threshold=3, members=((ALICE, Role.OWNER), (BOB, Role.SIGNER))),
        MultisigConfig(name="", threshold=1, members=((ALICE, Role.OWNER),)),
    ],
    ids=["payer-not-owner", "threshold-above-voters", "empty-name"],
)
def test_a_config_the_wallet_would_refuse_is_refused_before_payment(
    system: System, config: MultisigConfig
) -> None:
    balance = system.icp_balance(ALICE)
    result = system.backend.as_caller(ALICE).deploy_multisig(config)
    assert isinstance(result, Err) and isinstance(result.error, InvalidConfig)
    assert system.icp_balance(ALICE) == balance
    assert len(system.multisig_factory.as_caller(ALICE).get_my_contracts(ALICE)) == 0


def test_no_owner_controls_a_wallet_so_none_can_install_code_past_the_threshold(
    system: System,
) -> None:
    """Every other contract has [factory, owner] as controllers; a wallet has its factory only,
    or one Owner could install code that moves the funds without the other signers."""
    wallet = system.backend.as_caller(ALICE).deploy_multisig(CONFIG).unwrap().canister_id
    ic = system.ic
    assert ic.controllers_of(wallet) == (system.multisig_factory.id,)
    before = ic.state_of(wallet)
    refusal = rejected(lambda: ic.install_code(wallet, MultisigWallet, None, "upgrade", ALICE))
    assert refusal.error_code == "IC0512"
    assert ic.state_of(wallet) == before


@pytest.mark.parametrize("change", ["removed", "made an observer"])
def test_an_owner_who_left_the_wallet_keeps_no_owner_power_at_the_factory(
    system: System, change: str
) -> None:
    """Alice deployed the wallet; its signers remove her (or make her an Observer). She no
    longer upgrades, rolls back or sets the auto-update of the wallet she left (she kept those
    powers for good, a way round the threshold to an older version's code); an admin still
    does."""
    ic, factory = system.ic, system.multisig_factory
    wallet_id = system.backend.as_caller(ALICE).deploy_multisig(CONFIG).unwrap().canister_id
    owner = factory.as_caller(ALICE)
    assert owner.set_auto_update(wallet_id, True) is None
    action = RemoveSigner(ALICE) if change == "removed" else ChangeRole(ALICE, Role.OBSERVER)
    wallet = ic.actor(wallet_id, BOB)
    proposal = wallet.propose(action).unwrap()
    ic.actor(wallet_id, CAROL).approve(proposal).unwrap()
    ic.advance_time(seconds=61)
    assert wallet.execute(proposal).unwrap().status is Status.EXECUTED
    before = ic.state_of(factory.id)
    for refused in (
        lambda: owner.set_auto_update(wallet_id, False),
        lambda: owner.upgrade_contract(wallet_id),
        lambda: owner.rollback_contract(wallet_id, "1.0.0"),
        lambda: owner.check_controller(wallet_id),
    ):
        assert "Unauthorized" in rejected(refused).message
    after = ic.state_of(factory.id)
    assert (after.index, after.history) == (before.index, before.history)
    assert factory.check_controller(wallet_id) is False

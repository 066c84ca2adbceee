"""``deploy_system(ic)``: the whole ICTO platform on one simulated IC, deployed and wired.

It deploys the ICP ledger at its mainnet id, AuditStorage, InvoiceStorage, the backend, and the
Token, Multisig, Distribution, DAO and Launchpad Factories; makes the backend an admin of each
storage and factory (the operator stays their controller) and lets the backend whitelist itself
there through ``setup_microservices``, as an operator would; and gives the backend a float of ICP
to pay the ledger fee of refunds.
"""

from __future__ import annotations

from typing import Final

import attrs

from icto.backend.backend import Backend
from icto.backend.types import (
    DAO_FACTORY,
    DISTRIBUTION_FACTORY,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    TOKEN_FACTORY,
    BackendInit,
    SetupArgs,
)
from icto.dao.factory import DAOFactory
from icto.distribution.factory import DistributionFactory
from icto.factory.deploy import DEFAULT_FACTORY_CYCLES, deploy_factory
from icto.ic.account import Account
from icto.ic.cycles import MAX_CYCLES
from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.proxy import CanisterProxy
from icto.launchpad.factory import LaunchpadFactory
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import E8S, ApproveArgs, TransferArgs
from icto.multisig.factory import MultisigFactory
from icto.storage.audit import AuditStorage
from icto.storage.invoice import InvoiceStorage
from icto.storage.types import StorageInit
from icto.token.factory import TokenFactory
from icto.validation import identified_problem

OPERATOR: Final = Principal.from_name("icto-operator")
"""Controller of every platform canister ``deploy_system`` creates (unless told otherwise)."""
ICP_MINTER: Final = Principal.from_name("icp-minter")
"""Owner of the ICP ledger's minting account: a transfer from it mints (``System.faucet``)."""
REFUND_FLOAT: Final = 1 * E8S
"""ICP the backend starts with, so refunds can pay their ledger fee: 10,000 refunds' worth while
fees land in the backend's own account. With a treasury as ``payment.fee_recipient`` the backend
pays whole refunds from this float, so the operator must keep it funded (a refund it cannot pay
stays owed and retryable)."""


@attrs.frozen
class System:
    """The deployed platform: proxies on its canisters (called as the operator unless
    ``as_caller`` says otherwise) and test helpers that move ICP."""

    ic: IC
    operator: Principal
    icp_ledger: CanisterProxy
    backend: CanisterProxy
    audit_storage: CanisterProxy
    invoice_storage: CanisterProxy
    token_factory: CanisterProxy
    multisig_factory: CanisterProxy
    distribution_factory: CanisterProxy
    dao_factory: CanisterProxy
    launchpad_factory: CanisterProxy

    @property
    def factories(self) -> dict[str, CanisterProxy]:
        """Service name → factory proxy, for the factories deployed so far."""
        return {
            TOKEN_FACTORY: self.token_factory, MULTISIG_FACTORY: self.multisig_factory,
            DISTRIBUTION_FACTORY: self.distribution_factory, DAO_FACTORY: self.dao_factory,
            LAUNCHPAD_FACTORY: self.launchpad_factory,
        }  # fmt: skip

    def faucet(self, user: Principal | Account, amount: int) -> int:
        """Mint ``amount`` e8s of ICP to ``user`` (a test helper); the block index."""
        to = user if isinstance(user, Account) else Account(user)
        mint = TransferArgs(to=to, amount=amount)
        minted = self.icp_ledger.as_caller(ICP_MINTER).icrc1_transfer(mint)
        return int(minted.unwrap())

    def approve_backend(self, user: Principal, amount: int) -> int:
        """As ``user``, approve the backend to charge up to ``amount`` e8s; the block index."""
        approval = ApproveArgs(spender=Account(self.backend.id), amount=amount)
        return int(self.icp_ledger.as_caller(user).icrc2_approve(approval).unwrap())

    def top_up(self, canister: Principal | CanisterProxy, cycles: int) -> int:
        """Give a platform canister (a factory that ran low) ``cycles`` more, as an operator's
        cycles wallet would; its new balance."""
        target = canister.id if isinstance(canister, CanisterProxy) else canister
        return self.ic.add_cycles(target, cycles)

    def icp_balance(self, owner: Principal | Account) -> int:
        account = owner if isinstance(owner, Account) else Account(owner)
        return int(self.icp_ledger.icrc1_balance_of(account))


def deploy_system(
    ic: IC,
    *,
    operator: Principal = OPERATOR,
    refund_float: int = REFUND_FLOAT,
    factory_cycles: int = DEFAULT_FACTORY_CYCLES,
) -> System:
    """Deploy and wire the platform on ``ic``; ``operator`` controls every canister. Each
    factory starts with ``factory_cycles`` (by default a million deployments' worth).

    All or nothing: bad arguments are refused (``TypeError`` / ``ValueError``) before anything
    is deployed, and a deployment that fails part way leaves ``ic`` as it was, so a retry
    starts clean (a half-built platform would hold the ICP ledger's id).
    """
    _check_arguments(ic, operator, refund_float, factory_cycles)
    before = ic.snapshot()
    try:
        return _deploy(ic, operator, refund_float, factory_cycles)
    except BaseException:
        ic.restore(before)
        raise


def _check_arguments(
    ic: object, operator: object, refund_float: object, factory_cycles: object
) -> None:
    if not isinstance(ic, IC):
        raise TypeError(f"deploy_system deploys on an IC, got {type(ic).__name__}")
    if not isinstance(operator, Principal):
        raise TypeError(f"operator must be a Principal, got {type(operator).__name__}")
    if (problem := identified_problem(operator, "operator")) is not None:
        raise ValueError(problem)
    for name, value in (("refund_float", refund_float), ("factory_cycles", factory_cycles)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value}")
    if factory_cycles > MAX_CYCLES:  # type: ignore[operator]
        raise ValueError(f"factory_cycles must be a u128 (at most 2**128 - 1): {factory_cycles}")
    if ICP.canister_id in ic.world.canisters:
        raise ValueError(
            f"the ICP ledger's id {ICP.canister_id} is taken on this IC "
            "(is the platform deployed on it already?)"
        )


def _deploy(ic: IC, operator: Principal, refund_float: int, factory_cycles: int) -> System:
    icp = deploy_ledger(
        ic, ICP.init(Account(ICP_MINTER)), ICP.canister_id, controllers=(operator,), caller=operator
    )
    backend = ic.deploy(
        Backend, BackendInit(payment_token=icp.id), controllers=(operator,), caller=operator
    )
    storage_init = StorageInit(admins=(backend.id,))
    audit = ic.deploy(AuditStorage, storage_init, controllers=(operator,), caller=operator)
    invoice = ic.deploy(InvoiceStorage, storage_init, controllers=(operator,), caller=operator)
    token_factory, multisig_factory, distribution_factory, dao_factory, launchpad_factory = (
        deploy_factory(
            ic, code, admins=(backend.id,), controllers=(operator,), caller=operator,
            cycles=factory_cycles,
        )
        for code in (
            TokenFactory, MultisigFactory, DistributionFactory, DAOFactory, LaunchpadFactory
        )
    )
    setup = SetupArgs(
        audit_storage=audit.id, invoice_storage=invoice.id,
        factories=(
            (TOKEN_FACTORY, token_factory.id), (MULTISIG_FACTORY, multisig_factory.id),
            (DISTRIBUTION_FACTORY, distribution_factory.id), (DAO_FACTORY, dao_factory.id),
            (LAUNCHPAD_FACTORY, launchpad_factory.id),
        ),
    )  # fmt: skip
    backend.as_caller(operator).setup_microservices(setup).unwrap()
    system = System(
        ic, operator, icp.as_caller(operator), backend.as_caller(operator),
        audit.as_caller(operator), invoice.as_caller(operator), token_factory.as_caller(operator),
        multisig_factory.as_caller(operator), distribution_factory.as_caller(operator),
        dao_factory.as_caller(operator), launchpad_factory.as_caller(operator),
    )  # fmt: skip
    if refund_float:
        system.faucet(backend.id, refund_float)
    return system

"""``MultisigFactory``: deploys ``MultisigWallet`` contracts and indexes their signers and
observers (Owners and Signers under ``signer``), kept exact by the wallets' callbacks."""

from __future__ import annotations

import attrs

from icto.factory.base import ContractDraft
from icto.factory.factory import Factory
from icto.factory.types import ContractInfo
from icto.ic.principal import Principal
from icto.multisig.config import MultisigConfig, validate_multisig_config
from icto.multisig.types import OBSERVER, SIGNER
from icto.multisig.wallet import MultisigWallet


@attrs.frozen
class MultisigDetails:
    """The wallet fields kept in ``ContractInfo.details`` (as deployed)."""

    threshold: int
    members: int
    timelock: int


class MultisigFactory(Factory):
    VERSION = "1.0.0"
    KIND = "multisig"
    CONTRACT = MultisigWallet
    ROLES = frozenset({SIGNER, OBSERVER})
    OWNER_CONTROLS = False
    """A wallet's controller is its factory alone: an Owner who controlled it could install any
    code and move the funds past the threshold."""

    def acts_as_owner(self, info: ContractInfo, caller: Principal) -> bool:
        """The Owner the wallet was deployed for, while it still votes in the wallet: one its
        signers removed (or made an Observer) no longer upgrades, rolls back or sets the
        auto-update of the wallet it left."""
        return caller == info.owner and SIGNER in self.state.index.roles_of(caller, info)

    def validate_config(self, owner: Principal, config: object) -> tuple[str, ...]:
        return validate_multisig_config(config, owner, never_vote=(self.id,))

    def draft(self, owner: Principal, config: MultisigConfig) -> ContractDraft:
        roles = tuple(
            (member, SIGNER if role.votes else OBSERVER) for member, role in config.members
        )
        details = MultisigDetails(config.threshold, len(config.members), config.timelock)
        return ContractDraft(config.name, config.is_public, details, roles)


__all__ = ["MultisigDetails", "MultisigFactory"]

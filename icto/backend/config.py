"""The backend's configuration: typed keys with defaults, each one enforced by the backend.

``BackendConfig`` is an immutable record; ``CONFIG_KEYS`` says, per text key, which field it is,
its type and its range, and ``check_config_value`` is the one rule ``admin_set_config`` applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
import immutables

from icto.backend.types import (
    DAO_FACTORY,
    DISTRIBUTION_FACTORY,
    LAUNCHPAD_FACTORY,
    MULTISIG_FACTORY,
    SERVICES,
    TOKEN_FACTORY,
)
from icto.collections.records import evolve
from icto.ic.account import Account
from icto.ic.principal import Principal
from icto.ledger.presets import ICP
from icto.ledger.types import E8S, U64_MAX
from icto.validation import identified_problem

DEFAULT_FEES: Final = immutables.Map(
    {
        TOKEN_FACTORY: 1 * E8S,
        MULTISIG_FACTORY: E8S // 2,
        DISTRIBUTION_FACTORY: 1 * E8S,
        DAO_FACTORY: 5 * E8S,
        LAUNCHPAD_FACTORY: 10 * E8S,
    }
)
MAX_DEPLOYMENTS_PER_DAY: Final = 10_000


@attrs.frozen(kw_only=True)
class BackendConfig:
    enabled: immutables.Map[str, bool] = immutables.Map(dict.fromkeys(SERVICES, True))
    fees: immutables.Map[str, int] = DEFAULT_FEES
    maintenance_mode: bool = False
    payment_token: Principal = ICP.canister_id
    fee_recipient: Account | None = None
    """``None``: the backend's own default account. Refunds are always paid from the backend's
    account, so a treasury elsewhere must leave the backend enough to refund."""
    auto_refund: bool = True
    max_deployments_per_day: int = 10

    def fee(self, service: str) -> int:
        return self.fees[service]

    def value(self, key: str) -> Any:
        """The value under a text key (``"token_factory.fee"``)."""
        return CONFIG_KEYS[key].read(self)

    def items(self) -> tuple[tuple[str, Any], ...]:
        return tuple((key, self.value(key)) for key in CONFIG_KEYS)


def _bool(value: object) -> str | None:
    return None if isinstance(value, bool) else f"expects a bool, got {value!r}"


def _amount(value: object) -> str | None:
    if value.__class__ is not int:
        return f"expects an int, got {value!r}"
    return None if 0 <= value <= U64_MAX else f"must be from 0 to 2**64-1, got {value}"


def _principal(value: object) -> str | None:
    if not isinstance(value, Principal):
        return f"expects a Principal, got {value!r}"
    return None if value.is_canister else f"must be a canister id, got {value}"


def _recipient(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Account):
        return f"expects an Account or None, got {value!r}"
    return identified_problem(value.owner, "fee recipient")


def _daily_limit(value: object) -> str | None:
    if value.__class__ is not int:
        return f"expects an int, got {value!r}"
    if 1 <= value <= MAX_DEPLOYMENTS_PER_DAY:
        return None
    return f"must be from 1 to {MAX_DEPLOYMENTS_PER_DAY}, got {value}"


@attrs.frozen
class ConfigKey:
    """One text key: how to check a value, read it and write it."""

    check: Callable[[object], str | None]
    read: Callable[[BackendConfig], Any]
    write: Callable[[BackendConfig, Any], BackendConfig]


def _per_service(field: str, service: str, check: Callable[[object], str | None]) -> ConfigKey:
    return ConfigKey(
        check,
        lambda config: getattr(config, field)[service],
        lambda config, value: evolve(
            config, **{field: getattr(config, field).set(service, value)}
        ),
    )


def _field(field: str, check: Callable[[object], str | None]) -> ConfigKey:
    return ConfigKey(
        check,
        lambda config: getattr(config, field),
        lambda config, value: evolve(config, **{field: value}),
    )


CONFIG_KEYS: Final[dict[str, ConfigKey]] = {
    **{f"{service}.enabled": _per_service("enabled", service, _bool) for service in SERVICES},
    **{f"{service}.fee": _per_service("fees", service, _amount) for service in SERVICES},
    "system.maintenance_mode": _field("maintenance_mode", _bool),
    "payment.token": _field("payment_token", _principal),
    "payment.fee_recipient": _field("fee_recipient", _recipient),
    "payment.auto_refund": _field("auto_refund", _bool),
    "user.max_deployments_per_day": _field("max_deployments_per_day", _daily_limit),
}


def check_config_value(key: object, value: object) -> str | None:
    """What is wrong with setting ``key`` to ``value`` (``None``: nothing)."""
    if not isinstance(key, str) or key not in CONFIG_KEYS:
        return f"unknown configuration key {key!r}; known keys: {', '.join(CONFIG_KEYS)}"
    return CONFIG_KEYS[key].check(value)


def with_config_value(config: BackendConfig, key: str, value: Any) -> BackendConfig:
    """``config`` with ``key`` set; call ``check_config_value`` first."""
    return CONFIG_KEYS[key].write(config, value)

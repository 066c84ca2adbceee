"""``deploy_storage``: create and install a storage canister in one step (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Iterable

from icto.ic.ic import IC
from icto.ic.principal import Principal
from icto.ic.proxy import CanisterProxy
from icto.storage.base import StorageBase
from icto.storage.types import StorageInit


def deploy_storage(
    ic: IC,
    code: type[StorageBase],
    *,
    writers: Iterable[Principal] = (),
    admins: Iterable[Principal] = (),
    controllers: Iterable[Principal] | None = None,
    caller: Principal | None = None,
    cycles: int | None = None,
) -> CanisterProxy:
    """Deploy ``code`` (``AuditStorage`` or ``InvoiceStorage``) with these writers whitelisted;
    return a proxy. Controllers default to ``[caller]``, as with ``ic.deploy``."""
    if not (isinstance(code, type) and issubclass(code, StorageBase)):
        raise TypeError(f"code must be a StorageBase subclass, got {code!r}")
    return ic.deploy(
        code,
        StorageInit(admins=tuple(admins), writers=tuple(writers)),
        controllers=None if controllers is None else tuple(controllers),
        caller=caller,
        cycles=cycles,
    )

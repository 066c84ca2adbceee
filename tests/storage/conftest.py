"""Storage fixtures: each storage is controlled by ``admin`` and has ``backend`` whitelisted."""

from __future__ import annotations

import pytest

from icto import IC, Principal
from icto.ic.proxy import CanisterProxy
from icto.storage import AuditStorage, InvoiceStorage, deploy_storage


@pytest.fixture
def audit(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """An ``AuditStorage`` controlled by ``admin``, ``backend`` its one writer; called as
    ``backend``."""
    return deploy_storage(ic, AuditStorage, writers=[backend], caller=admin).as_caller(backend)


@pytest.fixture
def invoice(ic: IC, admin: Principal, backend: Principal) -> CanisterProxy:
    """An ``InvoiceStorage`` controlled by ``admin``, ``backend`` its one writer; called as
    ``backend``."""
    return deploy_storage(ic, InvoiceStorage, writers=[backend], caller=admin).as_caller(backend)

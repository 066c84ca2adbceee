"""icto: the ICTO V2 token-operations platform of the Internet Computer, in memory.

``from icto import IC, Principal, Account, Ok, Err, CallRejected, RejectCode``;
``icto.deploy_system(ic)`` deploys the whole platform.
"""

from icto.backend import Backend, BackendInit, DeploymentResult, SetupArgs, UserStatus
from icto.factory import *  # noqa: F403
from icto.factory import __all__ as _factory_all
from icto.ic import *  # noqa: F403
from icto.ic import __all__ as _ic_all
from icto.ledger import *  # noqa: F403
from icto.ledger import __all__ as _ledger_all
from icto.storage import *  # noqa: F403
from icto.storage import __all__ as _storage_all
from icto.system import System, deploy_system
from icto.token import *  # noqa: F403
from icto.token import __all__ as _token_all

__version__ = "0.1.0"
# The backend's errors stay in ``icto.backend``: its ``DeploymentFailed`` carries the refund,
# while ``icto.DeploymentFailed`` is the factory's.
__all__ = [
    *_ic_all, *_ledger_all, *_factory_all, *_token_all, *_storage_all,
    "Backend", "BackendInit", "DeploymentResult", "SetupArgs", "System", "UserStatus",
    "__version__", "deploy_system",
]  # fmt: skip

"""The simulated Internet Computer: principals, canisters, messages, management, time, snapshots.

Knows nothing of ICTO: everything above it is "just canisters".
"""

from icto.ic.account import DEFAULT_SUBACCOUNT, Account, InvalidAccount
from icto.ic.canister import Canister, Trap, module_hash, query, update
from icto.ic.errors import (
    BadUse,
    CallRejected,
    CallsNotAllowed,
    ErrorCode,
    InvalidArguments,
    Reject,
    RejectCode,
)
from icto.ic.faults import FaultRule, Faults
from icto.ic.ic import GENESIS_TIME, IC
from icto.ic.management import CanisterSettings, CanisterStatus, InstallMode
from icto.ic.principal import InvalidPrincipal, Principal
from icto.ic.proxy import CanisterProxy
from icto.ic.result import Err, Ok, Result, UnwrapError
from icto.ic.router import MANAGEMENT_ID
from icto.ic.trace import CallTree, Trace, TraceEntry
from icto.ic.world import LogRecord, World

__all__ = [
    "DEFAULT_SUBACCOUNT",
    "GENESIS_TIME",
    "IC",
    "MANAGEMENT_ID",
    "Account",
    "BadUse",
    "CallRejected",
    "CallTree",
    "CallsNotAllowed",
    "Canister",
    "CanisterProxy",
    "CanisterSettings",
    "CanisterStatus",
    "Err",
    "ErrorCode",
    "FaultRule",
    "Faults",
    "InstallMode",
    "InvalidAccount",
    "InvalidArguments",
    "InvalidPrincipal",
    "LogRecord",
    "Ok",
    "Principal",
    "Reject",
    "RejectCode",
    "Result",
    "Trace",
    "TraceEntry",
    "Trap",
    "UnwrapError",
    "World",
    "module_hash",
    "query",
    "update",
]

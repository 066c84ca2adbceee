"""How messages fail: reject codes, what a canister raises to reject, and what callers see.

On the IC a call ends in a reply or a reject. A reject carries a *reject code* (who failed, how) and
an *error code* ``IC0xxx`` whose hundreds digit is the reject code (IC interface specification,
"Reject codes"; PocketIC's ``ErrorCode``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from icto.ic.principal import Principal


class RejectCode(enum.IntEnum):
    SYS_FATAL = 1
    SYS_TRANSIENT = 2
    DESTINATION_INVALID = 3
    CANISTER_REJECT = 4
    CANISTER_ERROR = 5


class ErrorCode(enum.StrEnum):
    """The error codes icto produces, with the IC's numbering."""

    SUBNET_OVERSUBSCRIBED = "IC0101"
    CANISTER_QUEUE_FULL = "IC0201"
    CANISTER_OUT_OF_CYCLES = "IC0207"
    CANISTER_NOT_FOUND = "IC0301"
    INSUFFICIENT_CYCLES_FOR_CREATE = "IC0403"
    CANISTER_REJECTED_MESSAGE = "IC0406"
    UNKNOWN_MANAGEMENT_MESSAGE = "IC0407"
    INVALID_MANAGEMENT_PAYLOAD = "IC0408"
    CANISTER_CALLED_TRAP = "IC0503"
    CANISTER_CONTRACT_VIOLATION = "IC0504"
    CANISTER_STOPPED = "IC0508"
    CANISTER_NOT_STOPPED = "IC0510"
    CANISTER_INVALID_CONTROLLER = "IC0512"
    CANISTER_NON_EMPTY = "IC0514"
    CALL_GRAPH_TOO_DEEP = "IC0525"
    COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE = "IC0527"
    CANISTER_METHOD_NOT_FOUND = "IC0536"
    CANISTER_WASM_MODULE_NOT_FOUND = "IC0537"
    CANISTER_ALREADY_INSTALLED = "IC0538"


DEFAULT_ERROR_CODES: dict[RejectCode, ErrorCode] = {
    RejectCode.SYS_FATAL: ErrorCode.SUBNET_OVERSUBSCRIBED,
    RejectCode.SYS_TRANSIENT: ErrorCode.CANISTER_QUEUE_FULL,
    RejectCode.DESTINATION_INVALID: ErrorCode.CANISTER_NOT_FOUND,
    RejectCode.CANISTER_REJECT: ErrorCode.CANISTER_REJECTED_MESSAGE,
    RejectCode.CANISTER_ERROR: ErrorCode.CANISTER_CALLED_TRAP,
}


class Reject(Exception):
    """Raised by canister code to reject the current message, like ``msg_reject``.

    Unlike a trap, the state changes of the current segment are kept. The caller receives reject
    code 4 ``CANISTER_REJECT`` (``IC0406``) with this message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CallRejected(Exception):
    """A call was rejected: raised at the caller (a test, or canister code awaiting a call).

    Canister code that does not catch it traps in turn, rolling back its own segment.
    ``cycles_accepted`` is what the callee kept of the cycles attached (the rest was refunded).
    """

    cycles_accepted: int = 0

    def __init__(
        self,
        reject_code: RejectCode,
        error_code: str,
        message: str,
        canister_id: Principal | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(f"{error_code} ({reject_code.name}): {message}")
        self.reject_code = RejectCode(reject_code)
        self.error_code = error_code
        self.message = message
        self.canister_id = canister_id
        self.method = method

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (self.reject_code, self.error_code, self.message, self.canister_id, self.method),
        )


class InvalidArguments(CallRejected, TypeError):
    """The arguments do not fit the method's signature (the IC's "failed to decode" trap).

    Also a ``TypeError``, so plain Python code can catch it as one.
    """


class CallsNotAllowed(RuntimeError):
    """Raised inside canister code that tries to call out where the IC forbids it.

    Queries (other than composite queries), ``init``, ``pre_upgrade`` and ``post_upgrade`` cannot
    make inter-canister calls; if not caught, this traps the message.
    """


class BadUse(ValueError):
    """The test-facing API was used wrongly (e.g. moving time backwards); nothing changed."""

"""Fault injection: make chosen calls fail, to test failure paths that cannot happen otherwise.

``ic.faults.reject(...)`` rejects matching calls before the callee runs; ``ic.faults.trap(...)``
lets the callee run and then traps it, so its changes are rolled back. Rules match by callee and
method (``None`` matches all), skip the first ``after`` matches and fire ``times`` times
(``None``: every time). Each rule is also a context manager that removes itself on exit. Faults are
test settings, not world state: anchors do not restore them.
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal

from icto.ic.errors import DEFAULT_ERROR_CODES, RejectCode
from icto.ic.principal import Principal


class FaultRule:
    """One installed fault. ``matched`` counts matching calls, ``fired`` the faults injected."""

    def __init__(
        self,
        faults: Faults,
        kind: Literal["reject", "trap"],
        canister: Principal | None,
        method: str | None,
        code: RejectCode,
        error_code: str,
        message: str,
        times: int | None,
        after: int,
    ) -> None:
        self._faults = faults
        self.kind = kind
        self.canister = canister
        self.method = method
        self.code = code
        self.error_code = error_code
        self.message = message
        self.times = times
        self.after = after
        self.matched = 0
        self.fired = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def remove(self) -> None:
        self._faults.remove(self)

    def __enter__(self) -> FaultRule:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        target = f"{self.canister or '*'}.{self.method or '*'}"
        return (
            f"<FaultRule {self.kind} {target} fired {self.fired}/{self.times or '∞'} "
            f"after {self.after}>"
        )


def _validate(
    canister: Principal | None, method: str | None, times: int | None, after: int
) -> None:
    if canister is not None and not isinstance(canister, Principal):
        raise TypeError(f"canister must be a Principal or None, not {type(canister).__name__}")
    if method is not None and not isinstance(method, str):
        raise TypeError(f"method must be str or None, not {type(method).__name__}")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be a positive int or None, got {times!r}")
    if not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be a non-negative int, got {after!r}")


class Faults:
    """The installed fault rules of one IC, checked in installation order."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def reject(
        self,
        canister: Principal | None = None,
        method: str | None = None,
        code: RejectCode = RejectCode.SYS_TRANSIENT,
        message: str = "injected fault",
        times: int | None = 1,
        after: int = 0,
        error_code: str | None = None,
    ) -> FaultRule:
        """Reject matching calls with ``code`` before the callee runs."""
        _validate(canister, method, times, after)
        code = RejectCode(code)
        rule = FaultRule(
            self, "reject", canister, method, code,
            error_code or DEFAULT_ERROR_CODES[code], message, times, after,
        )  # fmt: skip
        self.rules.append(rule)
        return rule

    def trap(
        self,
        canister: Principal | None = None,
        method: str | None = None,
        message: str = "injected trap",
        times: int | None = 1,
        after: int = 0,
    ) -> FaultRule:
        """Let matching calls run, then trap them (their changes are rolled back)."""
        _validate(canister, method, times, after)
        code = RejectCode.CANISTER_ERROR
        rule = FaultRule(
            self, "trap", canister, method, code, DEFAULT_ERROR_CODES[code], message, times, after
        )
        self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, canister: Principal, method: str) -> FaultRule | None:
        """The rule that fires for this call, if any (counting the match)."""
        for rule in self.rules:
            if (rule.canister is None or rule.canister == canister) and (
                rule.method is None or rule.method == method
            ):
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                rule.fired += 1
                if rule.exhausted:
                    self.rules.remove(rule)
                return rule
        return None

    def __repr__(self) -> str:
        return f"<Faults {self.rules!r}>"

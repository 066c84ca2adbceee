"""Fault injection: make chosen calls fail, to test failure paths that cannot happen otherwise.

``ic.faults.reject(...)`` rejects matching calls before the callee runs; ``ic.faults.trap(...)``
lets the callee run and then traps it, so its changes are rolled back. Rules match by callee and
method (``None`` matches all), skip the first ``after`` matches and fire ``times`` times
(``None``: every time). A trap counts as fired when it is injected, at the end of the callee's
method: a call refused before the callee runs (bad arguments, no cycles, a stopped canister, no
such method) or one that traps by itself does not use it up, and calls nested inside one it
matched never take more than its ``times``.
Each rule is also a context manager that removes itself on exit. Faults are test settings, not
world state: anchors do not restore them.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any, Final, Literal, TypeAlias

from icto.ic.argcheck import is_int
from icto.ic.context import InjectedTrap
from icto.ic.errors import DEFAULT_ERROR_CODES, RejectCode
from icto.ic.principal import Principal
from icto.ic.trace import principal_or_none

CanisterArg: TypeAlias = Principal | str | Any | None
"""What a rule's ``canister`` may be given as: the forms ``ic.actor`` and ``ic.trace.calls``
take (a principal, its text or a canister proxy: ``proxy`` imports this module's importers, so
it is not named here), or None for every canister."""


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
        self.armed = 0
        """Calls running now that this trap rule matched and has not injected into yet (a call
        they make may match it too: it is spoken for, up to ``times``)."""

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def _count(self) -> None:
        self.matched += 1
        self.fired += 1
        if self.exhausted:
            self.remove()

    def inject(self) -> InjectedTrap:
        """Count this trap rule as fired, now that the callee has run, and give the trap to
        raise at the end of its method."""
        self._count()
        return InjectedTrap(self.message)

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
        canister = "*" if self.canister is None else self.canister  # aaaaa-aa is falsy bytes
        target = f"{canister}.{'*' if self.method is None else self.method}"
        return (
            f"<FaultRule {self.kind} {target} fired {self.fired}/{self.times or '∞'} "
            f"after {self.after}>"
        )


_ERROR_CODE: Final = re.compile(r"IC[0-9]{4}")


def _validate(
    canister: CanisterArg, method: str | None, times: int | None, after: int, message: str
) -> Principal | None:
    """Refuse a rule that could not make the typed reject it promises (bools are not counts);
    return the canister it matches as a ``Principal`` (None: every canister)."""
    callee = principal_or_none(canister, "canister")
    if method is not None and not isinstance(method, str):
        raise TypeError(f"method must be str or None, not {type(method).__name__}")
    if times is not None and (not is_int(times) or times < 1):
        raise ValueError(f"times must be a positive int or None, got {times!r}")
    if not is_int(after) or after < 0:
        raise ValueError(f"after must be a non-negative int, got {after!r}")
    if not isinstance(message, str):
        raise TypeError(f"message must be str, not {type(message).__name__}")
    return callee


FaultsMark = tuple[tuple[FaultRule, int, int], ...]
"""What ``Faults.mark`` returns: each rule with its ``matched`` and ``fired`` counts."""


class Faults:
    """The installed fault rules of one IC, checked in installation order."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def reject(
        self,
        canister: CanisterArg = None,
        method: str | None = None,
        code: RejectCode = RejectCode.SYS_TRANSIENT,
        message: str = "injected fault",
        times: int | None = 1,
        after: int = 0,
        error_code: str | None = None,
    ) -> FaultRule:
        """Reject matching calls with ``code`` (and ``error_code``, an ``"IC0000"``-style text;
        by default the code's usual one) before the callee runs. The reject carries the error
        code as a plain ``str``, as every other reject does. ``canister`` is a principal, its
        text or a canister proxy, as ``ic.actor`` takes it (None: every canister)."""
        callee = _validate(canister, method, times, after, message)
        if not is_int(code) or code not in set(RejectCode):
            raise ValueError(f"code must be a RejectCode, got {code!r}")
        code = RejectCode(code)
        if error_code is not None and not (
            isinstance(error_code, str) and _ERROR_CODE.fullmatch(error_code)
        ):
            raise ValueError(f"error_code must be None or like 'IC0503', got {error_code!r}")
        text = DEFAULT_ERROR_CODES[code].value if error_code is None else str(error_code)
        rule = FaultRule(self, "reject", callee, method, code, text, message, times, after)
        self.rules.append(rule)
        return rule

    def trap(
        self,
        canister: CanisterArg = None,
        method: str | None = None,
        message: str = "injected trap",
        times: int | None = 1,
        after: int = 0,
    ) -> FaultRule:
        """Let matching calls run, then trap them (their changes are rolled back). ``canister``
        is given as for ``reject``."""
        callee = _validate(canister, method, times, after, message)
        code = RejectCode.CANISTER_ERROR
        rule = FaultRule(
            self, "trap", callee, method, code, DEFAULT_ERROR_CODES[code].value, message, times,
            after,
        )  # fmt: skip
        self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def mark(self) -> FaultsMark:
        """The rules installed now and how far each has counted, for ``rewind``."""
        return tuple((rule, rule.matched, rule.fired) for rule in self.rules)

    def rewind(self, mark: FaultsMark) -> None:
        """Put back the rules of ``mark`` with the counts they had then: rules installed since
        are removed, rules used up since are back. Only between messages (nothing is armed)."""
        self.rules = []
        for rule, matched, fired in mark:
            rule.matched, rule.fired, rule.armed = matched, fired, 0
            self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, canister: Principal, method: str) -> FaultRule | None:
        """The rule that fires for this call, if any. A skipped match (one of a rule's first
        ``after``) and a reject are counted here; a trap is counted by ``inject``, when the
        callee has run."""
        for rule in self.rules:
            if (rule.canister is None or rule.canister == canister) and (
                rule.method is None or rule.method == method
            ):
                if rule.matched < rule.after:
                    rule.matched += 1
                    continue
                if rule.kind == "reject":
                    rule._count()
                    return rule
                if rule.times is not None and rule.fired + rule.armed >= rule.times:
                    continue  # every trap it has left is spoken for by a call still running
                rule.armed += 1
                return rule
        return None

    @staticmethod
    def finished(rule: FaultRule) -> None:
        """The call a trap rule matched has ended, injected into or not."""
        if rule.kind == "trap":
            rule.armed -= 1

    def __repr__(self) -> str:
        return f"<Faults {self.rules!r}>"

"""``assert_rejected``: the block must end in a ``CallRejected`` of the expected kind."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from icto.ic.errors import CallRejected, RejectCode


class Rejection:
    """What ``assert_rejected`` yields: ``value`` is the ``CallRejected`` once the block is over
    (reading it earlier, or after a block that did not reject, raises ``AttributeError``)."""

    def __init__(self) -> None:
        self._value: CallRejected | None = None

    @property
    def value(self) -> CallRejected:
        if self._value is None:
            raise AttributeError("no rejection was caught (yet)")
        return self._value

    def __repr__(self) -> str:
        return f"<Rejection {self._value!r}>"


def _mismatches(
    error: CallRejected, code: RejectCode | int | None, error_code: str | None, match: str | None
) -> list[str]:
    problems = []
    if code is not None and error.reject_code != RejectCode(code):
        problems.append(f"reject code {error.reject_code!r}, expected {RejectCode(code)!r}")
    if error_code is not None and error.error_code != error_code:
        problems.append(f"error code {error.error_code}, expected {error_code}")
    if match is not None and not re.search(match, error.message):
        problems.append(f"message {error.message!r} does not match {match!r}")
    return problems


@contextlib.contextmanager
def assert_rejected(
    code: RejectCode | int | None = None,
    error_code: str | None = None,
    match: str | None = None,
) -> Iterator[Rejection]:
    """Assert that the block raises ``icto.ic.errors.CallRejected`` (or a subclass).

    ``code``: the reject code it must carry (a ``RejectCode`` or its int); ``error_code``: the
    ``IC0xxx`` code; ``match``: a regular expression ``re.search``-ed in the reject message.
    ``None`` checks nothing. Raises ``AssertionError`` (chained to the rejection, if any) when
    the block returns normally or the rejection differs; other exceptions pass through.
    Yields a ``Rejection`` whose ``value`` is the caught exception after the block.
    """
    expected = None if code is None else RejectCode(code)
    rejection = Rejection()
    try:
        yield rejection
    except CallRejected as error:
        problems = _mismatches(error, expected, error_code, match)
        if problems:
            raise AssertionError(f"wrong rejection ({'; '.join(problems)}): {error}") from error
        rejection._value = error
    else:
        wanted = ", ".join(
            f"{name}={value!r}" for name, value in
            (("code", expected), ("error_code", error_code), ("match", match))
            if value is not None
        )  # fmt: skip
        raise AssertionError(f"the block was not rejected (expected CallRejected {wanted})")

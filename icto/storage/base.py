"""What AuditStorage and InvoiceStorage share: the whitelist, the reader rule, cursor pages.

Who may do what:

* **Admins** are the canister's controllers and the principals in the admin list. They edit the
  whitelist and the admin list and read everything, but they do not write records unless they
  are whitelisted too: being a controller is not being a writer.
* **Writers** are the whitelisted principals (the backend). They write and read everything.
* **Anyone else** reads only the records about themselves (``user == caller``). Asking about
  somebody else is a ``Reject``; asking for one record by id answers ``None``.

A refused update is counted (``access_denied``) and logged (``AccessDenied: …``). A refused query
is rejected the same way, but its count is dropped with the rest of the query's writes, as on
the IC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any, ClassVar, TypeVar

import attrs

from icto.collections import SortedSet
from icto.collections.records import evolve
from icto.ic.canister import Canister, check_upgrade, query, update
from icto.ic.errors import Reject
from icto.ic.principal import Principal
from icto.ic.result import Err, Ok
from icto.storage.types import INVALID_RECORD, MAX_PAGE, StorageInit
from icto.validation import (
    NotIdentified,
    identified_problem,
    is_nat,
    require_identified,
    text_problem,
    trimmed,
)

T = TypeVar("T")

UNAUTHORIZED_WRITE = "Unauthorized: only a whitelisted writer may"
UNAUTHORIZED_ADMIN = "Unauthorized: only an admin may"
UNAUTHORIZED_READ = "Unauthorized: only a writer, an admin or the user themselves may"


@attrs.frozen(kw_only=True)
class StorageState:
    admins: frozenset[Principal]
    writers: frozenset[Principal]
    access_denied: int = 0


def is_text(value: object, longest: int) -> bool:
    """``value`` is non-empty free text of at most ``longest`` characters that the platform's
    text rule accepts (no controls but newline and tab, no bidi overrides, no surrogates)."""
    return text_problem("text", value, 1, longest, multiline=True) is None


def is_line(value: object, longest: int) -> bool:
    """``value`` is 1 to ``longest`` characters of one-line text, as the text rule wants short
    fields (ids, names, keys): no newline or tab, no whitespace at either end."""
    return text_problem("text", value, 1, longest) is None


def are_clean_lines(texts: list[str]) -> bool:
    """Each of ``texts`` passes the one-line rule (their lengths are not checked), with one scan
    of them joined by spaces, which the rule allows inside a line."""
    for text in texts:
        if text.__class__ is not str or text != trimmed(text):
            return False
    joined = " ".join(texts)
    return text_problem("text", joined, 0, len(joined)) is None


def is_clean_text(text: str) -> bool:
    """``text`` holds no character the text rule forbids in free text (its length is not
    checked). Texts joined with newlines pass together exactly when each passes alone, so one
    scan checks the characters of a whole record."""
    return text_problem("text", text, 0, len(text), multiline=True) is None


class InvalidRecord(Reject):
    """A writer's record refused for what it says (its message starts with ``INVALID_RECORD``):
    sending it again cannot succeed, so a writer sets it aside rather than retrying it."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{INVALID_RECORD}: {message}")


def check_page(cursor: object, limit: object) -> None:
    """Reject unless ``cursor`` is ``None`` or a non-negative int and ``1 <= limit <= MAX_PAGE``."""
    if cursor is not None and not is_nat(cursor):
        raise Reject(f"cursor must be a non-negative int or None, got {cursor!r}")
    if not is_nat(limit) or not 1 <= limit <= MAX_PAGE:  # type: ignore[operator]
        raise Reject(f"limit must be an int from 1 to {MAX_PAGE}, got {limit!r}")


def ids_between(
    ids: SortedSet[int] | None, count: int, low: int, high: int, descending: bool
) -> Iterator[int]:
    """The ids ``low <= id <= high`` of ``ids`` (``None``: every id below ``count``), ascending or
    descending; reaching the first one costs O(log n)."""
    high = min(high, count - 1)
    if low > high:
        return iter(())
    if ids is None:
        return iter(range(high, low - 1, -1) if descending else range(low, high + 1))
    if descending:
        start = ids.index(high + 1) - 1
        return _while(ids.iter_from(start, descending=True), lambda i: i >= low)
    return _while(ids.iter_from(ids.index(low)), lambda i: i <= high)


def _while(ids: Iterator[int], keep: Callable[[int], bool]) -> Iterator[int]:
    for i in ids:
        if not keep(i):
            return
        yield i


def take_page(ids: Iterator[int], limit: int) -> tuple[tuple[int, ...], int | None]:
    """The first ``limit`` of ``ids`` and the one after them (the next cursor), or ``None``."""
    taken = tuple(islice(ids, limit + 1))
    if len(taken) > limit:
        return taken[:limit], taken[limit]
    return taken, None


class StorageBase(Canister):
    """The whitelist, admin list and reader rule of a storage canister.

    Subclasses set ``STATE`` (a ``StorageState`` subclass whose other fields have defaults).
    """

    VERSION = "1.0.0"
    STATE: ClassVar[type[StorageState]] = StorageState

    state: StorageState

    def init(self, arg: StorageInit | None = None) -> None:
        arg = StorageInit() if arg is None else arg
        if not isinstance(arg, StorageInit):
            raise TypeError(f"a storage is installed with a StorageInit, got {type(arg).__name__}")
        for principal in (*arg.admins, *arg.writers):
            if not isinstance(principal, Principal):
                raise TypeError(f"admins and writers are Principals, got {principal!r}")
            reason = identified_problem(principal, "storage admin or writer")
            if reason is not None:
                raise ValueError(reason)
        self.state = self.STATE(admins=frozenset(arg.admins), writers=frozenset(arg.writers))

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        """Keep ``stable``, which must be this kind of storage's state; an upgrade takes no
        argument (the whitelist and admins are edited by their methods). Anything else traps,
        so the IC rolls the upgrade back: the old code and its state stay, instead of new code
        that traps on every call."""
        check_upgrade(stable, arg, self.STATE, type(self).__name__)
        super().post_upgrade(stable, arg)

    # -- who may do what ----------------------------------------------------------------------

    def _is_admin(self, principal: Principal) -> bool:
        return principal in self.state.admins or self.is_controller(principal)

    def _is_writer(self, principal: Principal) -> bool:
        return principal in self.state.writers

    def _is_privileged(self, principal: Principal) -> bool:
        """Writers and admins read everything."""
        return self._is_writer(principal) or self._is_admin(principal)

    def _deny(self, message: str) -> Reject:
        """Count and log a refused caller; the caller raises the returned ``Reject``."""
        self.state = evolve(self.state, access_denied=self.state.access_denied + 1)
        self.log(f"AccessDenied: {self.caller} {message}")
        return Reject(message)

    def _require_admin(self, what: str) -> None:
        if not self._is_admin(self.caller):
            raise self._deny(f"{UNAUTHORIZED_ADMIN} {what}")

    def _require_writer(self, what: str) -> None:
        if not self._is_writer(self.caller):
            raise self._deny(f"{UNAUTHORIZED_WRITE} {what}")

    def _require_privileged(self, what: str) -> None:
        if not self._is_privileged(self.caller):
            raise self._deny(f"Unauthorized: only a writer or an admin may {what}")

    def _require_reader_of(self, user: Principal | None, what: str) -> None:
        """Writers and admins read anything; anyone else only records about themselves."""
        if not self._may_read(user):
            raise self._deny(f"{UNAUTHORIZED_READ} {what}")

    def _may_read(self, user: Principal | None) -> bool:
        """Whether the caller may read a record about ``user``. The anonymous principal is
        nobody in particular: records about it (a refused anonymous call) are not its own."""
        caller = self.caller
        return (user == caller and not caller.is_anonymous) or self._is_privileged(caller)

    # -- the whitelist and the admin list -----------------------------------------------------

    @update
    def add_to_whitelist(self, writer: Principal) -> Ok[None] | Err[NotIdentified]:
        """Admin: let ``writer`` write (idempotent). The anonymous principal and the management
        canister cannot be writers."""
        self._require_admin("edit the whitelist")
        refused = require_identified(writer, "writer")
        if refused is not None:
            return refused
        self.state = evolve(self.state, writers=self.state.writers | {writer})
        return Ok(None)

    @update
    def remove_from_whitelist(self, writer: Principal) -> None:
        """Admin: stop ``writer`` writing (idempotent). Its records stay."""
        self._require_admin("edit the whitelist")
        self.state = evolve(self.state, writers=self.state.writers - {writer})

    @update
    def set_admins(self, admins: tuple[Principal, ...]) -> Ok[None] | Err[NotIdentified]:
        """Admin: replace the admin list (controllers stay admins whatever it says)."""
        self._require_admin("set the admins")
        for admin in admins:
            refused = require_identified(admin, "admin")
            if refused is not None:
                return refused
        self.state = evolve(self.state, admins=frozenset(admins))
        return Ok(None)

    @query
    def is_whitelisted(self, principal: Principal) -> bool:
        """Whether ``principal`` may write (anyone may ask)."""
        return principal in self.state.writers

    @query
    def get_whitelist(self) -> tuple[Principal, ...]:
        """The writers, sorted (anyone may ask)."""
        return tuple(sorted(self.state.writers))

    @query
    def get_admins(self) -> tuple[Principal, ...]:
        """The admin list, sorted, without the controllers (anyone may ask)."""
        return tuple(sorted(self.state.admins))

"""Canister proxies: ``proxy.method(*args)`` sends an update or a query, as the method declares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from icto.ic.canister import QUERY
from icto.ic.context import INGRESS, INGRESS_QUERY
from icto.ic.principal import Principal
from icto.ic.world import DELETED, STOPPED, World


class Agent(Protocol):
    """The small call interface a proxy stands on (``IC`` provides it)."""

    @property
    def default_caller(self) -> Principal: ...

    @property
    def world(self) -> World: ...

    def code_of(self, canister_id: Principal) -> type[Any] | None: ...

    def canister_exists(self, canister_id: Principal) -> bool: ...

    def cycles_balance(self, canister_id: Principal) -> int: ...

    def _send(
        self,
        kind: str,
        callee: Principal,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        caller: Principal | None,
    ) -> Any: ...


class CanisterProxy:
    """A handle on one canister for one caller (``None``: the IC's current default caller).

    Attribute access finds the method on the code the canister runs *now*, so a proxy stays valid
    across upgrades. ``as_caller(p)`` returns the same handle for another caller.

    The callable for a method is built on first use and kept in the proxy's own dictionary, so
    later accesses are plain attribute lookups; each call checks that the canister still runs
    the code it was built for, and finds the method anew if not (an upgrade may remove a method
    or turn an update into a query).
    """

    __slots__ = ("__dict__", "_caller", "_ic", "id")

    _ic: Agent
    _caller: Principal | None
    id: Principal

    def __init__(self, ic: Agent, canister_id: Principal, caller: Principal | None = None) -> None:
        if not isinstance(canister_id, Principal):
            raise TypeError(f"canister_id must be a Principal, not {type(canister_id).__name__}")
        if caller is not None and not isinstance(caller, Principal):
            raise TypeError(f"caller must be a Principal or None, not {type(caller).__name__}")
        object.__setattr__(self, "_ic", ic)
        object.__setattr__(self, "id", canister_id)
        object.__setattr__(self, "_caller", caller)

    @property
    def caller(self) -> Principal:
        return self._caller if self._caller is not None else self._ic.default_caller

    def as_caller(self, caller: Principal) -> CanisterProxy:
        return CanisterProxy(self._ic, self.id, caller)

    def _methods(self, code: type[Any] | None = None) -> Any:
        if self.id.is_management_canister:
            from icto.ic.management import MANAGEMENT_METHODS

            return MANAGEMENT_METHODS
        if code is None:
            code = self._ic.code_of(self.id)
        return {} if code is None else code.__icto_methods__

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        code = self._ic.code_of(self.id)
        spec = self._methods(code).get(name)
        if spec is None:
            raise AttributeError(f"{self!r} has no public method {name!r}")
        agent, canister_id, caller = self._ic, self.id, self._caller
        send, code_of = agent._send, agent.code_of
        kind = INGRESS_QUERY if spec.kind == QUERY else INGRESS
        kept = self.__dict__

        def method(*args: Any, **kwargs: Any) -> Any:
            if code_of(canister_id) is not code:
                if kept.get(name) is method:
                    del kept[name]
                return getattr(self, name)(*args, **kwargs)
            return send(kind, canister_id, name, args, kwargs, caller)

        method.__name__ = name
        method.__doc__ = spec.fn.__doc__
        kept[name] = method
        return method

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("CanisterProxy is immutable")

    def __dir__(self) -> list[str]:
        return sorted({"id", "caller", "as_caller", *self._methods()})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CanisterProxy):
            return NotImplemented
        return self._ic is other._ic and self.id == other.id and self._caller == other._caller

    def __hash__(self) -> int:
        return hash((self.id, self._caller))

    def __repr__(self) -> str:
        """Says what the canister is now: its code and version, empty, stopped, deleted, or no
        such canister (an id that was never created)."""
        if self.id.is_management_canister:
            return f"<Canister management {self.id}>"
        record = self._ic.world.canisters.get(self.id)
        if record is None:
            return f"<Canister (no such canister) {self.id}>"
        if record.status == DELETED:
            return f"<Canister (deleted) {self.id}>"
        code, stopped = record.code, " stopped" if record.status == STOPPED else ""
        if code is None:
            return f"<Canister (empty) {self.id}{stopped}>"
        return f"<Canister {code.__name__} {self.id} v{code.VERSION}{stopped}>"

    def _repr_html_(self) -> str:
        from icto.ic.html import Markup, code, fields_table

        methods = self._methods()
        rows: list[tuple[str, Any]] = [("id", self.id)]
        cls = None if self.id.is_management_canister else self._ic.code_of(self.id)
        if cls is not None:
            rows += [("code", cls.__name__), ("version", cls.VERSION)]
            if self._ic.canister_exists(self.id):
                rows.append(("cycles", self._ic.cycles_balance(self.id)))
        rows.append(("caller", self.caller))
        for kind in sorted({spec.kind for spec in methods.values()}):
            names = sorted(name for name, spec in methods.items() if spec.kind == kind)
            rows.append((f"{kind} methods", Markup(", ".join(code(name) for name in names))))
        return fields_table(repr(self), rows)

"""Hostile input at every public update method: the canisters answer or refuse, never trap,
and a refusal changes nothing.

For each update method of the Backend, the Token Factory, AuditStorage and InvoiceStorage, one
hypothesis test calls it, as anybody, with anything, and states:

1. **Never a trap.** The outcome is a reply (any value, ``Ok`` included), a typed ``Err`` whose
   error is a record, an explicit refusal (reject code ``CANISTER_REJECT``, e.g.
   "Unauthorized"), or ``InvalidArguments``: the boundary's typed decode failure.
2. **A refusal changes nothing.** After a typed ``Err`` or any reject, the states of the
   canisters are what they were, except the ``access_denied`` counters a refused caller bumps.
   Logs and cycles are not state: every message spends cycles and may log.

   One ``Err`` is not a refusal: ``Err(UpgradeFailed)`` from a factory's ``upgrade_contract`` or
   ``rollback_contract`` says the call was accepted, the factory *attempted* the install and the
   IC refused it (a hook trapped). The spec (factories.md §4) says that then "the contract keeps
   its old code and state, the factory records the failure, and nothing else changes", so after
   such an answer exactly that is checked: the contract's code, state and controllers are as they
   were, the factory's ``history`` of that contract has grown by exactly one failed
   ``UpgradeRecord`` (kind, from and to versions, caller and the error's reason), its
   ``failed_upgrades`` counter by one, and nothing else in any canister changed.

Callers are the operator (controller and admin), the backend canister (a whitelisted writer of
the storages and backend of the factory), the owner of a deployed token and the token itself
(so owner-only and contract-only paths are reached), random users, the anonymous principal and
the management canister; half the time the caller is one the canister gives a role to.
Arguments are drawn from each parameter's annotation: texts with lone surrogates, control
characters, bidi overrides, a megabyte or nothing; integers at and past every boundary;
principals of every kind; records built field by field from the same values; now and then a
value of the wrong type or one argument too few or too many. The world holds a deployed token
(opted in to auto-update), two token versions uploaded but not published (one whose upgrade hook
traps), a completed payment and a refund awaiting approval, and the pools of texts and
principals name them, so calls reach past "unknown id" into the real paths.
"""

from __future__ import annotations

import enum
import inspect
import reprlib
import string
import traceback
import types
import typing
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from icto import (
    E8S,
    IC,
    U64_MAX,
    Account,
    CallRejected,
    Canister,
    Err,
    InvalidArguments,
    Principal,
    RejectCode,
)
from icto.backend import Backend
from icto.backend.config import CONFIG_KEYS
from icto.backend.state import BackendState
from icto.backend.types import SERVICES, STORAGES
from icto.dao import DAO, DAOConfig, DAOFactory, Motion
from icto.dao.types import DAOState
from icto.dex import Pool, PoolInit, PoolState
from icto.factory import UnknownVersion, UpgradeFailed, UpgradeRecord
from icto.factory.base import FactoryState
from icto.launchpad import FixedPrice, LaunchpadConfig, LaunchpadFactory, LaunchpadSale, ProjectInfo
from icto.launchpad.types import LaunchpadState
from icto.ledger.presets import ICP, deploy_ledger
from icto.ledger.types import ApproveArgs
from icto.multisig import (
    AddObserver,
    MultisigConfig,
    MultisigFactory,
    MultisigWallet,
    Role,
    Transfer,
    WalletState,
)
from icto.storage import AuditStorage, InvoiceStorage
from icto.storage.base import StorageState
from icto.system import System, deploy_system
from icto.token import Token, TokenConfig, TokenFactory

CANISTERS: tuple[type[Canister], ...] = (
    Backend, TokenFactory, MultisigFactory, MultisigWallet, DAOFactory, DAO, LaunchpadFactory,
    LaunchpadSale, Pool, AuditStorage, InvoiceStorage,
)  # fmt: skip
UPDATE_METHODS = [
    pytest.param(code, name, id=f"{code.__name__}.{name}")
    for code in CANISTERS
    for name, spec in code.__icto_methods__.items()
    if spec.kind == "update"
]

MAX_DEPTH = 2
"""How deep records and tuples nest in a drawn argument; deeper values are ``None``."""
MEGABYTE = "x" * 1_000_000
OWNER = Principal.from_name("hostile-input-owner")
REFUNDEE = Principal.from_name("hostile-input-refundee")

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
CONTROLS = "".join(map(chr, (*range(0x00, 0x20), *range(0x7F, 0xA0))))


class TokenV1_1(Token):
    """A newer token version not uploaded yet (uploaded as stable, it is published at once and
    upgrades the contracts that opted in)."""

    VERSION = "1.1.0"


class TokenV2(Token):
    """A newer token version, uploaded but not published."""

    VERSION = "2.0.0"


class BrokenToken(Token):
    """A version, uploaded but not published, whose upgrade hook traps: installing it over a
    contract must fail cleanly."""

    VERSION = "3.0.0"

    def post_upgrade(self, stable: Any, arg: Any) -> None:
        raise RuntimeError("this version cannot take the old state")


CODE_VALUES: tuple[type, ...] = (
    Token, TokenV1_1, TokenV2, BrokenToken, Canister, TokenFactory, Backend, AuditStorage, int,
    object,
)  # fmt: skip
"""What goes where a ``type[Canister]`` is expected: contract code, other canisters' code, the
abstract base class and classes that are no canister at all."""


def valid_token_config(symbol: str, owner: Principal) -> TokenConfig:
    holder = Account(owner, b"\x01" * 32)
    return TokenConfig(name=f"Token {symbol}", symbol=symbol, initial_balances=((holder, 10**6),))


# -- the world ----------------------------------------------------------------------------------


class World:
    """The deployed platform with some history, and a snapshot to start every example from:
    ``token`` is a token ``OWNER`` deployed through the backend (its payment completed and
    linked), ``refund_id`` the refund of a failed deployment of ``REFUNDEE``, awaiting approval."""

    def __init__(
        self, system: System, token: Principal, wallet: Principal, dao: Principal,
        sale: Principal, pool: Principal, payment_ids: tuple[str, ...], refund_id: str,
    ) -> None:  # fmt: skip
        self.ic = system.ic
        self.system = system
        self.token = token
        self.wallet = wallet
        self.dao = dao
        self.sale = sale
        self.pool = pool
        self.payment_ids = payment_ids
        self.refund_id = refund_id
        self.snapshot = system.ic.snapshot()

    def canister_id(self, code: type[Canister]) -> Principal:
        if code is MultisigWallet:
            return self.wallet
        if code is DAO:
            return self.dao
        if code is LaunchpadSale:
            return self.sale
        if code is Pool:
            return self.pool
        proxies = {
            Backend: self.system.backend, TokenFactory: self.system.token_factory,
            MultisigFactory: self.system.multisig_factory, DAOFactory: self.system.dao_factory,
            LaunchpadFactory: self.system.launchpad_factory,
            AuditStorage: self.system.audit_storage, InvoiceStorage: self.system.invoice_storage,
        }  # fmt: skip
        return proxies[code].id

    @property
    def canister_ids(self) -> tuple[Principal, ...]:
        return tuple(self.canister_id(code) for code in CANISTERS)

    def __repr__(self) -> str:
        return f"World(token={self.token!r}, refund_id={self.refund_id!r})"


def build_world() -> World:
    ic = IC()
    system = deploy_system(ic)
    backend = system.backend
    for user in (OWNER, REFUNDEE):
        system.faucet(user, 10 * E8S)
        system.approve_backend(user, 5 * E8S)
    deployed = backend.as_caller(OWNER).deploy_token(valid_token_config("OWN", OWNER)).unwrap()
    backend.admin_set_config("payment.auto_refund", False).unwrap()
    with ic.faults.reject(
        canister=system.token_factory.id, method="create_contract",
        code=RejectCode.CANISTER_REJECT, message="refused for the test",
    ):  # fmt: skip
        failed = backend.as_caller(REFUNDEE).deploy_token(valid_token_config("REF", REFUNDEE))
    refund = failed.unwrap_err().refund
    assert refund is not None and refund.status == "AwaitingApproval"
    backend.admin_set_config("payment.auto_refund", True).unwrap()
    ic.faults.clear()
    factory = system.token_factory
    for code in (TokenV2, BrokenToken):
        factory.upload_version(code.VERSION, code, "not published yet", False).unwrap()
    factory.as_caller(OWNER).set_auto_update(deployed.canister_id, True)
    wallet = backend.as_caller(OWNER).deploy_multisig(
        MultisigConfig(
            name="Hostile wallet", threshold=1, timelock=10**9,
            members=((OWNER, Role.OWNER), (REFUNDEE, Role.SIGNER)),
        )
    ).unwrap().canister_id  # fmt: skip
    system.faucet(wallet, E8S)
    signer = ic.actor(wallet, OWNER)
    signer.propose(Transfer(system.icp_ledger.id, Account(REFUNDEE), 10_000)).unwrap()
    signer.propose(AddObserver(Principal.from_name("observer"))).unwrap()
    system.approve_backend(OWNER, 6 * E8S)
    dao = backend.as_caller(OWNER).deploy_dao(
        DAOConfig(
            name="Hostile DAO", token=system.icp_ledger.id, minimum_stake=100_000,
            proposal_threshold=1, proposal_deposit=E8S // 10, quorum_bp=1_000, approval_bp=5_000,
            voting_period=3600 * 10**9, timelock=0, emergency_contacts=(REFUNDEE,),
        )
    ).unwrap().canister_id  # fmt: skip
    system.icp_ledger.as_caller(OWNER).icrc2_approve(
        ApproveArgs(spender=Account(dao), amount=E8S)
    ).unwrap()
    member = ic.actor(dao, OWNER)
    member.stake(E8S // 2).unwrap()
    member.submit_proposal(Motion("An open proposal")).unwrap()
    sale = launchpad_factory_sale(system)
    pool = seeded_pool(system)
    payment_ids = (deployed.payment_id, failed.unwrap_err().payment_id)
    return World(
        system, deployed.canister_id, wallet, dao, sale, pool, payment_ids, refund.refund_id
    )


def seeded_pool(system: System) -> Principal:
    """A pool of the ICP ledger and a second ledger that ``OWNER`` has seeded and that both
    ``OWNER`` and ``REFUNDEE`` have approved."""
    ic = system.ic
    minter = Principal.from_name("hostile-input-minter")
    other = deploy_ledger(
        ic, ICP.init(Account(minter), ((Account(OWNER), 10**12), (Account(REFUNDEE), 10**12)))
    )  # fmt: skip
    pool = ic.deploy(Pool, PoolInit(other.id, system.icp_ledger.id, 30)).id
    for user in (OWNER, REFUNDEE):
        for ledger in (other, system.icp_ledger):
            ledger.as_caller(user).icrc2_approve(
                ApproveArgs(spender=Account(pool), amount=E8S)
            ).unwrap()
    ic.actor(pool, OWNER).add_liquidity(10**7, 10**7).unwrap()
    return pool


def launchpad_factory_sale(system: System) -> Principal:
    """An open sale (deployed by the factory for ``OWNER``) that ``REFUNDEE`` contributed to."""
    ic = system.ic
    config = LaunchpadConfig(
        project=ProjectInfo("Hostile sale"), sale_token=valid_token_config("SALE", OWNER),
        purchase_token=system.icp_ledger.id, sale_type=FixedPrice(E8S), tokens_for_sale=10**12,
        soft_cap=E8S, hard_cap=10 * E8S, min_contribution=10**6, max_contribution=5 * E8S,
        sale_start=ic.time, sale_end=ic.time + 30 * 24 * 3600 * 10**9,
        raised_allocation=((Account(OWNER), 10_000),),
    )  # fmt: skip
    factory = system.launchpad_factory.as_caller(system.backend.id)
    sale: Principal = factory.create_contract(OWNER, config).unwrap()
    system.icp_ledger.as_caller(REFUNDEE).icrc2_approve(
        ApproveArgs(spender=Account(sale), amount=E8S)
    ).unwrap()
    ic.actor(sale, REFUNDEE).contribute(E8S // 2).unwrap()
    return sale


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


# -- hostile values -----------------------------------------------------------------------------


def joined(parts: tuple[str, ...]) -> str:
    return "".join(parts)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """``True`` about once in ``n`` draws (shrinking towards ``False``)."""
    return st.sampled_from((False,) * (n - 1) + (True,))


class Hostile:
    """Strategies of hostile values, per annotation, naming what exists in ``world``."""

    def __init__(self, world: World) -> None:
        self._cache: dict[tuple[Any, int], st.SearchStrategy[Any]] = {}
        system = world.system
        self.known_principals: tuple[Principal, ...] = (
            Principal.anonymous(), Principal.management_canister(), system.operator,
            system.icp_ledger.id, *world.canister_ids, world.token, world.wallet, world.dao,
            world.sale, world.pool, OWNER, REFUNDEE,
        )  # fmt: skip
        named_callers = (
            system.operator, system.backend.id, OWNER, world.token, Principal.anonymous(),
            Principal.management_canister(),
        )  # fmt: skip
        self.anyone = st.one_of(
            st.sampled_from(named_callers), st.text(max_size=8).map(Principal.from_name)
        )
        self.insiders: dict[type[Canister], tuple[Principal, ...]] = {
            Backend: (system.operator, OWNER),
            TokenFactory: (system.operator, system.backend.id, OWNER, world.token),
            MultisigFactory: (system.operator, system.backend.id, OWNER, world.wallet),
            MultisigWallet: (OWNER, REFUNDEE, system.multisig_factory.id),
            DAOFactory: (system.operator, system.backend.id, OWNER, world.dao),
            DAO: (OWNER, REFUNDEE, system.dao_factory.id),
            LaunchpadFactory: (system.operator, system.backend.id, OWNER, world.sale),
            LaunchpadSale: (OWNER, REFUNDEE, system.launchpad_factory.id),
            Pool: (OWNER, REFUNDEE),
            AuditStorage: (system.backend.id, system.operator),
            InvoiceStorage: (system.backend.id, system.operator),
        }
        """Per canister, who holds a role there: its admins, writers, backend, a contract owner
        with an approval left, a contract of the factory."""
        self.principals = st.one_of(
            st.sampled_from((world.token, OWNER)),  # what contract-scoped methods look for
            st.sampled_from(self.known_principals),
            st.text(max_size=8).map(Principal.from_name),
            st.one_of(st.integers(0, 40), st.just(2**64 - 1)).map(Principal.from_canister_index),
            st.binary(max_size=29).map(Principal.from_bytes),
        )
        known_texts = (
            "", " ", MEGABYTE, "holder", "creator", "active", "deploying", "Active", "Token OWN",
            "OWN", "own", "0.0.0", "1.0.0", "1.1.0", "2.0.0", "3.0.0", "1.0", "01.0.0",
            *world.payment_ids, world.refund_id, *SERVICES, *STORAGES, *CONFIG_KEYS,
        )  # fmt: skip
        surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
        self.texts = st.one_of(
            st.sampled_from((*world.payment_ids, world.refund_id)),
            st.sampled_from(known_texts),
            st.text(max_size=40),
            st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10),
            st.text(alphabet=surrogates, min_size=1, max_size=4),
            st.tuples(
                st.text(max_size=10), st.sampled_from(CONTROLS + BIDI), st.text(max_size=10)
            ).map(joined),
            st.text(alphabet=CONTROLS + BIDI + " \t\n", min_size=1, max_size=10),
        )
        self.ints = st.one_of(
            st.sampled_from(
                (-1, 0, 1, 2**64, 2**64 - 1, 2**128, -(2**128), 10_000, E8S, U64_MAX + 1)
            ),
            st.integers(),
        )
        self.blobs = st.one_of(
            st.sampled_from((b"", bytes(32), b"\x01" * 32, b"\xff" * 33)), st.binary(max_size=40)
        )
        subaccounts = st.sampled_from((None, bytes(32), b"\x01" * 32))
        self.accounts = st.builds(Account, self.principals, subaccounts)
        symbols = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=8)
        self.token_configs = st.deferred(
            lambda: st.one_of(
                st.builds(valid_token_config, symbols, self.principals),
                self.record(TokenConfig, 1),
            )
        )
        oddities = st.sampled_from(((), frozenset(), object(), Principal, int))
        self.anything: st.SearchStrategy[Any] = st.deferred(
            lambda: st.one_of(
                self.ints, self.texts, st.none(), st.booleans(), self.principals, self.blobs,
                st.floats(), self.accounts, self.token_configs, oddities,
                st.lists(st.integers(), max_size=3),
                st.dictionaries(self.texts, self.ints, max_size=2),
            )
        )  # fmt: skip

    def callers(self, code: type[Canister]) -> st.SearchStrategy[Principal]:
        """Half the time somebody ``code`` gives a role to, else anybody."""
        return st.one_of(st.sampled_from(self.insiders[code]), self.anyone)

    def of(self, annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
        """Values for ``annotation``: mostly of that type, now and then of another."""
        right = self.typed(annotation, depth)
        return one_in(8).flatmap(lambda wrong: self.anything if wrong else right)

    def typed(self, annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
        """Hostile values of ``annotation`` itself (``None`` beyond ``MAX_DEPTH``)."""
        if depth > MAX_DEPTH:
            return st.none()
        key = (annotation, depth)
        if key not in self._cache:
            self._cache[key] = self._typed(annotation, depth)
        return self._cache[key]

    def _typed(self, annotation: Any, depth: int) -> st.SearchStrategy[Any]:
        simple = {
            Principal: self.principals, int: self.ints, str: self.texts, bool: st.booleans(),
            bytes: self.blobs, type(None): st.none(), None: st.none(), Account: self.accounts,
            TokenConfig: self.token_configs,
        }  # fmt: skip
        if annotation in simple:
            return simple[annotation]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Union or origin is types.UnionType:
            return st.one_of(*(self.typed(arg, depth) for arg in args))
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                items = self.of(args[0], depth + 1)
                return st.lists(items, max_size=20).map(tuple)
            return st.tuples(*(self.of(arg, depth + 1) for arg in args))
        if origin is type:
            return st.sampled_from(CODE_VALUES)
        if origin is Literal:
            return st.sampled_from(args)
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return st.sampled_from(list(annotation))
        if isinstance(annotation, type) and attrs.has(annotation):
            return self.record(annotation, depth)
        return self.anything

    def record(self, cls: type, depth: int) -> st.SearchStrategy[Any]:
        """``cls`` built from hostile field values (optional fields sometimes left out). When a
        field's converter refuses its value, the optional fields are left out; records that
        still cannot be built are not drawn."""
        attrs.resolve_types(cls)
        fields = [field for field in attrs.fields(cls) if field.init]
        values = {f.alias: self.of(f.type, depth + 1) for f in fields}
        required = {f.alias: values[f.alias] for f in fields if f.default is attrs.NOTHING}
        optional = {f.alias: values[f.alias] for f in fields if f.default is not attrs.NOTHING}
        unbuilt = object()

        def build(values: dict[str, Any]) -> Any:
            for kwargs in (values, {name: values[name] for name in required}):
                try:
                    return cls(**kwargs)
                except Exception:
                    continue
            return unbuilt

        drafts = st.fixed_dictionaries(required, optional=optional)
        return drafts.map(build).filter(lambda value: value is not unbuilt)


# -- one call -----------------------------------------------------------------------------------

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 300
_short.maxtuple = 8


@attrs.frozen
class Call:
    caller: Principal
    args: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"Call(caller={self.caller!r}, args={_short.repr(self.args)})"


def parameters(code: type[Canister], method: str) -> list[tuple[Any, bool]]:
    """``(annotation, has a default)`` of each parameter of ``code.method`` but ``self``."""
    fn = code.__icto_methods__[method].fn
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [(hints.get(p.name, Any), p.default is not p.empty) for p in params]


def calls(hostile: Hostile, code: type[Canister], method: str) -> st.SearchStrategy[Call]:
    params = parameters(code, method)
    required = sum(not has_default for _, has_default in params)
    arities = range(required, len(params) + 1)
    wrong_arities = [n for n in (required - 1, len(params) + 1) if n >= 0]
    counts = one_in(16).flatmap(lambda wrong: st.sampled_from(wrong_arities if wrong else arities))

    def arguments(count: int) -> st.SearchStrategy[tuple[Any, ...]]:
        drawn = [hostile.of(annotation) for annotation, _ in params[:count]]
        drawn += [hostile.anything] * (count - len(params))
        return st.tuples(*drawn)

    return st.builds(Call, hostile.callers(code), counts.flatmap(arguments))


_calls: dict[tuple[int, type[Canister], str], st.SearchStrategy[Call]] = {}


def calls_in(world: World, code: type[Canister], method: str) -> st.SearchStrategy[Call]:
    key = (id(world), code, method)
    if key not in _calls:
        _calls[key] = calls(Hostile(world), code, method)
    return _calls[key]


# -- what a refusal may change ------------------------------------------------------------------


def without_denials(state: Any) -> Any:
    """``state`` with the counters of refused callers at zero (refusals are counted)."""
    if isinstance(state, BackendState | FactoryState):
        return attrs.evolve(state, counters=attrs.evolve(state.counters, access_denied=0))
    if isinstance(state, StorageState):
        return attrs.evolve(state, access_denied=0)
    if isinstance(state, WalletState | DAOState | LaunchpadState | PoolState):
        return state
    raise AssertionError(f"no fingerprint for {type(state).__name__}")


def fingerprint(world: World) -> tuple[Any, ...]:
    return tuple(without_denials(world.ic.state_of(canister)) for canister in world.canister_ids)


def differences(before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    """Which canister's which state fields a call changed."""
    found = []
    for code, old, new in zip(CANISTERS, before, after, strict=True):
        if old != new:
            names = [field.name for field in attrs.fields(type(old))]
            fields = [name for name in names if getattr(old, name) != getattr(new, name)]
            found.append(f"{code.__name__}: {', '.join(fields)}")
    return found


def trap_report(where: str, call: Call, rejected: CallRejected) -> str:
    cause = rejected.__cause__
    trace = "".join(traceback.format_exception(cause)) if cause is not None else "(no traceback)"
    args = _short.repr(call.args)
    return f"{where} trapped\n  caller: {call.caller}\n  args: {args}\n  {rejected}\n{trace}"


def send(world: World, code: type[Canister], method: str, call: Call) -> tuple[str, Any]:
    """Send ``call``; how it ended (``reply``, ``err``, ``invalid`` for ``InvalidArguments``,
    ``reject`` for any other reject) and what came back."""
    try:
        reply = world.ic.update_call(
            world.canister_id(code), method, *call.args, caller=call.caller
        )
    except InvalidArguments as invalid:
        return "invalid", invalid
    except CallRejected as rejected:
        return "reject", rejected
    return ("err" if isinstance(reply, Err) else "reply"), reply


def label(ending: str, answer: Any) -> str:
    """How the statistics (``--hypothesis-show-statistics``) name an outcome."""
    if ending == "err":
        return f"Err({type(answer.error).__name__})"
    if ending == "reject":
        return f"reject: {answer.message.split(':')[0][:40]}"
    return ending


# -- an upgrade attempted and failed is not a refusal ---------------------------------------------

UPGRADE_KINDS: dict[str, str] = {"upgrade_contract": "upgrade", "rollback_contract": "rollback"}
"""The factory methods that install code over a contract, and the ``UpgradeRecord.kind`` of each."""


@attrs.frozen
class Contract:
    """A contract's code, state and controllers: what a failed upgrade must leave as they were."""

    code: Any
    state: Any
    controllers: tuple[Principal, ...]


def contract_as_is(world: World, method: str, call: Call) -> Contract | None:
    """Before an upgrade or rollback: the contract it names, as it is (``None`` if there is no
    such canister, or the method installs no code)."""
    target = call.args[0] if call.args else None
    if method not in UPGRADE_KINDS or not isinstance(target, Principal):
        return None
    if not world.ic.canister_exists(target):
        return None
    ic = world.ic
    return Contract(ic.code_of(target), ic.state_of(target), ic.controllers_of(target))


def attempted_upgrade(method: str, ending: str, answer: Any) -> bool:
    """Whether the call was accepted and the factory tried to install the code, the IC refusing
    it (``Err(UpgradeFailed)``): recorded, per factories.md §4, so not a refusal. Every other
    ``Err`` of these methods (``UnknownVersion``, ``NotEligible``, ``ContractDetached`` of a
    contract already detached) is a refusal and changes nothing."""
    return ending == "err" and method in UPGRADE_KINDS and isinstance(answer.error, UpgradeFailed)


def without_failed_attempt(
    code: type[Canister], method: str, call: Call, answer: Any, before: tuple[Any, ...],
    after: tuple[Any, ...], started_at: int, ended_at: int,
) -> tuple[tuple[Any, ...], list[str]]:  # fmt: skip
    """``after`` with the one failed attempt the factory must have recorded taken out again,
    and what is wrong with that record (if it is missing, or says anything but the failure of
    this very call). With the record taken out, ``after`` must equal ``before``."""
    position = CANISTERS.index(code)
    old, new = before[position], after[position]
    contract = call.args[0]
    to_version = call.args[1] if len(call.args) > 1 else None
    info = old.index.info(contract)
    if info is None:
        return after, [f"{contract} is not a contract of the factory, yet an upgrade was tried"]
    kept = tuple(old.history.get(contract, ()))
    grown = tuple(new.history.get(contract, ()))
    if len(grown) != len(kept) + 1 or grown[:-1] != kept:
        return after, [f"the history of {contract} did not grow by exactly one record"]
    record = grown[-1]
    expected = UpgradeRecord(
        record.at, UPGRADE_KINDS[method], info.version,
        old.latest_stable if to_version is None else to_version, False, call.caller,
        answer.error.reason,
    )  # fmt: skip
    problems = []
    if record != expected:
        problems.append(f"the failure was recorded as {record!r}, not as {expected!r}")
    if not started_at <= record.at <= ended_at:
        problems.append(f"the failure was recorded at {record.at}, not during the call")
    if new.counters != old.counters.bumped("failed_upgrades"):
        problems.append(f"counters went from {old.counters} to {new.counters}, not one more "
                        f"failed upgrade")  # fmt: skip
    history = (
        new.history.set(contract, old.history[contract]) if contract in old.history
        else new.history.delete(contract)
    )  # fmt: skip
    undone = attrs.evolve(new, history=history, counters=old.counters)
    return (*after[:position], undone, *after[position + 1 :]), problems


# -- the property --------------------------------------------------------------------------------


def check_hostile_call(
    world: World, code: type[Canister], method: str, call: Call
) -> tuple[str, Any]:
    """Send ``call`` and check the two rules (and, for an upgrade attempted and failed, that it
    was recorded and nothing else changed); how it ended and what came back (as ``send``)."""
    where = f"{code.__name__}.{method}"
    before = fingerprint(world)
    contract_before = contract_as_is(world, method, call)
    started_at = world.ic.time
    ending, answer = send(world, code, method, call)
    if ending == "reject":
        if answer.reject_code == RejectCode.CANISTER_ERROR:
            pytest.fail(trap_report(where, call, answer))
        assert answer.reject_code == RejectCode.CANISTER_REJECT, f"{where}: {answer}"
    if ending == "err":
        assert attrs.has(type(answer.error)), f"{where} answered an untyped {answer!r}"
    if ending == "reply":
        return ending, answer
    after = fingerprint(world)
    if attempted_upgrade(method, ending, answer):
        assert contract_before is not None, f"{where} tried to upgrade {call.args[0]!r}"
        contract_after = contract_as_is(world, method, call)
        assert contract_after == contract_before, (
            f"{where} failed ({answer!r}) yet the contract changed: {call!r}"
        )  # fmt: skip
        after, problems = without_failed_attempt(
            code, method, call, answer, before, after, started_at, world.ic.time
        )  # fmt: skip
        assert not problems, f"{where} failed ({answer!r}): {'; '.join(problems)}"
        changed = differences(before, after)
        assert not changed, (
            f"{where} failed {call!r} and recorded it, yet also changed {'; '.join(changed)}"
        )  # fmt: skip
        return ending, answer
    changed = differences(before, after)
    assert not changed, f"{where} refused {call!r} yet changed {'; '.join(changed)}"
    return ending, answer


@pytest.mark.parametrize(("code", "method"), UPDATE_METHODS)
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_call_is_answered_or_refused_and_a_refusal_changes_nothing(
    world: World, code: type[Canister], method: str, data: st.DataObject
) -> None:
    world.ic.restore(world.snapshot)
    call = data.draw(calls_in(world, code, method), label="call")
    ending, answer = check_hostile_call(world, code, method, call)
    event(label(ending, answer))


# -- what hypothesis found: an upgrade the factory attempted, not a refusal -----------------------


@pytest.mark.parametrize("who", ["operator", "owner"])
def test_an_upgrade_attempted_and_failed_is_recorded_and_nothing_else_changes(
    world: World, who: str
) -> None:
    """Upgrading the token to ``BrokenToken`` is accepted (an admin or the owner, a newer
    uploaded version) and fails in ``post_upgrade``: ``Err(UpgradeFailed)``, the token as it was,
    and the failure recorded in the factory's history and counters (factories.md §4), which
    ``check_hostile_call`` must accept while it still refuses any other change."""
    world.ic.restore(world.snapshot)
    caller = world.system.operator if who == "operator" else OWNER
    call = Call(caller, (world.token, BrokenToken.VERSION))
    ending, answer = check_hostile_call(world, TokenFactory, "upgrade_contract", call)
    assert ending == "err" and isinstance(answer.error, UpgradeFailed), answer
    assert world.ic.code_of(world.token) is Token
    *_, record = world.system.token_factory.as_caller(caller).get_upgrade_history(world.token)
    assert (record.kind, record.from_version, record.to_version, record.ok, record.by) == (
        "upgrade", Token.VERSION, BrokenToken.VERSION, False, caller,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args", [("9.9.9",), ("1.0.0",), (None,), ()], ids=["unknown", "same", "latest", "default"]
)
def test_an_upgrade_refused_before_any_attempt_changes_nothing(
    world: World, args: tuple[Any, ...]
) -> None:
    """An unknown version, the running one or the latest stable (the running one too): refused
    with a typed error, nothing recorded."""
    world.ic.restore(world.snapshot)
    call = Call(world.system.operator, (world.token, *args))
    ending, answer = check_hostile_call(world, TokenFactory, "upgrade_contract", call)
    assert ending == "err" and not isinstance(answer.error, UpgradeFailed), answer
    assert world.ic.code_of(world.token) is Token


def test_a_failed_upgrade_may_record_only_its_own_failure(world: World) -> None:
    """The allowance for an upgrade attempted and failed is exact: a record of another caller,
    version or outcome, another counter, or any other change is still reported."""
    world.ic.restore(world.snapshot)
    call = Call(world.system.operator, (world.token, BrokenToken.VERSION))
    method = "upgrade_contract"
    before, started_at = fingerprint(world), world.ic.time
    ending, answer = send(world, TokenFactory, method, call)
    after, ended_at = fingerprint(world), world.ic.time
    assert attempted_upgrade(method, ending, answer)
    assert differences(before, after) == ["TokenFactory: history, counters"]

    def reported(after: tuple[Any, ...]) -> list[str]:
        undone, problems = without_failed_attempt(
            TokenFactory, method, call, answer, before, after, started_at, ended_at
        )  # fmt: skip
        return problems + differences(before, undone)

    assert reported(after) == []
    position = CANISTERS.index(TokenFactory)
    factory = after[position]
    history = factory.history[world.token]
    record = history[len(history) - 1]

    def with_record(changed: UpgradeRecord) -> Any:
        latest = history.set(len(history) - 1, changed)
        return attrs.evolve(factory, history=factory.history.set(world.token, latest))

    tampered = (
        with_record(attrs.evolve(record, ok=True)),
        with_record(attrs.evolve(record, by=OWNER)),
        with_record(attrs.evolve(record, to_version="2.0.0")),
        with_record(attrs.evolve(record, kind="rollback")),
        attrs.evolve(factory, counters=factory.counters.bumped("upgrades")),
        attrs.evolve(factory, history=factory.history.set(world.token, history.append(record))),
        attrs.evolve(factory, paused=True),
    )
    for state in tampered:
        assert reported((*after[:position], state, *after[position + 1 :])), state
    # Only UpgradeFailed of an upgrade or rollback is an attempt: after any other answer the
    # same changes are a refusal that changed something.
    assert attempted_upgrade("rollback_contract", "err", Err(UpgradeFailed("trapped")))
    assert not attempted_upgrade(method, "err", Err(UnknownVersion(BrokenToken.VERSION)))
    assert not attempted_upgrade(method, "reject", answer)
    assert not attempted_upgrade("publish_version", "err", Err(UpgradeFailed("trapped")))

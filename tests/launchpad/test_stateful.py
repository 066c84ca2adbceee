"""A launchpad sale keeps every contribution in escrow, never lets a cap pass, and pays each
contributor of a failed or cancelled sale back exactly once.

Two sales are deployed, each once per module in its own world, straight through the Launchpad
Factory as the backend, selling a new token (a ``TokenConfig``, so no deposit) for ICP: one at a
fixed price of 0.5 ICP per whole token with a hard cap of 30 ICP, one a fair launch with a hard cap
of 20 ICP (which the whitelist alone can fill). Both have a soft cap of 10 ICP, a first
contribution of at least 1 ICP, at most 12 ICP per participant and at least two participants;
Alice and Bob are whitelisted from an hour after deployment, the public sale starts a day after
deployment and ends two days later. Alice, Bob, Carol, Dave and Erin hold 100 ICP each and Frank
2 ICP; all six approved the sale for far more than they hold. Ghost holds nothing and approved
nothing. Every example starts again from the snapshot taken after that setup.

A hypothesis state machine picks one of the two sales, a moment to begin at (with up to four
contributions made then) and a moment from which the creator tries to cancel (or never), then
contributes (as any of them or the anonymous principal, naming an affiliate or not, themselves or
the anonymous principal among them) amounts of nothing, one e8s, the ledger fee, below the
minimum, the minimum, around the participant's personal room, what the raise lacks to reach the
soft cap and the room under the hard cap, above the maximum, negative or a bool, sometimes while
the ICP ledger rejects or traps the ``icrc2_transfer_from`` once (the sale's identical retry takes
it) or twice (refused, nothing recorded); moves time (by hours, or to the nanosecond around the
whitelist opening, the public start and the end); calls ``check_status()`` as anyone; cancels as
the creator or as someone else; lets the refund timers run and calls ``retry_refunds()`` as
anyone, sometimes while the ledger rejects or traps a refund's ``icrc1_transfer`` once or twice (a
failed refund is sent again as the same request; a day later the ledger calls it too old, its log
shows it never ran, and it is planned anew: never paid twice, never stuck).
A plain model predicts every answer (``Ok`` with its exact value, or which typed ``Err``; a bool
amount does not even decode) and the sale's history at every moment; a refused call changes
nothing: neither the sale's state (a pull rejected twice is looked up in the ledger's log), nor the
ledger, nor the factory's. A successful sale starts its finalize pipeline by itself an hour after
it ends: time stops short of that (the pipeline is tested elsewhere).

After every step:

1. the escrow (the sale's default ICP account) holds exactly the accepted contributions less the
   contributions refunded (each refund sends contribution - fee and burns the fee);
2. no participant's contribution is above the maximum, the raise is never above the hard cap, and
   the sale's state, history, raise, participants, order, allocations, leftover and affiliates
   read as the model's; the sale keeps exactly the timers it needs (none leaked);
3. the Launchpad Factory lists the sale for a principal with the role ``participant`` iff it
   contributed (and ``creator`` for the creator only), with no notification pending;
4. the factory's registry holds the sale's state, ``get_sales_by_state`` lists it there and
   ``get_active_sales`` lists it iff it is Upcoming, WhitelistOpen or SaleActive;
5. every principal's ICP balance is the model's (what it was given, less the approval's fee, its
   contributions and their fees, plus its refund once), so nobody is refunded twice; the sale's
   outgoing ledger blocks are one refund per refunded contributor, in refund order, of
   contribution - fee; ``get_refund_progress()`` and each participant's refund status are the
   model's, and once Refunded every contributor has been refunded.

Plain examples pin the early close when the whitelist fills the hard cap, and the verdict at the
end to the e8s of the soft cap and to the second participant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from icto import E8S, GENESIS_TIME, IC, Account, ApproveArgs, Err, Ok, Principal
from icto.factory.types import CREATOR as CREATOR_ROLE
from icto.ic.errors import InvalidArguments
from icto.launchpad import (
    ACTIVE_STATES,
    PARTICIPANT,
    AboveMaximum,
    BelowMinimum,
    FairLaunch,
    FixedPrice,
    InvalidRequest,
    LaunchpadConfig,
    NotCreator,
    NotWhitelisted,
    ProjectInfo,
    RefundProgress,
    RefundStatus,
    SaleState,
    TransferFailed,
    Whitelist,
    WrongState,
    fair_allocation,
    fixed_allocation,
)
from icto.launchpad.sale import FINALIZE_AFTER_NS
from icto.ledger import TX_WINDOW_NS
from icto.ledger.presets import ICP
from icto.system import System, deploy_system
from icto.token.config import TokenConfig
from icto.validation import NotIdentified

CREATOR, ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GHOST, AFFILIATE = (
    Principal.from_name(name)
    for name in ("creator", "alice", "bob", "carol", "dave", "erin", "frank", "ghost", "affiliate")
)
ANONYMOUS: Final = Principal.anonymous()
RICH: Final = (ALICE, BOB, CAROL, DAVE, ERIN)
FUNDED: Final = {**dict.fromkeys(RICH, 100 * E8S), FRANK: 2 * E8S}
"""What the faucet gave each user (each then approved the sale, paying one fee)."""
USERS: Final = (*RICH, FRANK, GHOST)
"""Who may contribute: the funded, and Ghost, who never approved the sale."""
WATCHED: Final = (*USERS, CREATOR, AFFILIATE)
"""Whose balances and factory entries the invariants read."""
CALLERS: Final = (*USERS, CREATOR, ANONYMOUS)
WHITELISTED: Final = (ALICE, BOB)

FEE: Final = 10_000
HOUR: Final = 3600 * 10**9
DAY: Final = 24 * HOUR
OPENS: Final = GENESIS_TIME + HOUR
START: Final = GENESIS_TIME + DAY
END: Final = START + 2 * DAY
LANDMARKS: Final = (OPENS, START, END)
SOFT_CAP: Final = 10 * E8S
HARD_CAPS: Final = {"fixed": 30 * E8S, "fair": 20 * E8S}
"""The fair launch's hard cap can be filled by the two whitelisted members alone."""
MINIMUM: Final = E8S
MAXIMUM: Final = 12 * E8S
PRICE: Final = E8S // 2
"""0.5 ICP per whole sale token (8 decimals)."""
FIXED_TOKENS: Final = 100 * E8S
FAIR_TOKENS: Final = 77_777_777_777
"""Not a round number, so the pro-rata shares round."""
ALLOWANCE: Final = 10**15

OPEN: Final = frozenset({SaleState.WHITELIST_OPEN, SaleState.SALE_ACTIVE})
BEFORE_END: Final = frozenset(ACTIVE_STATES)
REFUND_STATES: Final = frozenset({SaleState.REFUNDING, SaleState.REFUNDED})


def sale_config(kind: str, **changes: Any) -> LaunchpadConfig:
    fixed = kind == "fixed"
    config = LaunchpadConfig(
        project=ProjectInfo(f"Stateful {kind} sale"),
        sale_token=TokenConfig(name="Stateful", symbol="STF"), purchase_token=ICP.canister_id,
        sale_type=FixedPrice(PRICE) if fixed else FairLaunch(),
        tokens_for_sale=FIXED_TOKENS if fixed else FAIR_TOKENS, soft_cap=SOFT_CAP,
        hard_cap=HARD_CAPS[kind], min_contribution=MINIMUM, max_contribution=MAXIMUM,
        sale_start=START, sale_end=END, min_participants=2, whitelist=Whitelist(WHITELISTED, OPENS),
        raised_allocation=((Account(CREATOR), 10_000),),
    )  # fmt: skip
    return attrs.evolve(config, **changes)


@attrs.frozen
class Deployed:
    ic: IC
    system: System
    sale: Principal
    snapshot: Any


def deploy(config: LaunchpadConfig) -> Deployed:
    ic = IC(trace=False)
    system = deploy_system(ic)
    assert ic.time < OPENS
    factory = system.launchpad_factory.as_caller(system.backend.id)
    sale = factory.create_contract(CREATOR, config).unwrap()
    for user, amount in FUNDED.items():
        system.faucet(user, amount)
        approval = ApproveArgs(spender=Account(sale), amount=ALLOWANCE)
        system.icp_ledger.as_caller(user).icrc2_approve(approval).unwrap()
    return Deployed(ic, system, sale, ic.snapshot())


@functools.cache
def deployed(kind: str) -> Deployed:
    return deploy(sale_config(kind))


# -- the model ----------------------------------------------------------------------------------


@attrs.frozen
class Fault:
    """The ICP ledger rejects (or runs and traps) ``times`` consecutive calls of a method,
    after letting ``after`` through."""

    kind: str
    times: int
    after: int = 0


@attrs.define
class Faulting:
    """The model's count of one installed ``Fault``: calls seen and faults fired."""

    fault: Fault | None
    calls: int = 0
    fired: int = 0

    def rejects(self) -> bool:
        """Whether the next matching call fails."""
        if self.fault is None:
            return False
        index, self.calls = self.calls, self.calls + 1
        if index >= self.fault.after and self.fired < self.fault.times:
            self.fired += 1
            return True
        return False

    def settles(self) -> bool:
        """Whether a request the sale sends through ``settle`` reaches the ledger: a reject is
        followed by the identical request once more."""
        return not (self.rejects() and self.rejects())


@attrs.define
class Model:
    """The sale and the ICP ledger as the rules say they must be."""

    kind: str
    status: SaleState = SaleState.UPCOMING
    history: list[tuple[SaleState, int]] = attrs.Factory(list)
    """Every state entered and when: the scheduled instant, not when it was noticed."""
    contributions: dict[Principal, int] = attrs.Factory(dict)
    order: list[Principal] = attrs.Factory(list)
    """Contributors by first contribution: the refund order."""
    raised: int = 0
    referrals: dict[Principal, int] = attrs.Factory(dict)
    balances: dict[Principal, int] = attrs.Factory(
        lambda: {user: FUNDED.get(user, FEE) - FEE for user in WATCHED}
    )
    refunded: list[Principal] = attrs.Factory(list)
    refund_armed: int | None = None
    """When a refund batch is due on the sale's timer (armed on entering Refunding)."""
    refund_error: bool = False
    plans: dict[Principal, int] = attrs.Factory(dict)
    """When a refund whose outcome is unknown was first tried: it is sent again as the same
    request (the same ``created_at_time``); once the ledger calls it too old, it waits."""
    allocated_at_end: int | None = None
    succeeded_at: int | None = None

    @property
    def escrow(self) -> int:
        return self.raised - sum(self.contributions[user] for user in self.refunded)

    def allocation(self, contribution: int) -> int:
        if self.kind == "fixed":
            return fixed_allocation(contribution, PRICE, 8)
        return fair_allocation(contribution, self.raised, FAIR_TOKENS) if self.raised else 0

    @property
    def allocated(self) -> int:
        """Σ buyers' allocations as the sale reports it: kept as contributions come at a fixed
        price; a fair launch allocates at the end (0 until then)."""
        if self.allocated_at_end is not None:
            return self.allocated_at_end
        if self.kind == "fair":
            return 0
        return sum(self.allocation(c) for c in self.contributions.values())

    @property
    def hard_cap(self) -> int:
        return HARD_CAPS[self.kind]

    @property
    def tokens_for_sale(self) -> int:
        return FIXED_TOKENS if self.kind == "fixed" else FAIR_TOKENS

    def enter(self, status: SaleState, at: int) -> None:
        self.status = status
        self.history.append((status, at))

    def end(self, at: int) -> None:
        """SaleEnded, and at once the verdict; a failure goes on to Refunding."""
        self.enter(SaleState.SALE_ENDED, at)
        if self.raised >= SOFT_CAP and len(self.order) >= 2:
            self.enter(SaleState.SUCCESSFUL, at)
            self.succeeded_at = at
            self.allocated_at_end = sum(self.allocation(c) for c in self.contributions.values())
        else:
            self.enter(SaleState.FAILED, at)
            self.start_refunds(at)

    def start_refunds(self, at: int) -> None:
        self.enter(SaleState.REFUNDING, at)
        self.refund_armed = at

    def refund_batch(self, at: int, ledger: Faulting) -> None:
        """One batch at ``at``: each contributor owed, in order, until a refund fails (the
        ledger rejects it twice; one first tried more than the ledger's deduplication window
        ago is looked up in its log, not found, and planned anew)."""
        for user in [user for user in self.order if user not in self.refunded]:
            planned = self.plans.get(user, at)
            if not ledger.settles():
                self.plans[user] = planned
                self.refund_error = True
                return
            if planned + TX_WINDOW_NS < at:
                # TooOld: the ledger's log shows it never ran (each try was refused), so it is
                # planned anew now and sent.
                event("a refund first tried a day before: not in the ledger's log, sent anew")
                if not ledger.settles():
                    self.plans[user] = at
                    self.refund_error = True
                    return
            self.plans.pop(user, None)
            self.refunded.append(user)
            self.balances[user] += self.contributions[user] - FEE
        self.enter(SaleState.REFUNDED, at)
        self.refund_error = False

    def run_timers(self, until: int, ledger: Faulting) -> None:
        """The sale's timers due by ``until``, in order (at most one refund batch is due)."""
        if self.refund_armed is not None and self.status is SaleState.REFUNDING:
            self.refund_batch(self.refund_armed, ledger)
        self.refund_armed = None
        if self.status is SaleState.UPCOMING and until >= OPENS:
            self.enter(SaleState.WHITELIST_OPEN, OPENS)
        if self.status is SaleState.WHITELIST_OPEN and until >= START:
            self.enter(SaleState.SALE_ACTIVE, START)
        if self.status is SaleState.SALE_ACTIVE and until >= END:
            self.end(END)
            if self.refund_armed is not None:
                self.refund_batch(END, ledger)
                self.refund_armed = None


class _Anything:
    """Equal to any value: a field the model does not predict (a ledger's error text)."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANYTHING"


ANYTHING: Final = _Anything()


@attrs.frozen
class Refused:
    """A refusal the model expects: the error's type and the fields it can tell."""

    error: type
    fields: tuple[tuple[str, Any], ...] = ()


def refused(error: type, **fields: Any) -> Refused:
    return Refused(error, tuple(fields.items()))


def check(result: Any, expected: Any) -> None:
    if isinstance(expected, Refused):
        assert isinstance(result, Err), (result, expected)
        assert type(result.error) is expected.error, (result, expected)
        for name, value in expected.fields:
            assert getattr(result.error, name) == value, (result, expected)
    else:
        assert result == expected, (result, expected)


def outcome(expected: Any) -> str:
    return expected.error.__name__ if isinstance(expected, Refused) else "Ok"


# -- strategies ---------------------------------------------------------------------------------

kinds = st.sampled_from(["reject", "trap"])
failures = st.builds(Fault, kinds, st.sampled_from([2, 1]))
"""A pull the ledger fails twice (the sale's retry fails too), or once (the retry goes
through)."""
faults = st.one_of(st.none(), failures)
refund_faults = st.sampled_from([
    Fault("reject", 2), Fault("trap", 2, 1), None, Fault("reject", 1), Fault("trap", 2, 2),
    Fault("reject", 2, 3), Fault("trap", 1, 1), None,
])  # fmt: skip
"""How the ledger meets a refund batch: ``after`` counts its ``icrc1_transfer`` calls (a rejected
refund is sent twice), taken modulo the refunds owed so the fault meets one of them."""
amounts = st.one_of(
    st.sampled_from([
        MINIMUM, 2 * E8S, 3 * E8S + 12_345, 5 * E8S, 7 * E8S, MAXIMUM, 0, 1, FEE, FEE + 1,
        MINIMUM - 1, MAXIMUM + 1, 30 * E8S, -1, -E8S, True,
    ]),
    st.tuples(
        st.sampled_from(["room", "personal", "soft"]), st.sampled_from([-FEE, -1, 0, 0, 1]),
    ),
)  # fmt: skip
"""An amount, or (``room``: the room under the hard cap, ``personal``: what the caller may still
put in, ``soft``: what the raise lacks to reach the soft cap) and an offset from it."""
contributors = st.sampled_from([*USERS, *USERS, ANONYMOUS])
affiliates = st.sampled_from([None, None, None, AFFILIATE, CAROL, "self", ANONYMOUS])
moves = st.one_of(
    st.tuples(st.just(None), st.sampled_from([0, 1, HOUR, 6 * HOUR, DAY])),
    st.tuples(st.integers(0, len(LANDMARKS) - 1), st.sampled_from([-1, 0, 0, 1, HOUR])),
)
"""(which landmark still ahead, offset in ns) to move to, or (``None``, how far to move)."""
beginnings = st.sampled_from([START, OPENS, OPENS + HOUR, START + HOUR, START + DAY, None])
"""Where an example's steps begin (``None``: at deployment, the sale Upcoming)."""
cancel_moments = st.sampled_from([START + HOUR, OPENS + HOUR, START, END - 1, END, None, None])
"""From when the creator tries to cancel (``None``: never)."""
good_amounts = st.sampled_from([
    MAXIMUM, "soft", MINIMUM, "room less a fee", 3 * E8S, 5 * E8S + 1, 2 * E8S, 8 * E8S, "room",
])  # fmt: skip
"""Amounts, or what the raise lacks to reach the soft cap, or the room under the hard cap (less
one ledger fee), as they are when the contribution is made."""
buyers = st.sampled_from([*RICH, FRANK])


class LaunchpadMachine(RuleBasedStateMachine):
    """Picks a sale in ``initialize``; every rule and invariant works on that one."""

    ic: IC
    system: System
    sale_id: Principal
    model: Model
    creator_cancels: int | None

    def __init__(self) -> None:
        super().__init__()
        self.first_block = 0

    # -- harness ------------------------------------------------------------------------------

    def _as(self, caller: Principal) -> Any:
        return self.ic.actor(self.sale_id, caller)

    def _saw(self, what: str) -> None:
        event(what)

    def teardown(self) -> None:
        if hasattr(self, "model"):
            event(f"ended {self.model.status}")

    def _blocks(self) -> int:
        return int(self.system.icp_ledger.get_transaction_count())

    def _observe(self) -> tuple[Any, ...]:
        """Everything a refused call must leave as it was."""
        factory = self.system.launchpad_factory
        return (
            self.ic.state_of(self.sale_id), self._blocks(),
            tuple(self.system.icp_balance(user) for user in WATCHED),
            self.system.icp_balance(Account(self.sale_id)),
            factory.get_contract_info(self.sale_id), self.ic.state_of(factory.id),
        )  # fmt: skip

    def _faulted(
        self, fault: Fault | None, method: str, call: Callable[[], Any]
    ) -> tuple[Any, int]:
        """``call()`` while the ICP ledger rejects or traps ``method`` as ``fault`` says; the
        result and how many times the fault fired."""
        if fault is None:
            return call(), 0
        install = self.ic.faults.reject if fault.kind == "reject" else self.ic.faults.trap
        with install(
            canister=ICP.canister_id, method=method, times=fault.times, after=fault.after
        ) as injected:
            result = call()
        return result, injected.fired

    def _refund_fault(self, fault: Fault | None) -> Fault | None:
        """``fault`` with ``after`` taken modulo the refunds owed now (one ledger call each,
        until one is rejected), so it meets one of them."""
        owed = len(self.model.order) - len(self.model.refunded)
        if fault is None or not owed:
            return fault
        return attrs.evolve(fault, after=fault.after % owed)

    def _settle(self) -> None:
        """Make the due transitions before a call whose refusal must change nothing (none are
        due: the timers record each at its instant)."""
        assert self._as(GHOST).check_status() == self.model.status

    def _refused_changes_nothing(self, call: Callable[[], Any], expected: Any) -> Any:
        """``call()``, checked against ``expected``: a refusal must leave everything as it
        was (a pull the ledger rejected twice is looked up in its log, which shows it never
        ran, so even the number the sale gave that request is given back)."""
        before = self._observe() if isinstance(expected, Refused) else None
        result = call()
        check(result, expected)
        if before is not None:
            assert self._observe() == before, result
        return result

    # -- setup ----------------------------------------------------------------------------------

    @initialize(
        kind=st.sampled_from(["fixed", "fair"]), begin=beginnings,
        early=st.lists(st.tuples(st.sampled_from(RICH), good_amounts), max_size=4),
        creator_cancels=cancel_moments,
    )  # fmt: skip
    def a_sale_and_a_moment(
        self, kind: str, begin: int | None, early: list[tuple[Principal, int | str]],
        creator_cancels: int | None,
    ) -> None:  # fmt: skip
        """One of the two sales, from a moment before or during it, with up to four
        contributions already made (those the rules admit). The creator tries to cancel only
        from ``creator_cancels`` on (in some examples never), so sales also run to their end."""
        self.creator_cancels = creator_cancels
        world = deployed(kind)
        self.ic, self.system, self.sale_id = world.ic, world.system, world.sale
        self.ic.restore(world.snapshot)
        created_at = self.system.launchpad_factory.get_contract_info(self.sale_id).created_at
        self.model = Model(kind, history=[(SaleState.UPCOMING, created_at)])
        self.first_block = self._blocks()
        if begin is not None:
            self._move_to(begin, None)
        for who, amount in early:
            self._contribute(who, self._amount(amount), None, None)

    # -- contributing ---------------------------------------------------------------------------

    @rule(who=buyers, amount=good_amounts, affiliate=st.sampled_from([None, AFFILIATE]))
    def a_buyer_contributes(
        self, who: Principal, amount: int | str, affiliate: Principal | None
    ) -> None:
        """A plausible contribution: a funded user, an amount the rules may admit."""
        self._contribute(who, self._amount(amount), affiliate, None)

    def _amount(self, amount: int | str) -> int:
        model = self.model
        room = model.hard_cap - model.raised
        named = {"soft": SOFT_CAP - model.raised, "room": room, "room less a fee": room - FEE}
        return named[amount] if isinstance(amount, str) else amount

    @rule(who=buyers, amount=good_amounts, fault=failures)
    def the_ledger_fails_a_contribution(
        self, who: Principal, amount: int | str, fault: Fault
    ) -> None:
        """A plausible contribution whose ``icrc2_transfer_from`` is rejected or traps, twice
        (refused) or once (the sale's retry takes it)."""
        self._contribute(who, self._amount(amount), None, fault)

    @rule(who=contributors, choice=amounts, affiliate=affiliates, fault=faults)
    def someone_contributes(
        self, who: Principal, choice: Any, affiliate: Any, fault: Fault | None
    ) -> None:
        """Anyone, any amount, any affiliate; the ledger may refuse or trap the pull."""
        model = self.model
        if isinstance(choice, tuple):
            which, offset = choice
            personal = MAXIMUM - model.contributions.get(who, 0)
            amount = offset + {
                "room": model.hard_cap - model.raised, "personal": personal,
                "soft": SOFT_CAP - model.raised,
            }[which]  # fmt: skip
        else:
            amount = choice
        self._contribute(who, amount, who if affiliate == "self" else affiliate, fault)

    def _expect_contribution(
        self, who: Principal, amount: int, affiliate: Principal | None
    ) -> tuple[Any, bool]:
        """The answer the rules give before any ledger call is made, or the amount taken;
        and whether the sale asks the ledger to pull it."""
        model = self.model
        if who.is_anonymous:
            return refused(NotIdentified, principal=who), False
        if isinstance(amount, bool) or amount <= 0:
            return refused(InvalidRequest), False
        if affiliate is not None and affiliate.is_anonymous:
            return refused(NotIdentified, principal=affiliate), False
        if affiliate == who:
            return refused(InvalidRequest), False
        if model.status not in OPEN:
            return refused(WrongState, state=model.status), False
        if model.status is SaleState.WHITELIST_OPEN and who not in WHITELISTED:
            return refused(NotWhitelisted, caller=who), False
        before = model.contributions.get(who, 0)
        if before + amount > MAXIMUM:
            return refused(AboveMaximum, maximum=MAXIMUM, would_be=before + amount), False
        room = model.hard_cap - model.raised
        if room <= 0:
            return refused(WrongState, state=model.status), False
        take = min(amount, room)
        if before == 0 and take < MINIMUM and take == amount:
            return refused(BelowMinimum, minimum=MINIMUM, amount=take), False
        if before + take <= FEE:
            return refused(InvalidRequest), False
        return take, True

    def _contribute(
        self, who: Principal, amount: Any, affiliate: Principal | None, fault: Fault | None
    ) -> None:
        model = self.model
        call = self._as(who).contribute
        self._settle()
        if isinstance(amount, bool):
            # Not a nat: the call does not even decode, as Candid would refuse it.
            before = self._observe()
            with pytest.raises(InvalidArguments):
                call(amount, affiliate)
            assert self._observe() == before
            self._saw("contribute: a bool does not decode")
            return
        expected, pulls = self._expect_contribution(who, amount, affiliate)
        ledger = Faulting(fault)
        if pulls:
            take = expected
            payable = who in FUNDED and model.balances[who] >= take + FEE
            if not ledger.settles() or not payable:
                expected = refused(TransferFailed)
            else:
                expected = Ok(take)
                model.balances[who] -= take + FEE
                if who not in model.contributions:
                    model.order.append(who)
                model.contributions[who] = model.contributions.get(who, 0) + take
                model.raised += take
                if affiliate is not None:
                    model.referrals[affiliate] = model.referrals.get(affiliate, 0) + take
                if model.raised == model.hard_cap and model.status in OPEN:
                    model.end(self.ic.time)
                    self._saw(f"the hard cap closes the sale: {model.status}")
                if take < amount:
                    self._saw("contribution trimmed to the room under the hard cap")
        blocks = self._blocks()
        fired: list[int] = []

        def contribute() -> Any:
            pull = "icrc2_transfer_from"
            result, hits = self._faulted(fault, pull, lambda: call(amount, affiliate))
            fired.append(hits)
            return result

        self._refused_changes_nothing(contribute, expected)
        assert fired[0] == ledger.fired, (fault, pulls)
        assert self._blocks() == blocks + isinstance(expected, Ok)
        self._saw(f"contribute: {outcome(expected)}{f' ({fired[0]} faults)' if fired[0] else ''}")

    # -- time and status ------------------------------------------------------------------------

    def _move_to(self, when: int, fault: Fault | None) -> None:
        fault = self._refund_fault(fault)
        was, errors = self.model.status, self.model.refund_error
        ledger = Faulting(fault)
        self.model.run_timers(when, ledger)
        _, fired = self._faulted(fault, "icrc1_transfer", lambda: self.ic.set_time(when))
        assert fired == ledger.fired
        failed = " (a refund failed)" if self.model.refund_error and not errors else ""
        if self.model.status is not was:
            self._saw(f"timers: {was} -> {self.model.status}{failed}")
        elif failed:
            self._saw(f"timers: {failed}")

    @rule(move=moves, fault=refund_faults)
    def time_passes(self, move: tuple[int | None, int], fault: Fault | None) -> None:
        """Move the clock (timers make the transitions and run a due refund batch, which the
        ledger may fail)."""
        which, offset = move
        now = self.ic.time
        ahead = [landmark + offset for landmark in LANDMARKS if landmark + offset > now]
        when = now + max(0, offset) if which is None or not ahead else ahead[which % len(ahead)]
        # A successful sale starts its finalize pipeline by itself an hour after it ends (at
        # the end, or when the hard cap closed it): that is beyond this machine.
        ended = END if self.model.succeeded_at is None else self.model.succeeded_at
        when = min(when, max(now, ended + FINALIZE_AFTER_NS - 1))
        self._move_to(when, fault)

    @rule(caller=st.sampled_from(CALLERS))
    def anyone_checks_the_status(self, caller: Principal) -> None:
        before = self._observe()
        assert self._as(caller).check_status() == self.model.status
        assert self._observe() == before

    # -- cancelling and refunds -----------------------------------------------------------------

    @precondition(
        lambda self: self.creator_cancels is not None and self.ic.time >= self.creator_cancels
        and (bool(self.model.order) or self.ic.time >= END - 1)
    )  # fmt: skip
    @rule()
    def the_creator_cancels(self) -> None:
        """Allowed before the sale ends. The creator waits for ``creator_cancels`` and a first
        contribution (or the last nanosecond of the sale)."""
        self._cancel(CREATOR)

    @rule(stranger=st.sampled_from(USERS))
    def a_stranger_cancels(self, stranger: Principal) -> None:
        self._cancel(stranger)

    def _cancel(self, caller: Principal) -> None:
        model = self.model
        self._settle()
        if caller != CREATOR:
            expected: Any = refused(NotCreator, caller=caller)
        elif model.status not in BEFORE_END:
            expected = refused(WrongState, state=model.status)
        else:
            model.enter(SaleState.CANCELLED, self.ic.time)
            model.start_refunds(self.ic.time)
            expected = Ok(SaleState.REFUNDING)
        self._refused_changes_nothing(lambda: self._as(caller).cancel(), expected)
        who = "creator" if caller == CREATOR else "stranger"
        self._saw(f"cancel by {who}: {outcome(expected)}")

    @precondition(lambda self: self.model.status is SaleState.REFUNDING)
    @rule(fault=refund_faults)
    def refund_timers_run(self, fault: Fault | None) -> None:
        """The timers due now run (a refund batch, if one is armed)."""
        self._move_to(self.ic.time, fault)

    @precondition(lambda self: self.model.status is SaleState.REFUNDING)
    @rule(caller=st.sampled_from(CALLERS), fault=refund_faults)
    def refunds_are_retried(self, caller: Principal, fault: Fault | None) -> None:
        """While Refunding (typically after a failed refund stopped a batch)."""
        self.anyone_retries_refunds(caller, fault)

    @rule(caller=st.sampled_from(CALLERS), fault=refund_faults)
    def anyone_retries_refunds(self, caller: Principal, fault: Fault | None) -> None:
        """Refused unless Refunding; else one batch at once (which the ledger may fail),
        answered with the progress after it."""
        model = self.model
        fault = self._refund_fault(fault)
        ledger = Faulting(fault)
        self._settle()
        if model.status is not SaleState.REFUNDING:
            expected: Any = refused(WrongState, state=model.status)
        else:
            model.refund_armed = None  # the retry cancels a batch still armed
            model.refund_error = False
            model.refund_batch(self.ic.time, ledger)
            expected = Ok(self._progress())
        result, fired = self._faulted(
            fault, "icrc1_transfer", lambda: self._refused_changes_nothing(
                lambda: self._as(caller).retry_refunds(), expected
            ),
        )  # fmt: skip
        assert fired == ledger.fired
        if isinstance(result, Ok):
            assert (result.value.last_error is not None) == model.refund_error
        failed = " (a refund failed)" if model.refund_error else ""
        self._saw(f"retry refunds: {outcome(expected)}{failed}")

    def _progress(self) -> RefundProgress:
        """The refund progress the model expects (any ``last_error``: ``_Anything``)."""
        model = self.model
        refunding = model.status in REFUND_STATES
        return RefundProgress(
            state=model.status, contributors=len(model.order), refunded=len(model.refunded),
            owed=len(model.order) - len(model.refunded) if refunding else 0,
            amount_refunded=sum(model.contributions[user] for user in model.refunded),
            last_error=ANYTHING, tokens_returned=False,
        )  # fmt: skip

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def the_escrow_holds_what_was_taken_less_what_was_refunded(self) -> None:
        escrow = self.system.icp_balance(Account(self.sale_id))
        assert escrow == self.model.escrow
        state = self.ic.state_of(self.sale_id)
        assert escrow == state.raised - state.refunded_amount
        assert state.reserved == 0 and not state.pulls

    @invariant()
    def no_cap_is_passed_and_the_reads_are_the_models(self) -> None:
        model = self.model
        state = self.ic.state_of(self.sale_id)
        assert {user: p.contribution for user, p in state.participants.items()} == (
            model.contributions
        )  # fmt: skip
        assert all(contribution <= MAXIMUM for contribution in model.contributions.values())
        assert list(state.order) == model.order
        assert model.raised <= model.hard_cap
        assert state.status is model.status
        stats = self._as(GHOST).get_stats()
        assert (stats.state, stats.raised, stats.in_flight) == (model.status, model.raised, 0)
        assert stats.participants == len(model.order)
        assert list(self._as(GHOST).get_sale().history) == model.history
        assert stats.allocated == model.allocated
        leftover = None if model.status is not SaleState.SUCCESSFUL else (
            model.tokens_for_sale - model.allocated
        )  # fmt: skip
        assert stats.leftover == leftover
        assert self._as(GHOST).get_affiliates() == tuple(sorted(model.referrals.items()))

    @invariant()
    def the_sale_keeps_exactly_the_timers_it_needs(self) -> None:
        """One for its next transition while it is open or upcoming, one for the finalize
        pipeline once Successful, one for a refund batch armed, one watching the refunds sent
        while Refunding (none leaked, e.g. by a retry)."""
        model, state = self.model, self.ic.state_of(self.sale_id)
        kept = {state.timer, state.refund_timer, state.finalize_timer, state.watch_timer} - {None}
        assert state.watch_timer is None or model.status is SaleState.REFUNDING
        assert set(self.ic.world.canisters[self.sale_id].timer_ids) == kept
        assert (state.timer is not None) == (model.status in ACTIVE_STATES)
        assert (state.finalize_timer is not None) == (model.status is SaleState.SUCCESSFUL)
        assert (state.refund_timer is not None) == (model.refund_armed is not None)

    @invariant()
    def the_factory_indexes_exactly_the_contributors(self) -> None:
        assert self._as(GHOST).get_contract_meta().pending_notifications == 0
        factory = self.system.launchpad_factory
        for user in WATCHED:
            entries = [
                entry for entry in factory.as_caller(user).get_my_contracts(user)
                if entry.info.id == self.sale_id
            ]  # fmt: skip
            roles = set(entries[0].roles) if entries else set()
            assert (PARTICIPANT in roles) == (user in self.model.contributions), user
            assert (CREATOR_ROLE in roles) == (user == CREATOR), user

    @invariant()
    def the_registry_holds_the_sales_state(self) -> None:
        status = self.model.status
        factory = self.system.launchpad_factory
        assert factory.get_contract_info(self.sale_id).status == str(status)
        active = [info.id for info in factory.get_active_sales()]
        assert (self.sale_id in active) == (status in ACTIVE_STATES)
        assert self.sale_id in [info.id for info in factory.get_sales_by_state(status)]

    @invariant()
    def every_contributor_is_refunded_exactly_once(self) -> None:
        model = self.model
        for user in WATCHED:
            assert self.system.icp_balance(user) == model.balances[user], user
        state = self.ic.state_of(self.sale_id)
        progress = self._as(GHOST).get_refund_progress()
        assert progress == self._progress()
        assert (progress.last_error is not None) == model.refund_error
        refunds = [
            block for block in self.system.icp_ledger.get_blocks(
                self.first_block, self._blocks() - self.first_block
            ) if block.from_ == Account(self.sale_id)
        ]  # fmt: skip
        assert [block.to for block in refunds] == [Account(user) for user in model.refunded]
        for user, contribution in model.contributions.items():
            info = self._as(user).get_participant(user)
            assert (info.contribution, info.allocation) == (
                contribution, model.allocation(contribution)
            )  # fmt: skip
            if user in model.refunded:
                block = refunds[model.refunded.index(user)]
                assert (block.amount, block.fee) == (contribution - FEE, FEE)
                assert info.refund is RefundStatus.REFUNDED
                assert info.refund_block == state.participants[user].refund_block
            else:
                refunding = model.status in REFUND_STATES
                assert info.refund is (RefundStatus.OWED if refunding else RefundStatus.NOT_DUE)
        if model.status is SaleState.REFUNDED:
            assert set(model.refunded) == set(model.contributions)


LaunchpadMachine.TestCase.settings = settings(
    max_examples=250, stateful_step_count=50, deadline=None
)
TestLaunchpad = LaunchpadMachine.TestCase


# -- the hard cap reached while only the whitelist may contribute -------------------------------


def test_a_whitelist_that_fills_the_hard_cap_closes_the_sale_at_once() -> None:
    """SaleEnded "at sale_end, or the moment the hard cap is reached", whoever may contribute
    then: the fair launch's 20 ICP filled by Alice and Bob in the whitelist window."""
    world = deployed("fair")
    ic, factory = world.ic, world.system.launchpad_factory
    ic.restore(world.snapshot)
    ic.set_time(OPENS)
    assert ic.actor(world.sale, ALICE).contribute(MAXIMUM) == Ok(MAXIMUM)
    assert ic.actor(world.sale, BOB).contribute(MAXIMUM) == Ok(8 * E8S)
    sale = ic.actor(world.sale, CAROL)
    assert sale.check_status() == SaleState.SUCCESSFUL
    assert [state for state, _ in sale.get_sale().history] == [
        SaleState.UPCOMING, SaleState.WHITELIST_OPEN, SaleState.SALE_ENDED, SaleState.SUCCESSFUL,
    ]  # fmt: skip
    assert world.sale not in [info.id for info in factory.get_active_sales()]
    assert isinstance(ic.actor(world.sale, CREATOR).cancel().error, WrongState)
    stats = sale.get_stats()
    shares = [fair_allocation(paid, 20 * E8S, FAIR_TOKENS) for paid in (MAXIMUM, 8 * E8S)]
    assert shares == [46_666_666_666, 31_111_111_110]
    assert (stats.allocated, stats.leftover) == (sum(shares), 1)


@pytest.mark.parametrize(
    ("contributions", "verdict"),
    [
        (((CAROL, 4 * E8S), (DAVE, 6 * E8S)), SaleState.SUCCESSFUL),
        (((CAROL, 4 * E8S), (DAVE, 6 * E8S - 1)), SaleState.REFUNDED),
        (((CAROL, 10 * E8S),), SaleState.REFUNDED),
    ],
    ids=["exactly the soft cap", "one e8s short", "one participant"],
)
def test_the_verdict_at_the_end_holds_to_the_e8s_and_the_participant(
    contributions: tuple[tuple[Principal, int], ...], verdict: SaleState
) -> None:
    """At the end the sale succeeds iff it raised at least the soft cap from at least two
    participants; a failed one refunds everyone at once."""
    world = deployed("fixed")
    ic = world.ic
    ic.restore(world.snapshot)
    ic.set_time(START)
    for who, amount in contributions:
        assert ic.actor(world.sale, who).contribute(amount) == Ok(amount)
    ic.set_time(END)
    sale = ic.actor(world.sale, GHOST)
    assert sale.get_state() is verdict
    ended = [state for state, at in sale.get_sale().history if at == END]
    if verdict is SaleState.SUCCESSFUL:
        assert ended == [SaleState.SALE_ENDED, SaleState.SUCCESSFUL]
    else:
        assert ended == [
            SaleState.SALE_ENDED, SaleState.FAILED, SaleState.REFUNDING, SaleState.REFUNDED,
        ]  # fmt: skip
        for who, _ in contributions:
            assert world.system.icp_balance(who) == FUNDED[who] - 3 * FEE  # approve, pull, refund

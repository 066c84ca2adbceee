"""A distribution pays every recipient what has vested, never more, whoever calls it and whenever.

One distribution is deployed once per module, straight through the Distribution Factory: 2.9 M
e8s of ICP in a team category (Alice, Bob and Carol, fixed amounts, 10 % at the start, a 7 day
cliff releasing 20 % of the rest, the remainder linearly over 21 days) and an open airdrop (4
equal shares of 100,000, a registration window from 6 h after deployment to 3 days after the
start, linear over 10 days). It is cancellable, an early unlock forfeits half of what is still
unvested (burned), and the owner pre-pays one ledger fee per recipient, so the fee reserve runs
out and later payouts pay their fee out of the claim. Every example starts again from the
snapshot taken before funding.

A hypothesis state machine funds it (by the owner, sometimes twice, or by a stranger), deposits
straight into its account and activates it (sometimes too little), registers any of six
candidates in the airdrop (inside and outside the window, twice, when it is full), claims as
recipients and strangers (everything, nothing, a part, more than claimable, or everyone in
turn), unlocks early, pauses, resumes, cancels and takes back the airdrop's unregistered shares
as the owner or a stranger, adds (within each category's places and room, an airdrop's exact
share), removes and blacklists recipients before the start, tops the fee reserve up (anyone,
approved or not, a bad amount), moves time (up to 60 days, or to the nanosecond around the
start, the cliff, the window's end, the airdrop's end and the end), and makes the ledger reject
or trap the one payout of a claim, an early unlock, a cancellation or a withdrawal, or the pull
of a top-up. Each example begins funded (by ``fund`` or a deposit) or not, with some airdrop
entrants, at a different moment. A plain model predicts every answer (Ok with its exact value,
or which error) and what the contract keeps; a distribution never funded owes nobody anything.

After every step:

1. the ledger conserves the distribution's tokens: its balance plus everything that left its
   account (amounts, fees and burns) is everything paid into it, block by block, and is the
   model's balance;
2. nobody has been paid more than has vested for them: what each recipient received plus the
   penalty of their early unlock is at most their allocation if they unlocked early, else what
   had unlocked when vesting stopped (now, or at the cancellation); their ``claimed`` and
   ``claimable`` are the model's;
3. a funded distribution can still pay what it owes: its balance covers every recipient's
   unclaimed allocation (after a cancellation, what had vested), its fee reserve and the
   penalties still to burn;
4. the factory indexes exactly the contract's recipients (the factory always answers here, so no
   notification is ever pending).

Each claim, early unlock and cancellation also checks that a failed payout leaves ``claimed`` as
it was and makes no ledger block, and that a successful one makes exactly its blocks (the
payout, and the burn of a penalty the ledger takes).

Plain examples pin funding, a claim, a pause and a cancellation with hand-computed amounts, and
that a cancellation near the end leaves every recipient able to claim what had vested.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import attrs
import pytest
from hypothesis import event, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from icto import E8S, GENESIS_TIME, IC, Account, ApproveArgs, Err, Ok, Principal
from icto.distribution import (
    RECIPIENT,
    Category,
    Claim,
    Cliff,
    DistributionConfig,
    Fixed,
    InvalidRequest,
    Linear,
    NotEligible,
    NotFunded,
    NothingToClaim,
    NotOwner,
    NotRecipient,
    Open,
    Phase,
    TransferFailed,
    Window,
    WrongPhase,
    unlocked,
)
from icto.ledger.presets import ICP
from icto.system import System, deploy_system

OWNER, ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI = (
    Principal.from_name(name)
    for name in ("owner", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
)
CANDIDATES = (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI)
EVERYONE = (*CANDIDATES, OWNER)
REGISTRANTS = (ALICE, DAVE, ERIN, FRANK, GRACE, HEIDI)
HOUR: Final = 3600 * 10**9
DAY: Final = 24 * HOUR
BP: Final = 10_000
LEDGER_FEE: Final = 10_000
ICP_LEDGER = ICP.canister_id

TEAM, AIRDROP = 0, 1
TEAM_SHARES = ((ALICE, 1_234_567), (BOB, 765_433), (CAROL, 500_000))
TEAM_AMOUNT = 2_500_000
SEATS = 4
SHARE = 100_000
START = GENESIS_TIME + 2 * DAY
CLIFF = START + 7 * DAY
WINDOW = Window(GENESIS_TIME + 6 * HOUR, START + 3 * DAY)
AIRDROP_END = START + 10 * DAY
END = START + 28 * DAY
PENALTY_BP = 5_000
CATEGORIES = (
    Category(
        "team", TEAM_AMOUNT, Fixed(TEAM_SHARES),
        Cliff(cliff=7 * DAY, cliff_bp=2_000, duration=21 * DAY), initial_bp=1_000,
    ),
    Category("airdrop", SEATS * SHARE, Open(SEATS, WINDOW), Linear(10 * DAY)),
)  # fmt: skip
CONFIG = DistributionConfig(
    title="Launch", token=ICP_LEDGER, start=START, categories=CATEGORIES, cancellable=True,
    penalty_bp=PENALTY_BP, penalty_to=None, claims_covered=1,
)  # fmt: skip
TOTAL = TEAM_AMOUNT + SEATS * SHARE
PLACES = {TEAM: len(TEAM_SHARES), AIRDROP: SEATS}
"""The recipients each category's fee reserve was sized for."""
RESERVE = 1 * (len(TEAM_SHARES) + SEATS) * LEDGER_FEE
REQUIRED = TOTAL + RESERVE
LANDMARKS = (START, CLIFF, WINDOW.closes, AIRDROP_END, END)
CLAIMING = frozenset({Phase.ACTIVE, Phase.COMPLETED, Phase.CANCELLED})
BEFORE_THE_START = frozenset({Phase.CREATED, Phase.FUNDED})


@attrs.frozen
class Deployed:
    ic: IC
    system: System
    distribution: Principal
    snapshot: Any


@functools.cache
def deployed() -> Deployed:
    ic = IC(trace=False)
    system = deploy_system(ic)
    assert ic.time < WINDOW.opens
    system.faucet(OWNER, 10 * E8S)
    factory = system.distribution_factory.as_caller(system.backend.id)
    distribution = factory.create_contract(OWNER, CONFIG).unwrap()
    return Deployed(ic, system, distribution, ic.snapshot())


# -- the model ----------------------------------------------------------------------------------


@attrs.define
class Share:
    """One recipient as the model expects the contract to keep them."""

    allocations: dict[int, int]
    claimed: int = 0
    early_unlocked: bool = False
    penalty: int = 0
    received: int = 0

    @property
    def allocation(self) -> int:
        return sum(self.allocations.values())


@attrs.define
class Model:
    """The distribution as its rules say it must be."""

    status: Phase = Phase.CREATED
    fee: int = 0
    reserve: int = 0
    balance: int = 0
    """The distribution's ledger balance."""
    funded: bool = False
    cancelled_at: int | None = None
    pending_penalty: int = 0
    topped_up: int = 0
    claims: int = 0
    refunded: int = 0
    """What went back to the owner (cancellation, unregistered shares)."""
    recipients: dict[Principal, Share] = attrs.Factory(
        lambda: {principal: Share({TEAM: amount}) for principal, amount in TEAM_SHARES}
    )
    registered: dict[int, int] = attrs.Factory(lambda: {TEAM: TEAM_AMOUNT, AIRDROP: 0})
    counts: dict[int, int] = attrs.Factory(lambda: {TEAM: len(TEAM_SHARES), AIRDROP: 0})
    blacklist: set[Principal] = attrs.Factory(set)

    def phase(self, now: int) -> Phase:
        if self.status is not Phase.FUNDED:
            return self.status
        if now < START:
            return Phase.FUNDED
        return Phase.COMPLETED if now >= END else Phase.ACTIVE

    def vesting_time(self, now: int) -> int:
        return now if self.cancelled_at is None else min(now, self.cancelled_at)

    def vested(self, share: Share, at: int) -> int:
        if share.early_unlocked:
            return share.allocation
        return sum(
            unlocked(CATEGORIES[index].schedule, amount, at - START, CATEGORIES[index].initial_bp)
            for index, amount in share.allocations.items()
        )

    def claimable(self, share: Share, now: int) -> int:
        if not self.funded:
            return 0
        return max(0, self.vested(share, self.vesting_time(now)) - share.claimed)

    def owed(self, share: Share, now: int) -> int:
        """What the distribution must still be able to pay ``share``."""
        if self.cancelled_at is None:
            return share.allocation - share.claimed
        return self.claimable(share, now)

    def room(self, category: int) -> int:
        return CATEGORIES[category].amount - self.registered[category]

    def adds(self, who: Principal, category: int, amount: int) -> bool:
        """Whether the owner may give ``who`` ``amount`` in ``category``: within its room and
        the places its fee reserve was sized for, an airdrop's exact share, once."""
        held = self.recipients.get(who)
        return (
            category in self.registered and amount > 0 and who not in self.blacklist
            and (category != AIRDROP or amount == SHARE) and amount <= self.room(category)
            and self.counts[category] < PLACES[category]
            and (held is None or category not in held.allocations)
        )  # fmt: skip

    def payouts_ahead(self, now: int) -> bool:
        """Whether the distribution may still pay someone (a top-up is taken only then):
        someone is owed something, or a category may still take a recipient."""
        if not self.funded or self.status is Phase.CREATED:
            return False
        shares = self.recipients.values()
        if self.status is Phase.CANCELLED:
            return any(self.claimable(share, now) > 0 for share in shares)
        takes = (now < WINDOW.closes and self.room(AIRDROP) > 0) or (
            now < START and self.room(TEAM) > 0
        )
        return takes or any(share.claimed < share.allocation for share in shares)

    def allocate(self, user: Principal, category: int, amount: int) -> None:
        share = self.recipients.setdefault(user, Share({}))
        share.allocations[category] = amount
        self.registered[category] += amount
        self.counts[category] += 1

    def drop(self, user: Principal) -> None:
        for category, amount in self.recipients.pop(user).allocations.items():
            self.registered[category] -= amount
            self.counts[category] -= 1


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
    if isinstance(expected, Refused):
        return expected.error.__name__
    return type(expected).__name__ if isinstance(expected, Ok) else type(expected.error).__name__


# -- strategies ---------------------------------------------------------------------------------

picks = st.integers(0, 15)
"""Who calls, counted on from the last caller (so a repeated step is another caller): below 8
one of the recipients as they are then, else anyone."""
faults = st.sampled_from([None, None, None, "reject", "trap"])
owner_or_not = st.sampled_from([True, True, True, False])
deposits = st.sampled_from([REQUIRED, REQUIRED - 1, REQUIRED + 12_345, REQUIRED // 3, 0])
moves = st.one_of(
    st.tuples(st.just(None), st.integers(0, 60 * DAY)),
    st.tuples(st.just(None), st.integers(0, 2 * DAY)),
    st.tuples(st.integers(0, len(LANDMARKS) - 1), st.sampled_from([-HOUR, -1, 0, 1])),
)
"""(which landmark still ahead, offset in ns) to move to, or (``None``, how far to move)."""
beginnings = st.one_of(
    st.builds(int.__add__, st.sampled_from(LANDMARKS), st.sampled_from([-HOUR, -1, 0, 1])),
    st.integers(START, END + 3 * DAY),
    st.just(WINDOW.opens),
)
"""When an example's steps begin: mostly while the distribution runs."""


def amounts(claimable: int) -> st.SearchStrategy[int | None]:
    edges = sorted({0, 1, LEDGER_FEE, LEDGER_FEE + 1, claimable, claimable + 1})
    return st.one_of(st.none(), st.sampled_from(edges), st.integers(1, max(1, claimable)))


class DistributionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        world = deployed()
        self.ic, self.system, self.distribution = world.ic, world.system, world.distribution
        self.ic.restore(world.snapshot)
        self.ledger = self.system.icp_ledger
        self.account = Account(self.distribution)
        self.model = Model()
        self.scanned = 0
        self.paid_in = 0
        self.paid_out = 0
        self.received: Counter[Principal] = Counter()
        self.turn = 0
        self.seen: set[str] = set()

    # -- harness ------------------------------------------------------------------------------

    def _as(self, caller: Principal) -> Any:
        return self.ic.actor(self.distribution, caller)

    def _someone(self, pick: int, among: tuple[Principal, ...] = EVERYONE) -> Principal:
        self.turn += 1
        recipients = [p for p in among if p in self.model.recipients]
        if pick < 8 and recipients:
            return recipients[(pick + self.turn) % len(recipients)]
        return among[(pick + self.turn) % len(among)]

    def _saw(self, what: str) -> None:
        event(what)
        self.seen.add(what)

    def teardown(self) -> None:
        target(len(self.seen), label="different outcomes")

    def _blocks(self) -> int:
        return int(self.ledger.get_transaction_count())

    def _claimed(self, user: Principal) -> int | None:
        participant = self.ic.state_of(self.distribution).participants.get(user)
        return None if participant is None else participant.claimed

    def _with_fault(
        self, fault: str | None, call: Callable[[], Any], method: str = "icrc1_transfer"
    ) -> tuple[Any, bool]:
        """``call()`` while the ICP ledger rejects or traps its next two ``method`` calls (a
        payout unless told: the request and its identical resend); the result and whether the
        fault fired."""
        if fault is None:
            return call(), False
        install = self.ic.faults.reject if fault == "reject" else self.ic.faults.trap
        with install(canister=ICP_LEDGER, method=method, times=2) as injected:
            result = call()
        return result, injected.fired > 0

    def _pays(self, fault: str | None, amount: int) -> bool:
        """Whether the ledger takes a payout of ``amount`` from the distribution now."""
        return fault is None and self.model.balance >= amount + LEDGER_FEE

    # -- funding --------------------------------------------------------------------------------

    @initialize(
        funding=st.sampled_from(["fund", "fund", "deposit", None]),
        entrants=st.sampled_from([0, 1, 3, SEATS, SEATS]),
        begin=beginnings,
    )  # fmt: skip
    def the_distribution_is_set_up(self, funding: str | None, entrants: int, begin: int) -> None:
        """Funded by its owner or by a deposit, or not yet; the first ``entrants`` registered as
        the window opens; the clock at ``begin``: the examples start from different moments of
        the distribution's life."""
        if funding == "fund":
            self.fund(by_owner=True, again=False)
        elif funding == "deposit":
            self.deposit_and_activate(REQUIRED, pick=0)
        if entrants:
            self.ic.set_time(WINDOW.opens)
            for who in REGISTRANTS[1 : 1 + entrants]:
                self.register(who, AIRDROP)
        self.ic.set_time(max(self.ic.time, begin))

    @rule(by_owner=owner_or_not, again=st.booleans())
    def fund(self, by_owner: bool, again: bool) -> None:
        """The owner approves the total, the reserve and one fee, then funds; or a stranger
        tries."""
        model = self.model
        caller = OWNER if by_owner else DAVE
        if by_owner:
            approval = ApproveArgs(spender=self.account, amount=REQUIRED + LEDGER_FEE)
            self.ledger.as_caller(OWNER).icrc2_approve(approval).unwrap()
        for _ in range(2 if again else 1):
            if caller != OWNER:
                expected: Any = refused(NotOwner, caller=caller)
            elif model.status is not Phase.CREATED:
                expected = refused(WrongPhase, phase=model.phase(self.ic.time))
            else:
                expected = Ok(self._blocks())
            check(self._as(caller).fund(), expected)
            self._saw(f"fund: {outcome(expected)}")
            if isinstance(expected, Ok):
                model.status, model.fee, model.reserve = Phase.FUNDED, LEDGER_FEE, RESERVE
                model.balance += REQUIRED
                model.funded = True

    @rule(deposit=deposits, pick=picks)
    def deposit_and_activate(self, deposit: int, pick: int) -> None:
        """Someone sends tokens straight to the distribution's account, then anyone asks it to
        see them."""
        model = self.model
        if deposit:
            self.system.faucet(self.account, deposit)
            model.balance += deposit
        caller = self._someone(pick)
        if model.status is not Phase.CREATED:
            expected: Any = refused(WrongPhase, phase=model.phase(self.ic.time))
        elif model.balance < REQUIRED:
            expected = Err(NotFunded(REQUIRED, model.balance))
        else:
            model.status, model.fee, model.funded = Phase.FUNDED, LEDGER_FEE, True
            model.reserve = model.balance - TOTAL
            expected = Ok(model.phase(self.ic.time))
        check(self._as(caller).activate(), expected)
        self._saw(f"activate: {outcome(expected)}")

    # -- recipients -------------------------------------------------------------------------------

    @rule(pick=picks, category=st.sampled_from([AIRDROP] * 5 + [TEAM]))
    def register_someone(self, pick: int, category: int) -> None:
        self.register(self._someone(pick, REGISTRANTS), category)

    def register(self, who: Principal, category: int) -> None:
        model, now = self.model, self.ic.time
        phase = model.phase(now)
        held = model.recipients.get(who)
        if phase is Phase.CANCELLED:
            expected: Any = refused(WrongPhase, phase=phase)
        elif (
            category == TEAM or not WINDOW.opens <= now < WINDOW.closes
            or who in model.blacklist or model.room(AIRDROP) < SHARE
            or (held is not None and AIRDROP in held.allocations)
            or model.counts[AIRDROP] >= SEATS
        ):  # fmt: skip
            expected = refused(NotEligible)
        else:
            model.allocate(who, AIRDROP, SHARE)
            expected = Ok(SHARE)
        check(self._as(who).register(category), expected)
        self._saw(f"register: {outcome(expected)}")

    @rule(
        action=st.sampled_from(["add", "remove", "blacklist"]),
        pick=picks,
        category=st.sampled_from([TEAM, AIRDROP, AIRDROP, 2]),
        by_owner=owner_or_not,
        data=st.data(),
    )
    def change_recipients(
        self, action: str, pick: int, category: int, by_owner: bool, data: st.DataObject
    ) -> None:
        """The owner (or a stranger) adds, removes or blacklists a recipient."""
        model = self.model
        who = self._someone(pick, CANDIDATES)
        caller = OWNER if by_owner else ERIN
        phase = model.phase(self.ic.time)
        held = model.recipients.get(who)
        room = model.room(category) if category in model.registered else 0
        amount = data.draw(st.sampled_from([1, SHARE, room, room + 1, 0]), label="amount")
        if caller != OWNER:
            expected: Any = refused(NotOwner, caller=caller)
        elif phase not in BEFORE_THE_START:
            expected = refused(WrongPhase, phase=phase)
        elif action == "add":
            if model.adds(who, category, amount):
                model.allocate(who, category, amount)
                expected = Ok(None)
            else:
                expected = refused(InvalidRequest)
        elif action == "remove":
            if held is None:
                expected = refused(NotRecipient, caller=who)
            else:
                model.drop(who)
                expected = Ok(None)
        else:
            model.blacklist.add(who)
            if held is not None:
                model.drop(who)
            expected = Ok(None)
        distribution = self._as(caller)
        if action == "add":
            result = distribution.add_recipient(who, category, amount)
        elif action == "remove":
            result = distribution.remove_recipient(who)
        else:
            result = distribution.blacklist(who)
        check(result, expected)
        self._saw(f"{action}: {outcome(expected)}")

    # -- the fee reserve --------------------------------------------------------------------------

    @rule(
        pick=picks,
        amount=st.sampled_from([LEDGER_FEE, 3 * LEDGER_FEE, 3 * LEDGER_FEE, 1, 0, 2**64]),
        approved=st.sampled_from([True, True, True, False]), fault=faults,
    )  # fmt: skip
    def top_up_reserve(self, pick: int, amount: int, approved: bool, fault: str | None) -> None:
        """Anyone tops the fee reserve up, having approved the pull (amount + one fee) or not;
        the ledger may reject or trap the pull. A refusal changes nothing."""
        model, now = self.model, self.ic.time
        payer = self._someone(pick)
        valid = 0 < amount < 2**64
        if valid:
            self.system.faucet(payer, amount + 2 * LEDGER_FEE)
            allowance = amount + LEDGER_FEE if approved else 0
            approval = ApproveArgs(spender=self.account, amount=allowance)
            self.ledger.as_caller(payer).icrc2_approve(approval).unwrap()
        pulls = valid and model.payouts_ahead(now)
        if not valid:
            expected: Any = refused(InvalidRequest)
        elif not pulls:
            expected = refused(WrongPhase, phase=model.phase(now))
        elif not approved or fault is not None:
            expected = refused(TransferFailed)
        else:
            model.reserve += amount
            model.balance += amount
            model.topped_up += amount
            expected = Ok(model.reserve)
        state, blocks = self.ic.state_of(self.distribution), self._blocks()
        result, fired = self._with_fault(
            fault, lambda: self._as(payer).top_up_reserve(amount), "icrc2_transfer_from"
        )
        check(result, expected)
        assert fired == (fault is not None and pulls)
        self._saw(f"top up: {outcome(expected)}{' (fault)' if fired else ''}")
        if isinstance(expected, Ok):
            assert self._blocks() == blocks + 1
        else:
            assert self._blocks() == blocks
            assert self.ic.state_of(self.distribution) == state

    # -- payouts ----------------------------------------------------------------------------------

    @rule(pick=picks, fault=faults, data=st.data())
    def claim(self, pick: int, fault: str | None, data: st.DataObject) -> None:
        who = self._someone(pick)
        share = self.model.recipients.get(who)
        claimable = 0 if share is None else self.model.claimable(share, self.ic.time)
        self._claim(who, data.draw(amounts(claimable), label="amount"), fault)

    @rule(fault=faults, victim=st.integers(0, 7))
    def everyone_claims(self, fault: str | None, victim: int) -> None:
        """Each recipient in turn claims everything; the fault, if any, meets the ``victim``-th
        claim."""
        recipients = [p for p in CANDIDATES if p in self.model.recipients]
        for index, who in enumerate(recipients):
            self._claim(who, None, fault if index == victim % len(recipients) else None)

    def _claim(self, who: Principal, amount: int | None, fault: str | None) -> None:
        model, now = self.model, self.ic.time
        share = model.recipients.get(who)
        claimable = 0 if share is None else model.claimable(share, now)
        phase = model.phase(now)
        tries_payout = False
        if share is None:
            expected: Any = refused(NotRecipient, caller=who)
        elif phase not in CLAIMING:
            expected = refused(WrongPhase, phase=phase)
        else:
            wanted = claimable if amount is None else amount
            from_reserve = model.reserve >= model.fee
            sent = wanted if from_reserve else wanted - model.fee
            if not 0 < wanted <= claimable or sent <= 0:
                expected = refused(NothingToClaim, claimable=claimable)
            else:
                tries_payout = True
                if not self._pays(fault, sent):
                    expected = refused(TransferFailed)
                else:
                    expected = Ok(
                        Claim(model.claims, who, sent, model.fee, from_reserve, now, self._blocks())
                    )
                    share.claimed += wanted
                    share.received += sent
                    model.reserve -= model.fee if from_reserve else 0
                    model.balance -= sent + LEDGER_FEE
                    model.claims += 1
                    self._saw(f"claim paid, fee from {'reserve' if from_reserve else 'the claim'}")
        claimed, blocks = self._claimed(who), self._blocks()
        result, fired = self._with_fault(fault, lambda: self._as(who).claim(amount))
        check(result, expected)
        assert fired == (fault is not None and tries_payout)
        self._saw(f"claim: {outcome(expected)}{' (fault)' if fired else ''}")
        if isinstance(expected, Ok):
            assert self._blocks() == blocks + 1
        else:
            assert self._blocks() == blocks
            assert self._claimed(who) == claimed

    @rule(pick=picks, fault=faults)
    def early_unlock(self, pick: int, fault: str | None) -> None:
        model, now = self.model, self.ic.time
        who = self._someone(pick)
        share = model.recipients.get(who)
        phase = model.phase(now)
        tries_payout = False
        burns = False
        if share is None:
            expected: Any = refused(NotRecipient, caller=who)
        elif phase is not Phase.ACTIVE or share.early_unlocked:
            expected = refused(WrongPhase, phase=phase)
        else:
            penalty = (share.allocation - model.vested(share, now)) * PENALTY_BP // BP
            wanted = share.allocation - share.claimed - penalty
            from_reserve = model.reserve >= model.fee
            sent = wanted if from_reserve else wanted - model.fee
            if sent <= 0:
                expected = refused(NothingToClaim, claimable=wanted)
            else:
                tries_payout = True
                if not self._pays(fault, sent):
                    expected = refused(TransferFailed)
                else:
                    expected = Ok(
                        Claim(model.claims, who, sent, model.fee, from_reserve, now,
                              self._blocks(), "early_unlock")
                    )  # fmt: skip
                    model.balance -= sent + LEDGER_FEE
                    # A penalty below the fee cannot be burned: it joins the fee reserve.
                    burns = penalty >= model.fee
                    if burns:
                        model.balance -= penalty
                    else:
                        model.reserve += penalty
                    share.claimed, share.early_unlocked = share.allocation, True
                    share.penalty, share.received = penalty, share.received + sent
                    model.reserve -= model.fee if from_reserve else 0
                    model.claims += 1
        claimed, blocks = self._claimed(who), self._blocks()
        result, fired = self._with_fault(fault, lambda: self._as(who).early_unlock())
        check(result, expected)
        assert fired == (fault is not None and tries_payout)
        self._saw(f"early unlock: {outcome(expected)}{' (fault)' if fired else ''}")
        if isinstance(expected, Ok):
            assert self._blocks() == blocks + 1 + burns
        else:
            assert self._blocks() == blocks
            assert self._claimed(who) == claimed

    # -- the owner ------------------------------------------------------------------------------

    @rule(
        action=st.sampled_from(["pause", "resume", "toggle", "toggle", "cancel", "withdraw"]),
        by_owner=owner_or_not, fault=faults,
    )  # fmt: skip
    def owner_acts(self, action: str, by_owner: bool, fault: str | None) -> None:
        """Pause, resume, or ``toggle`` (resume if paused, else pause), cancel, or withdraw
        the airdrop's unregistered shares; by the owner or a stranger."""
        model, now = self.model, self.ic.time
        caller = OWNER if by_owner else FRANK
        phase = model.phase(now)
        if action == "toggle":
            action = "resume" if phase is Phase.PAUSED else "pause"
        allowed = {
            "pause": {Phase.ACTIVE}, "resume": {Phase.PAUSED},
            "cancel": {Phase.CREATED, Phase.FUNDED, Phase.ACTIVE, Phase.PAUSED},
            "withdraw": set(Phase) - {Phase.CANCELLED} if model.funded else set(),
        }[action]  # fmt: skip
        pays = False
        if caller != OWNER:
            expected: Any = refused(NotOwner, caller=caller)
        elif phase not in allowed:
            expected = refused(WrongPhase, phase=phase)
        elif action == "withdraw":
            expected, pays = self._withdraw(fault)
        elif action == "pause":
            model.status = Phase.PAUSED
            expected = Ok(None)
        elif action == "resume":
            model.status = Phase.FUNDED
            expected = Ok(None)
        else:
            expected, pays = self._cancel(fault)
        blocks = self._blocks()
        method = "withdraw_unallocated" if action == "withdraw" else action
        result, fired = self._with_fault(fault, lambda: getattr(self._as(caller), method)())
        check(result, expected)
        assert fired == (fault is not None and pays)
        self._saw(f"{action}: {outcome(expected)}{' (fault)' if fired else ''}")
        assert self._blocks() == blocks + (pays and isinstance(expected, Ok))

    def _cancel(self, fault: str | None) -> tuple[Any, bool]:
        """The owner's cancellation as the model sees it: the answer and whether it pays the
        owner back."""
        model, now = self.model, self.ic.time
        lefts = [] if model.status is Phase.CREATED else [
            max(0, model.vested(share, now) - share.claimed)
            for share in model.recipients.values()
        ]  # fmt: skip
        claimers = sum(1 for left in lefts if left > 0)
        back = (
            model.balance - sum(lefts) - claimers * LEDGER_FEE - model.pending_penalty - LEDGER_FEE
        )
        if back > 0 and fault is not None:
            return refused(TransferFailed), True
        model.status, model.cancelled_at = Phase.CANCELLED, now
        model.reserve = claimers * LEDGER_FEE
        if back <= 0:
            # Nothing goes back: what is left above the amounts owed covers claim fees, up to
            # one per claimer (it may be less than that).
            spare = max(0, model.balance - sum(lefts) - model.pending_penalty)
            model.reserve = min(model.reserve, spare)
            return Ok(0), False
        model.balance -= back + LEDGER_FEE
        model.refunded += back
        return Ok(back), True

    def _withdraw(self, fault: str | None) -> tuple[Any, bool]:
        """The owner takes back the airdrop's unregistered shares once its window has closed,
        and the team's removed ones once the start has come: the answer and whether it pays."""
        model, now = self.model, self.ic.time
        closed = {AIRDROP: model.room(AIRDROP) if now >= WINDOW.closes else 0,
                  TEAM: model.room(TEAM) if now >= START else 0}  # fmt: skip
        back = sum(closed.values()) - model.fee
        if back <= 0:
            return refused(InvalidRequest), False
        if fault is not None:
            return refused(TransferFailed), True
        for category, left in closed.items():
            model.registered[category] += left
        model.balance -= back + LEDGER_FEE
        model.refunded += back
        return Ok(back), True

    # -- time -------------------------------------------------------------------------------------

    @rule(move=moves)
    def time_passes(self, move: tuple[int | None, int]) -> None:
        which, offset = move
        now = self.ic.time
        ahead = [landmark + offset for landmark in LANDMARKS if landmark + offset > now]
        if which is None or not ahead:
            self.ic.set_time(now + offset if which is None else now)
        else:
            self.ic.set_time(ahead[which % len(ahead)])

    # -- invariants -------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Take in the ledger blocks made since the last look."""
        count = self._blocks()
        for block in self.ledger.get_blocks(self.scanned, count - self.scanned):
            if block.to == self.account:
                self.paid_in += block.amount
            if block.from_ == self.account:
                self.paid_out += block.amount + (block.fee or 0)
                if block.to is not None:
                    assert block.to.subaccount is None, block
                    self.received[block.to.owner] += block.amount
        self.scanned = count

    @invariant()
    def the_ledger_conserves_the_distributions_tokens(self) -> None:
        self._scan()
        balance = self.system.icp_balance(self.account)
        assert balance + self.paid_out == self.paid_in
        assert balance == self.model.balance

    @invariant()
    def nobody_has_been_paid_more_than_has_vested(self) -> None:
        self._scan()
        model, now = self.model, self.ic.time
        state = self.ic.state_of(self.distribution)
        assert set(state.participants) == set(model.recipients)
        at = model.vesting_time(now)
        for user in CANDIDATES:
            share = model.recipients.get(user)
            if share is None:
                assert self.received[user] == 0, user
                assert self._as(user).get_participant(user) is None
                continue
            participant = state.participants[user]
            assert self.received[user] == share.received, user
            assert share.received + share.penalty <= model.vested(share, at), user
            assert dict(participant.allocations) == share.allocations, user
            assert participant.claimed == share.claimed, user
            assert participant.early_unlocked == share.early_unlocked, user
            info = self._as(user).get_participant(user)
            assert (info.claimed, info.claimable) == (share.claimed, model.claimable(share, now))
        assert self.received[OWNER] == model.refunded
        kept = (state.status, state.reserve, state.cancelled_at, state.pending_penalty,
                state.topped_up, state.pulling)  # fmt: skip
        assert kept == (model.status, model.reserve, model.cancelled_at, model.pending_penalty,
                        model.topped_up, 0)  # fmt: skip
        assert len(state.claims) == model.claims
        stats = self._as(DAVE).get_stats()
        assert (stats.phase, stats.funded) == (model.phase(now), model.funded)

    @invariant()
    def a_funded_distribution_can_pay_what_it_owes(self) -> None:
        model, now = self.model, self.ic.time
        if not model.funded:
            return
        owed = sum(model.owed(share, now) for share in model.recipients.values())
        needed = owed + model.reserve + model.pending_penalty
        assert self.system.icp_balance(self.account) >= needed, (owed, model)

    @invariant()
    def the_factory_indexes_exactly_the_recipients(self) -> None:
        assert self._as(DAVE).get_contract_meta().pending_notifications == 0
        factory = self.system.distribution_factory
        for candidate in CANDIDATES:
            entries = [
                entry for entry in factory.as_caller(candidate).get_my_contracts(candidate)
                if entry.info.id == self.distribution
            ]  # fmt: skip
            roles = set(entries[0].roles) if entries else set()
            assert (RECIPIENT in roles) == (candidate in self.model.recipients), candidate


DistributionMachine.TestCase.settings = settings(stateful_step_count=30, deadline=None)
TestDistribution = DistributionMachine.TestCase


# -- the basic transitions, with exact values ---------------------------------------------------


@pytest.fixture
def world() -> Deployed:
    world = deployed()
    world.ic.restore(world.snapshot)
    return world


def funded(world: Deployed) -> Any:
    """Fund the distribution as its owner; the owner's handle on it."""
    approval = ApproveArgs(spender=Account(world.distribution), amount=REQUIRED + LEDGER_FEE)
    world.system.icp_ledger.as_caller(OWNER).icrc2_approve(approval).unwrap()
    owner = world.ic.actor(world.distribution, OWNER)
    owner.fund().unwrap()
    return owner


def test_funding_pulls_exactly_the_total_and_one_fee_per_recipient(world: Deployed) -> None:
    system, distribution = world.system, world.distribution
    before = system.icp_balance(OWNER)
    funded(world)
    assert system.icp_balance(distribution) == 2_900_000 + 7 * 10_000 == REQUIRED
    assert system.icp_balance(OWNER) == before - REQUIRED - 2 * LEDGER_FEE
    stats = world.ic.actor(distribution, OWNER).get_stats()
    assert (stats.phase, stats.funded, stats.reserve) == (Phase.FUNDED, True, 70_000)
    assert stats.balance_required == REQUIRED


def test_a_claim_two_weeks_in_pays_the_hand_computed_vested_amount(world: Deployed) -> None:
    """Alice's 1,234,567 at 14 days: 123,456 at the start (10 %), 222,222 at the cliff (20 % of
    the other 1,111,111), and 7 of the 21 linear days of the last 888,889: 296,296."""
    ic, system = world.ic, world.system
    funded(world)
    ic.set_time(START + 14 * DAY)
    before = system.icp_balance(ALICE)
    claim = ic.actor(world.distribution, ALICE).claim().unwrap()
    assert (claim.amount, claim.fee, claim.fee_from_reserve) == (641_974, LEDGER_FEE, True)
    assert system.icp_balance(ALICE) == before + 641_974
    assert system.icp_balance(world.distribution) == REQUIRED - 641_974 - LEDGER_FEE
    info = ic.actor(world.distribution, ALICE).get_participant(ALICE)
    assert (info.claimed, info.claimable) == (641_974, 0)


def test_a_pause_stops_payouts_and_a_resume_pays_what_vested_meanwhile(world: Deployed) -> None:
    ic = world.ic
    owner = funded(world)
    alice = ic.actor(world.distribution, ALICE)
    ic.set_time(START + DAY)
    assert owner.pause() == Ok(None)
    ic.set_time(CLIFF)
    refusal = alice.claim()
    assert isinstance(refusal, Err) and refusal.error.phase is Phase.PAUSED
    assert alice.get_participant(ALICE).unlocked == 123_456 + 222_222
    assert owner.resume() == Ok(None)
    assert alice.claim().unwrap().amount == 345_678


def test_a_cancellation_returns_the_unvested_rest_and_leaves_the_vested_claimable(
    world: Deployed,
) -> None:
    """At the cliff Alice, Bob and Carol have 345,678, 214,321 and 140,000 (699,999); the owner
    gets 2,970,000 less that, one fee for each of the three and one for the refund."""
    ic, system = world.ic, world.system
    owner = funded(world)
    ic.set_time(CLIFF)
    before = system.icp_balance(OWNER)
    assert owner.cancel() == Ok(2_230_001)
    assert system.icp_balance(OWNER) == before + 2_230_001
    ic.set_time(END)
    for user, vested in ((ALICE, 345_678), (BOB, 214_321), (CAROL, 140_000)):
        was = system.icp_balance(user)
        assert ic.actor(world.distribution, user).claim().unwrap().amount == vested
        assert system.icp_balance(user) == was + vested
    assert system.icp_balance(world.distribution) == 0


def test_a_cancellation_near_the_end_still_lets_every_recipient_claim_what_vested(
    world: Deployed,
) -> None:
    """With the airdrop full and one fee of the reserve spent, an hour before the end the
    balance holds what has vested, 3,573 unvested and 60,000 of reserve: less than a fee for each
    of the seven recipients who can still claim, so nothing goes back to the owner, and every
    recipient must still be able to take what had vested (the fee from the claim if need be)."""
    ic = world.ic
    owner = funded(world)
    ic.set_time(WINDOW.opens)
    for user in (DAVE, ERIN, FRANK, GRACE):
        assert ic.actor(world.distribution, user).register(AIRDROP) == Ok(SHARE)
    ic.set_time(START + DAY)
    ic.actor(world.distribution, ALICE).claim().unwrap()
    ic.set_time(END - HOUR)
    assert owner.cancel() == Ok(0)
    for user in (ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE):
        claimable = ic.actor(world.distribution, user).get_participant(user).claimable
        result = ic.actor(world.distribution, user).claim()
        assert isinstance(result, Ok), (user, claimable, result)

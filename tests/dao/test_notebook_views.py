"""A proposal's tally reads well in a notebook: a repr that says the counts, the share of the
snapshot cast and whether quorum and approval are met, and well-formed HTML tables (every text
escaped) for a tally, a proposal and a member."""

from __future__ import annotations

import attrs

from icto import Account, Principal
from icto.dao import (
    DepositStatus,
    MemberInfo,
    Motion,
    ProposalInfo,
    ProposalStatus,
    TallyView,
    TreasuryTransfer,
)
from tests.helpers import parse_html

BOB = Principal.from_name("bob")


def well_formed(html: str) -> str:
    return "".join(parse_html(html).text)


def tally(**changes: object) -> TallyView:
    fields: dict[str, object] = {
        "proposal_id": 3, "status": ProposalStatus.OPEN, "yes": 1_500, "no": 500, "abstain": 250,
        "voters": 4, "snapshot_total": 10_000, "quorum_bp": 2_000, "approval_bp": 6_000,
        "quorum_reached": True, "approved": True, "ends_at": 10**18,
    }  # fmt: skip
    fields.update(changes)
    return TallyView(**fields)  # type: ignore[arg-type]


def test_a_tally_says_its_counts_share_and_verdicts_in_its_repr() -> None:
    assert repr(tally()) == (
        "<Tally #3 Open: yes 1,500 · no 500 · abstain 250 (4 voters, 22.50% of 10,000; "
        "quorum reached, approved)>"
    )
    missed = tally(yes=0, no=0, abstain=0, voters=0, quorum_reached=False, approved=False)
    assert repr(missed).endswith("(0 voters, 0.00% of 10,000; quorum not reached, not approved)>")
    assert "(4 voters, - of 0;" in repr(tally(snapshot_total=0))


def test_a_tally_table_shows_the_votes_and_what_the_quorum_needs() -> None:
    text = well_formed(tally()._repr_html_())
    for fragment in ("Proposal #3: Open", "1,500", "250", "20% (needs 2,000 cast)", "reached",
                     "60% of yes + no"):  # fmt: skip
        assert fragment in text, fragment


def test_a_proposal_table_escapes_its_motion_and_nests_its_tally() -> None:
    info = ProposalInfo(
        id=3, proposer=BOB, action=Motion("<b>fund</b> the & grants"),
        status=ProposalStatus.OPEN, submitted_at=0, ends_at=10**18, executable_at=None,
        deposit=1_000, deposit_status=DepositStatus.HELD, outcome=None, tally=tally(),
    )  # fmt: skip
    html = info._repr_html_()
    assert "<b>fund</b>" not in html
    text = well_formed(html)
    for fragment in ("Proposal #3: Motion", "<b>fund</b> the & grants", "1,000 (Held)",
                     "20% (needs 2,000 cast)"):  # fmt: skip
        assert fragment in text, fragment
    transfer = TreasuryTransfer(Principal.from_canister_index(5), Account(BOB), 7)
    moved = well_formed(attrs.evolve(info, action=transfer)._repr_html_())
    assert "Proposal #3: TreasuryTransfer" in moved


def test_a_member_is_a_table_of_its_power() -> None:
    member = MemberInfo(
        user=BOB, stakes=2, staked=3_000, own=4_500, delegated=1_000, effective=5_500,
        delegate=None,
    )  # fmt: skip
    text = well_formed(member._repr_html_())
    for fragment in ("DAO member", "own", "4,500", "effective", "5,500", str(BOB)):
        assert fragment in text, fragment

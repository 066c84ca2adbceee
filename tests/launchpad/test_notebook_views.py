"""A sale reads well in a notebook: a repr that says its state, raise, caps and allocation, and
well-formed HTML tables (every text escaped) for a sale and a participant."""

from __future__ import annotations

from icto import Principal
from icto.launchpad import ParticipantInfo, RefundStatus, SaleInfo, SaleState
from tests.helpers import parse_html

DAY = 24 * 3600 * 10**9
START = 1_767_225_600 * 10**9


def well_formed(html: str) -> str:
    return "".join(parse_html(html).text)


def sale(**changes: object) -> SaleInfo:
    fields: dict[str, object] = {
        "id": Principal.from_canister_index(9), "name": "Moon <&> Co",
        "state": SaleState.SALE_ACTIVE, "sale_type": "FixedPrice", "raised": 2_500,
        "soft_cap": 10_000, "hard_cap": 40_000,
        "participants": 3, "tokens_for_sale": 1_000_000, "allocated": 25_000,
        "sale_start": START, "sale_end": START + 7 * DAY,
        "history": ((SaleState.UPCOMING, START - DAY), (SaleState.SALE_ACTIVE, START)),
    }  # fmt: skip
    fields.update(changes)
    return SaleInfo(**fields)  # type: ignore[arg-type]


def test_a_sale_says_its_state_raise_caps_and_allocation_in_its_repr() -> None:
    assert repr(sale()) == (
        "<Sale 'Moon <&> Co' SaleActive: raised 2,500 of 40,000 (soft cap 10,000, 25.00%) from 3 "
        "participants; 25,000 of 1,000,000 tokens allocated (FixedPrice)>"
    )
    assert (sale().soft_cap_progress_bp, sale().hard_cap_progress_bp) == (2_500, 625)


def test_a_sale_table_escapes_its_name_and_shows_progress_and_history() -> None:
    html = sale()._repr_html_()
    assert "<&>" not in html
    text = well_formed(html)
    for fragment in ("Sale Moon <&> Co: SaleActive", "2,500", "10,000 (25.00%)", "40,000 (6.25%)",
                     "25,000 of 1,000,000", "Upcoming 2025-12-31T00:00:00Z",
                     "SaleActive 2026-01-01T00:00:00Z", "to 2026-01-08T00:00:00Z"):  # fmt: skip
        assert fragment in text, fragment


def test_a_participant_is_a_table_of_its_contribution_allocation_and_refund() -> None:
    info = ParticipantInfo(
        user=Principal.from_name("bob"), contribution=1_500, allocation=15_000,
        refund=RefundStatus.OWED, refund_block=None,
    )  # fmt: skip
    text = well_formed(info._repr_html_())
    for fragment in ("Participant", "contribution", "1,500", "15,000", "Owed", str(info.user)):
        assert fragment in text, fragment

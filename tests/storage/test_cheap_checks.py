"""The cheap first pass of the audit and invoice checks never accepts what the full check
refuses: it may only say "certainly valid" or "look closer". Each example is a valid record with
one field replaced by a hostile value."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from icto import Principal
from icto.storage.audit import _every_event_problem, _plainly_valid
from icto.storage.invoice import _every_draft_problem, _plainly_valid_draft
from icto.storage.types import MAX_TEXT, AuditAction, AuditEvent, PaymentDraft, Severity

USER = Principal.from_name("alice")
HOSTILE = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.sampled_from(["", " lead", "tab\there", "line\nbreak", "bell\x07", "x" * (MAX_TEXT + 1),
                     "x" * MAX_TEXT, "\u202e", "a\u200bb", b"\x04", "p", True, 1.0, -1, 0, 3,
                     Principal.anonymous(), AuditAction.CUSTOM, "DeploymentFailed", (), ((1, 2),),
                     (("k", "v"),), (("k", ""),)]),
)
EVENTS = (
    AuditEvent(action=AuditAction.PAYMENT_PROCESSED, user=USER, service="token_factory",
               contract_id=Principal.from_canister_index(9), payment_id="pay-1", ref_id=0,
               severity=Severity.INFO,
               details=(("k", "v"),), occurred_at=5),
    AuditEvent(action=AuditAction.CUSTOM, custom="my action"),
)  # fmt: skip
DRAFT = PaymentDraft(
    id="pay-1", user=USER, service="token_factory", amount=1, token=Principal.from_canister_index(9)
)


def _with(record: Any, name: str, value: Any) -> Any:
    """``record`` with one field replaced, validators and converters bypassed (hostile callers
    can send such records through the router)."""
    copy = object.__new__(type(record))
    for field in attrs.fields(type(record)):
        object.__setattr__(copy, field.name, getattr(record, field.name))
    object.__setattr__(copy, name, value)
    return copy


@given(
    event=st.sampled_from(EVENTS),
    name=st.sampled_from([f.name for f in attrs.fields(AuditEvent)]),
    value=HOSTILE,
    entries=st.integers(0, 2),
)
def test_an_event_the_cheap_pass_accepts_has_no_problem(
    event: AuditEvent, name: str, value: Any, entries: int
) -> None:
    changed = _with(event, name, value)
    if _plainly_valid(changed, entries):
        assert _every_event_problem(changed, entries) == ()


@given(name=st.sampled_from([f.name for f in attrs.fields(PaymentDraft)]), value=HOSTILE)
def test_a_payment_draft_the_cheap_pass_accepts_has_no_problem(name: str, value: Any) -> None:
    changed = _with(DRAFT, name, value)
    if _plainly_valid_draft(changed):
        assert _every_draft_problem(changed) == ()


def test_the_cheap_passes_do_accept_plain_records() -> None:
    assert all(_plainly_valid(event, 1) for event in EVENTS)
    assert _plainly_valid_draft(DRAFT)

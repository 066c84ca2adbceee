"""The platform's shared checks: one rule for text users hand in, one for principals that
become roles. Every canister and every config validator uses these, never a copy."""

from icto.validation.memo import IdentityMemo
from icto.validation.principals import identified_problem, require_identified
from icto.validation.text import TRUNCATED, foreign_text, text_problem, trimmed
from icto.validation.types import NotIdentified
from icto.validation.values import as_tuple, is_nat, nat_in, pairs

__all__ = [
    "TRUNCATED",
    "IdentityMemo",
    "NotIdentified",
    "as_tuple",
    "foreign_text",
    "identified_problem",
    "is_nat",
    "nat_in",
    "pairs",
    "require_identified",
    "text_problem",
    "trimmed",
]

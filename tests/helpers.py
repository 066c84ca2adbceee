"""Helpers shared by the test packages above the IC layer."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from icto import IC, CallRejected, Canister, Principal, update


def rejected(call: Callable[[], object]) -> CallRejected:
    """Run ``call`` and return the ``CallRejected`` it must raise."""
    with pytest.raises(CallRejected) as info:
        call()
    return info.value


def live_canisters(ic: IC) -> set[Principal]:
    """The canisters that exist (deleted ones excluded)."""
    return {canister for canister in ic.world.canisters if ic.canister_exists(canister)}


VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "wbr"})


class Tags(HTMLParser):
    """Checks that every opened tag is closed, in order; collects the text."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> Tags:
    """``html`` parsed, asserting every opened tag is closed, in order (void tags aside)."""
    parser = Tags()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed: {parser.open}"
    return parser


class Relay(Canister):
    """A canister outside the platform that forwards whatever its caller asks: a user that is
    a canister, so its calls can interleave with a message awaiting a ledger."""

    VERSION = "1.0.0"

    def init(self, arg: Any) -> None:
        self.state = None

    @update
    def relay(self, target: Principal, method: str, args: tuple[Any, ...] = ()) -> Any:
        return self.call(target, method, *args)

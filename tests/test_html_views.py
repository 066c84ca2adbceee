"""Values read well in a notebook: a repr that says what they are and well-formed HTML (every
text escaped) that names what it shows."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import immutables
import pytest

from icto import E8S, IC, Account, Principal
from icto.distribution import Cliff, Linear, days, unlock_curve
from icto.factory.types import ContractInfo, Page
from icto.ic.html import clip, escape, items_table, table, timestamp, value_html
from icto.ic.result import Err, Ok
from icto.ic.world import MAX_TIME
from icto.launchpad import SaleInfo, SaleState
from icto.storage.types import AuditQuery, CursorPage
from icto.system import System
from icto.token import TokenConfig
from tests.helpers import parse_html as parse

DEFAULT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")


def shown(value: Any) -> str:
    """The text ``value``'s HTML shows, after checking it is well formed and its repr readable."""
    assert not DEFAULT_REPR.search(repr(value)), repr(value)
    return "".join(parse(value._repr_html_()).text)


@pytest.fixture
def deployed(icto_system: System) -> tuple[System, Principal, Any]:
    """Alice paid for a token; the result of ``deploy_token``."""
    alice = Principal.from_name("alice")
    icto_system.faucet(alice, 10 * E8S)
    icto_system.approve_backend(alice, 2 * E8S)
    config = TokenConfig(
        name="Alpha", symbol="ALP",
        initial_balances=[(Account(alice, b"\x01" * 32), 600_000),
                          (Account(Principal.from_name("bob")), 400_000)],
    )  # fmt: skip
    result = icto_system.backend.as_caller(alice).deploy_token(config)
    assert isinstance(result, Ok), result
    return icto_system, alice, result


# -- the helper ------------------------------------------------------------------------------------


def test_the_table_helper_escapes_everything() -> None:
    html = table("<caption & co>", ("<h>",), [("<script>alert(1)</script>",), (None,), (1_000,)])
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = "".join(parse(html).text)
    assert "<caption & co>" in text and "1,000" in text
    assert escape("a<b") == "a&lt;b"
    assert "(none)" in "".join(parse(items_table("nothing", [])).text)


def test_a_time_no_date_can_show_is_shown_in_nanoseconds() -> None:
    assert timestamp(MAX_TIME) == "2554-07-21T23:34:33Z"
    far = 10**21
    sale = SaleInfo(
        id=Principal.from_canister_index(7), name="Far", state=SaleState.UPCOMING,
        sale_type="FairLaunch", raised=0, soft_cap=1, hard_cap=2, participants=0,
        tokens_for_sale=10, allocated=0, sale_start=0, sale_end=far,
        history=((SaleState.UPCOMING, far),),
    )  # fmt: skip
    assert "1970-01-01T00:00:00Z to 1,000,000,000,000,000,000,000 ns" in shown(sale)


# -- the simulated IC ----------------------------------------------------------------------------


def test_principal_and_account(principal: Callable[[str], Principal]) -> None:
    alice = principal("alice")
    assert repr(alice) == f"Principal({alice.to_text()!r})"
    assert shown(alice) == alice.to_text()
    assert 'title="Principal"' in alice._repr_html_()
    account = Account(alice, b"\x01" * 32)
    assert repr(account).startswith("Account(")
    assert shown(account) == account.to_text()
    assert 'title="Account"' in account._repr_html_()


def test_the_ic_is_a_table_of_its_canisters(deployed: tuple[System, Principal, Any]) -> None:
    system, _, _ = deployed
    text = shown(system.ic)
    assert "IC " in text and "canisters" in text
    for name in ("Backend", "AuditStorage", "InvoiceStorage", "TokenFactory", "Token"):
        assert name in text
    assert str(system.backend.id) in text


def test_the_ic_counts_and_lists_only_its_live_canisters(ic: IC) -> None:
    kept, gone = ic.create_canister(), ic.create_canister()
    ic.stop_canister(gone)
    ic.delete_canister(gone)
    assert repr(ic).startswith("<IC 1 canisters at ")
    text = shown(ic)
    assert "IC 1 canisters" in text and str(kept) in text and str(gone) not in text


@pytest.mark.parametrize(
    ("ns", "moment"),
    [
        (999_999_999, "1970-01-01T00:00:00.999999+00:00"),
        (1_767_225_600_123_456_789, "2026-01-01T00:00:00.123456+00:00"),
        (2**64 - 1, "2554-07-21T23:34:33.709551+00:00"),
    ],
)
def test_the_ic_shows_its_time_cut_to_the_microsecond_never_rounded_up(
    ns: int, moment: str
) -> None:
    assert repr(IC(genesis_time=ns)) == f"<IC 0 canisters at {moment} ({ns} ns)>"


def test_a_proxy_names_its_code_and_methods(deployed: tuple[System, Principal, Any]) -> None:
    system, _, _ = deployed
    text = shown(system.backend)
    assert "Backend" in text and str(system.backend.id) in text and "deploy_token" in text
    assert "&lt;Canister Backend" in system.backend._repr_html_()
    assert "raw_rand" in shown(system.ic.actor(Principal.MANAGEMENT))


def test_ok_and_err(deployed: tuple[System, Principal, Any]) -> None:
    system, _, result = deployed
    text = shown(result)
    assert text.startswith("Ok") and str(result.value.canister_id) in text
    err = system.backend.as_caller(Principal.from_name("carol")).deploy_token(
        TokenConfig(name="Beta", symbol="BET")
    )
    assert isinstance(err, Err)
    text = shown(err)
    assert text.startswith("Err") and type(err.error).__name__ in text
    assert shown(Ok(1)) == "Ok1" and "<x>" in shown(Err("<x>"))


def test_a_contracts_role_counts_read_in_role_order() -> None:
    """A map of strings iterates in hash order, which changes from one process to the next."""
    counts = immutables.Map({f"role-{letter}": 1 for letter in "jihgfedcba"})
    info = ContractInfo(
        id=Principal.from_canister_index(7), kind="multisig", owner=Principal.from_name("alice"),
        name="Team", created_at=0, version="1.0.0", seq=0, role_counts=counts,
    )  # fmt: skip
    in_order = ", ".join(f"'role-{letter}': 1" for letter in "abcdefghij")
    assert f"role_counts=immutables.Map({{{in_order}}})" in repr(info)
    cell = clip(f"immutables.Map({{{in_order}}})")
    assert cell in "".join(parse(value_html(info)).text)
    assert cell in "".join(parse(Page((info,), 1, 0)._repr_html_()).text)


def test_pages_are_tables_of_their_items(deployed: tuple[System, Principal, Any]) -> None:
    system, alice, result = deployed
    page = system.token_factory.as_caller(alice).get_my_contracts(alice)
    assert isinstance(page, Page)
    text = shown(page)
    assert "Page" in text and "Alpha" in text and str(result.value.canister_id) in text
    assert "(none)" in shown(Page((), 0, None))
    assert "(none)" in shown(CursorPage((), None))


def test_the_audit_trail_and_invoices_are_tables(deployed: tuple[System, Principal, Any]) -> None:
    system, alice, result = deployed
    trail = system.audit_storage.query(AuditQuery(descending=False))
    assert isinstance(trail, CursorPage) and len(trail) >= 2
    text = shown(trail)
    assert "AuditEntry" in text
    for entry in trail:
        assert str(entry.action) in text
    invoices = system.invoice_storage.get_payments_by_user(alice)
    text = shown(invoices)
    assert "PaymentRecord" in text and "Completed" in text
    assert invoices.items[0].id in text and result.value.payment_id in text


def test_the_trace_tree_is_a_collapsible_call_tree(deployed: tuple[System, Principal, Any]) -> None:
    system, alice, _ = deployed
    tree = system.ic.trace.tree()
    html = tree._repr_html_()
    parser = parse(html)
    assert "details" in parser.tags and "summary" in parser.tags
    text = "".join(parser.text)
    methods = {entry.method for entry in tree.entries}
    assert {"deploy_token", "icrc2_transfer_from", "create_contract"} <= methods
    for method in methods:
        assert method in text
    assert str(alice) in text and "→" in text and "reply" in text and "cycles" in text
    assert html.count("<details") == len(tree.entries)
    assert repr(tree) == str(tree) and "deploy_token" in repr(tree)
    assert shown(IC().trace.tree()) == "Call tree: (no messages recorded)"


def test_the_tree_shows_escaped_failures(ic: IC) -> None:
    from tests.ic.test_trace_and_logs import Counter, Relay

    counter, relay = ic.deploy(Counter), ic.deploy(Relay)
    relay.bump_call_catch(counter.id, "inc_then_trap", (1,))
    text = shown(ic.trace.tree())
    assert "inc_then_trap" in text and "trap" in text and "IC0503" in text


# -- plots -----------------------------------------------------------------------------------------


def _has_data(fig: Any) -> bool:
    return any(ax.has_data() for ax in fig.axes)


def test_plots_return_figures_with_data(deployed: tuple[System, Principal, Any]) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from icto import plot

    system, _, result = deployed
    figures = [
        plot.holder_distribution(system.ic, result.value.canister_id, top=1),
        plot.vesting_curve(Cliff(days(90), 1_000, days(365)), allocation=1_000_000),
        plot.vesting_curve(unlock_curve(Linear(days(30)), 500), label="linear"),
        plot.scaling_curve([(10, 0.5, 0.1), (100, 5.0, 0.3), (1_000, None, 1.1)]),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and _has_data(fig)
    scaling = figures[-1].axes[0]
    assert scaling.get_xscale() == "log" and scaling.get_yscale() == "log"


@pytest.mark.parametrize(
    ("canister", "top", "error", "reason"),
    [
        ("backend", 10, ValueError, "is not a ledger: it runs Backend"),
        ("icp_ledger", 2.5, TypeError, "top must be an int, got float"),
        ("icp_ledger", "3", TypeError, "top must be an int, got str"),
        ("icp_ledger", True, TypeError, "top must be an int, got bool"),
        ("icp_ledger", 0, ValueError, "top must be at least 1"),
    ],
)
def test_holder_distribution_refuses_wrong_arguments_before_drawing(
    icto_system: System, canister: str, top: Any, error: type[Exception], reason: str
) -> None:
    from icto import plot

    with pytest.raises(error, match=reason):
        plot.holder_distribution(icto_system.ic, getattr(icto_system, canister), top)


def test_holder_distribution_needs_an_ic(icto_system: System) -> None:
    from icto import plot

    with pytest.raises(TypeError, match="ic must be an IC, got NoneType"):
        plot.holder_distribution(None, icto_system.icp_ledger)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("allocation", "initial_bp", "reason"),
    [
        (1_000, 20_000, "initial_bp must be from 0 to 10000"),
        (1_000, -1, "initial_bp must be from 0 to 10000"),
        (-1_000, 0, "allocation must be at least 0"),
    ],
)
def test_vesting_curve_refuses_an_impossible_curve_before_drawing(
    monkeypatch: pytest.MonkeyPatch, allocation: int, initial_bp: int, reason: str
) -> None:
    """More unlocked than allocated, or less and less over time, is refused, not drawn."""
    from icto import plot

    def drawn(*args: Any) -> Any:
        raise AssertionError("a figure was made")

    monkeypatch.setattr(plot, "_new_figure", drawn)
    with pytest.raises(ValueError, match=reason):
        plot.vesting_curve(Linear(days(30)), allocation=allocation, initial_bp=initial_bp)


def test_plots_say_how_to_install_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    from icto import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    with pytest.raises(ImportError, match=r'pip install "icto\[notebook\]"'):
        plot.vesting_curve(Linear(days(30)))
    with pytest.raises(ImportError, match="matplotlib"):
        plot.scaling_curve([(1, 1.0, 1.0)])

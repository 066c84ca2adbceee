"""``icto.ic`` is layered: its modules import one another without circles.

Every import counts, including those under ``TYPE_CHECKING`` and inside functions: a circle of
type-only imports is still a circle a reader has to untangle. The package ``__init__`` (which
re-exports the public names) is left out.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import icto.ic
from icto import IC

PACKAGE = Path(icto.ic.__file__).parent


def _imports(path: Path) -> set[str]:
    """The ``icto.ic`` modules a source file imports, by short name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "icto.ic":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("icto.ic."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[2]
                for alias in node.names
                if alias.name.startswith("icto.ic.")
            )
    return found


def graph() -> dict[str, set[str]]:
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    return {
        name: (_imports(PACKAGE / f"{name}.py") & modules) - {name} for name in sorted(modules)
    }


def test_the_modules_of_icto_ic_form_no_import_circle() -> None:
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as exc:  # pragma: no cover - the message is the point
        raise AssertionError(f"import circle in icto.ic: {' -> '.join(exc.args[1])}") from None
    assert set(order) == set(graph())


def test_the_layers_stand_on_one_another_in_order() -> None:
    """World and canister records at the bottom, the router above them, the management canister
    and the proxy beside the router (never importing it), ``ic`` on top."""
    imports = graph()
    assert "canister" not in imports["world"]
    assert not {"router", "management", "ic", "proxy"} & imports["canister"]
    assert not {"management", "ic", "proxy"} & imports["router"]
    assert not {"router", "ic", "proxy"} & imports["management"]
    assert not {"router", "ic"} & imports["proxy"]
    assert "ic" not in imports["persistence"]


def test_a_found_circle_would_be_reported() -> None:
    """The check itself can fail: a graph with a circle is refused."""
    try:
        list(TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
    except CycleError:
        return
    raise AssertionError("a circle went unnoticed")


def test_plumbing_is_off_the_user_facing_ic() -> None:
    """Delivery and lifecycle plumbing belong to the router, not to the ``IC`` users hold."""
    for name in ("deliver", "run_hook", "fire_timer", "inter_canister_call", "record_of",
                 "set_timer", "accept_cycles", "append_log", "balance_seen_by"):  # fmt: skip
        assert not hasattr(IC, name), name

"""Pictures for notebooks: a token's holders, a vesting curve, V1-vs-V2 scaling.

Needs matplotlib (``pip install "icto[notebook]"``), imported only when a function here is called:
``icto`` itself works without it. Each function returns the matplotlib ``Figure`` (closed in
pyplot, so a notebook shows it once, as the cell's value); ``fig.savefig(path)`` writes it.
Without a display (and no backend chosen), the non-interactive Agg backend is used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from icto.distribution.schedule import SCHEDULES, unlock_curve
from icto.ic.account import Account
from icto.ic.argcheck import is_int
from icto.ic.ic import IC
from icto.ledger.ledger import Ledger

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from icto.ic.principal import Principal
    from icto.ic.proxy import CanisterProxy

NS_PER_DAY = 86_400 * 10**9
INSTALL_HINT = 'icto.plot needs matplotlib: pip install "icto[notebook]"'


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _pyplot() -> Any:
    """``matplotlib.pyplot``, choosing Agg when nothing else is chosen and there is no display."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    if (
        "matplotlib.pyplot" not in sys.modules
        and not os.environ.get("MPLBACKEND")
        and not _has_display()
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _new_figure(width: float = 7.0, height: float = 4.0) -> tuple[Figure, Any]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    plt.close(fig)  # shown as the returned value, not again by pyplot
    return fig, ax


def _short(text: str, keep: int = 5) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def holder_distribution(ic: IC, token_id: Principal | CanisterProxy | str, top: int = 10) -> Figure:
    """A bar chart of the ``top`` largest balances of the ledger ``token_id`` (with the rest of
    the supply summed as one bar, if any). Wrong arguments are refused before anything is
    drawn: ``TypeError`` for another kind of value, ``ValueError`` for a ``top`` below 1 or a
    canister that is no ledger, ``BadUse`` for no such canister."""
    if not isinstance(ic, IC):
        raise TypeError(f"ic must be an IC, got {type(ic).__name__}")
    if not is_int(top):
        raise TypeError(f"top must be an int, got {type(top).__name__}")
    if top < 1:
        raise ValueError("top must be at least 1")
    state = ic.state_of(token_id)
    code = ic.code_of(token_id)
    if code is None or not issubclass(code, Ledger):
        runs = "it is empty" if code is None else f"it runs {code.__name__}"
        raise ValueError(f"{getattr(token_id, 'id', token_id)} is not a ledger: {runs}")
    balances: dict[Account, int] = dict(state.balances.items())
    ranked = sorted(balances.items(), key=lambda item: (-item[1], item[0].to_text()))
    shown, rest = ranked[:top], ranked[top:]
    labels = [_short(account.to_text()) for account, _ in shown]
    amounts = [amount for _, amount in shown]
    if rest:
        labels.append(f"{len(rest)} others")
        amounts.append(sum(amount for _, amount in rest))
    config = getattr(state, "config", None)
    symbol = getattr(config, "symbol", "tokens")
    decimals = getattr(config, "decimals", 0)
    scale = 10**decimals
    fig, ax = _new_figure()
    ax.bar(range(len(amounts)), [amount / scale for amount in amounts], color="#4c72b0")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(symbol)
    holders = len(balances)
    ax.set_title(f"{symbol}: largest balances ({holders} account{'s' * (holders != 1)})")
    return fig


def vesting_curve(
    schedule_or_points: Any,
    allocation: int = 1_000_000,
    initial_bp: int = 0,
    *,
    points: int = 200,
    label: str | None = None,
) -> Figure:
    """The amount unlocked over time: of a schedule (``Instant``, ``Linear``, ``Cliff``,
    ``Steps``, ``Lock``; through ``icto.distribution.unlock_curve``) or of ready
    ``(elapsed_ns, unlocked)`` points. Time is shown in days."""
    if isinstance(schedule_or_points, SCHEDULES):
        curve = unlock_curve(schedule_or_points, allocation, initial_bp, points)
        name = label if label is not None else repr(schedule_or_points)
    else:
        curve = tuple((int(t), int(amount)) for t, amount in schedule_or_points)
        if not curve:
            raise ValueError("a vesting curve needs at least one point")
        name = label if label is not None else "unlocked"
    fig, ax = _new_figure()
    ax.plot([t / NS_PER_DAY for t, _ in curve], [amount for _, amount in curve], label=name)
    ax.set_xlabel("days since start")
    ax.set_ylabel("unlocked")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(name)
    return fig


def scaling_curve(rows: Iterable[Sequence[float]]) -> Figure:
    """V1 against V2 on log-log axes: ``rows`` of ``(contracts, v1_seconds, v2_seconds)``
    (a ``None`` time is left out, e.g. a V1 run that was not finished)."""
    table = sorted(((row[0], row[1], row[2]) for row in rows), key=lambda row: row[0])
    if not table:
        raise ValueError("scaling_curve needs at least one row")
    fig, ax = _new_figure()
    for column, name, marker in ((1, "V1", "o"), (2, "V2", "s")):
        pairs = [(row[0], row[column]) for row in table if row[column] is not None]
        ax.plot([n for n, _ in pairs], [s for _, s in pairs], marker=marker, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("contracts")
    ax.set_ylabel("seconds")
    ax.set_title("V1 vs V2 scaling")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


__all__ = ["holder_distribution", "scaling_curve", "vesting_curve"]

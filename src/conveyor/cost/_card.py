"""The ``Cost`` section of a model card, and numbers written the same way everywhere."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from conveyor.cost._model import ModelCost, model_cost
from conveyor.registry import ModelCard, add_card_section

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


def _plain(value: float) -> str:
    """``value`` with 4 significant digits and no exponent (``0.00004378``, ``12.35``)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    digits = min(max(3 - math.floor(math.log10(abs(value))), 0), 12)
    return f"{value:.{digits}f}"


def money(value: float | None, currency: str) -> str:
    """A price with its currency (``0.01235 EUR``), or ``-`` when there is none.

    Example:
        >>> money(0.012345, "EUR")
        '0.01235 EUR'
        >>> money(0.00004378, "EUR")
        '0.00004378 EUR'
    """
    if value is None:
        return "-"
    return f"{_plain(value)} {currency}"


def amount(value: float | None, unit: str = "") -> str:
    """A measured amount with 4 significant digits (``-`` when not measured)."""
    if value is None:
        return "-"
    return f"{_plain(value)} {unit}".rstrip()


def cost_section(cost: ModelCost) -> str:
    """The card's ``## Cost`` section (Markdown) for ``cost``.

    Example:
        >>> cost_section(model_cost(ws, "churn@3")).splitlines()[0]  # doctest: +SKIP
        '## Cost'
    """
    c = cost.currency
    lines = ["## Cost", ""]
    t = cost.training
    if t is not None:
        lines += [
            f"Training (run tree `{t.root_run_id[:8]}`: {t.steps} step(s), {t.trials} "
            f"trial(s), {t.cached_steps} cached step(s)):",
            "",
            f"- CPU: {amount(t.cpu_s, 's')} ({amount(t.cpu_hours, 'CPU-h')}); memory: "
            f"{amount(t.gb_hours, 'GB-h')}; wall: {amount(t.wall_s, 's')}",
        ]
        if cost.priced:
            lines.append(
                f"- Price: {money(t.cost, c)} on demand, {money(t.spot_cost, c)} on spot "
                f"(saves {money(t.spot_saving, c)})"
            )
        if t.cached_steps:
            lines.append(
                f"- Cached steps saved {amount(t.cached_saved_cpu_s, 'CPU s')}"
                + (f" ({money(t.cached_saving, c)})" if cost.priced else "")
            )
        lines.append("")
    if cost.serving:
        lines += [
            "| environment | predictions | CPU s | busy | cost | per 1,000 | scale-to-zero saves |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in cost.serving:
            busy = f"{s.busy_fraction:.1%}" if s.busy_fraction is not None else "-"
            lines.append(
                f"| {s.environment or '(direct)'} | {s.predictions} | {amount(s.cpu_s)} | "
                f"{busy} | {money(s.cost, c)} | {money(s.per_1000, c)} | "
                f"{money(s.scale_to_zero_saving, c)} |"
            )
        lines.append("")
    lines += [f"- {note}" for note in cost.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def card_with_cost(ws: Workspace, ref: str, card: ModelCard) -> ModelCard:
    """``card`` (of version ``ref``) with its ``## Cost`` section appended.

    Args:
        ws: The workspace the card was rendered from.
        ref: The version of the card.
        card: The rendered card (``ws.models.card(ref)``).

    Returns:
        The card with the section, its HTML rendered again.
    """
    cost = model_cost(ws, ref)
    return add_card_section(card, cost.ref, cost_section(cost))

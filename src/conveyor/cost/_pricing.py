"""The arithmetic of cost: CPU hours and GB-hours times prices, spot and scale-to-zero.

Every function is pure, so the formulas in ``docs/cost.md`` are exactly these lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.config import CostConfig

SECONDS_PER_HOUR = 3600.0
MIB_PER_GB = 1024.0


def cpu_hours(cpu_s: float) -> float:
    """CPU seconds as CPU hours (``cpu_s / 3600``)."""
    return cpu_s / SECONDS_PER_HOUR


def gb_hours(peak_rss_mb: float, wall_s: float) -> float:
    """Memory held for a time, in GB-hours: ``peak_rss_mb / 1024 * wall_s / 3600``.

    Example:
        >>> gb_hours(2048.0, 1800.0)
        1.0
    """
    return (peak_rss_mb / MIB_PER_GB) * (wall_s / SECONDS_PER_HOUR)


def price(prices: CostConfig, cpu_h: float, gb_h: float) -> float:
    """On-demand price of ``cpu_h`` CPU hours and ``gb_h`` GB-hours.

    Example:
        >>> price(CostConfig(cpu_hour=0.04, gb_hour=0.005), 10.0, 20.0)
        0.5
    """
    return cpu_h * prices.cpu_hour + gb_h * prices.gb_hour


def spot_saving(prices: CostConfig, on_demand: float) -> float:
    """What running on spot capacity saves: ``on_demand * spot_discount``."""
    return on_demand * prices.spot_discount


def per_thousand(cost: float, predictions: int) -> float | None:
    """Cost per 1,000 predictions; ``None`` when nothing was predicted (no division by 0).

    Example:
        >>> per_thousand(0.5, 2000)
        0.25
    """
    if predictions <= 0:
        return None
    return cost / predictions * 1000.0


@dataclass(frozen=True)
class ServingBill:
    """What a set of server records costs, and what scale-to-zero would have cost.

    Attributes:
        cpu_hours: CPU hours billed (the CPU used, or the reserved cores for the uptime
            when ``serving_cpus`` is set, whichever is more).
        gb_hours: GB-hours billed (peak memory, or the reserved memory, for the uptime).
        cost: Their on-demand price.
        scale_to_zero_cpu_hours: CPU hours billed if replicas ran only while busy.
        scale_to_zero_gb_hours: GB-hours billed if replicas ran only while busy.
        scale_to_zero_cost: Their price.
    """

    cpu_hours: float
    gb_hours: float
    cost: float
    scale_to_zero_cpu_hours: float
    scale_to_zero_gb_hours: float
    scale_to_zero_cost: float


def serving_bill(
    prices: CostConfig, *, cpu_s: float, wall_s: float, busy_s: float, peak_rss_mb: float
) -> ServingBill:
    """Bill one server process's record (or one version's share of it).

    Always on, a replica is billed for its whole uptime ``wall_s``; with scale-to-zero, only
    while it was answering (``busy_s``, at most ``wall_s``). The CPU work done is the same
    either way (``cpu_s`` is a floor of both); what changes is the reserved capacity.

    Example:
        >>> bill = serving_bill(CostConfig(gb_hour=1.0), cpu_s=0.0, wall_s=3600.0,
        ...                     busy_s=900.0, peak_rss_mb=1024.0)
        >>> (bill.gb_hours, bill.scale_to_zero_gb_hours)
        (1.0, 0.25)
    """
    busy = min(max(busy_s, 0.0), wall_s)
    memory_mb = max(peak_rss_mb, prices.serving_memory_gb * MIB_PER_GB)
    cpu_on = cpu_hours(max(cpu_s, prices.serving_cpus * wall_s))
    cpu_busy = cpu_hours(max(cpu_s, prices.serving_cpus * busy))
    gb_on = gb_hours(memory_mb, wall_s)
    gb_busy = gb_hours(memory_mb, busy)
    return ServingBill(
        cpu_hours=cpu_on,
        gb_hours=gb_on,
        cost=price(prices, cpu_on, gb_on),
        scale_to_zero_cpu_hours=cpu_busy,
        scale_to_zero_gb_hours=gb_busy,
        scale_to_zero_cost=price(prices, cpu_busy, gb_busy),
    )

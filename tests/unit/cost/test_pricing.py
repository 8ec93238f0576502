"""The arithmetic of cost: CPU hours and GB-hours times prices, spot, scale-to-zero, per 1,000."""

from __future__ import annotations

import pytest

from conveyor.config import CostConfig
from conveyor.cost import cpu_hours, gb_hours, per_thousand, price, serving_bill, spot_saving

PRICES = CostConfig(cpu_hour=0.04, gb_hour=0.005, spot_discount=0.6, currency="EUR")


def test_cpu_seconds_become_cpu_hours_priced_per_hour() -> None:
    assert cpu_hours(5400.0) == 1.5
    assert price(PRICES, cpu_hours(5400.0), 0.0) == pytest.approx(1.5 * 0.04)


def test_memory_is_priced_in_gb_hours_of_peak_memory_times_wall_time() -> None:
    # 3 GiB held for 20 minutes is one GB-hour.
    assert gb_hours(3 * 1024.0, 1200.0) == pytest.approx(1.0)
    assert price(PRICES, 0.0, gb_hours(3 * 1024.0, 1200.0)) == pytest.approx(0.005)
    assert price(PRICES, 2.0, 10.0) == pytest.approx(2.0 * 0.04 + 10.0 * 0.005)


def test_spot_saves_the_discounted_fraction_of_the_on_demand_price() -> None:
    assert spot_saving(PRICES, 10.0) == pytest.approx(6.0)
    assert spot_saving(CostConfig(cpu_hour=1.0), 10.0) == 0.0


def test_cost_per_thousand_predictions_and_none_without_predictions() -> None:
    assert per_thousand(3.0, 1500) == pytest.approx(2.0)
    assert per_thousand(3.0, 0) is None
    assert per_thousand(0.0, 0) is None


def test_scale_to_zero_bills_memory_only_while_busy_and_cpu_used_either_way() -> None:
    bill = serving_bill(PRICES, cpu_s=360.0, wall_s=7200.0, busy_s=1800.0, peak_rss_mb=2048.0)
    assert bill.cpu_hours == pytest.approx(0.1)
    assert bill.gb_hours == pytest.approx(2.0 * 2.0)
    assert bill.cost == pytest.approx(0.1 * 0.04 + 4.0 * 0.005)
    assert bill.scale_to_zero_cpu_hours == pytest.approx(0.1)
    assert bill.scale_to_zero_gb_hours == pytest.approx(2.0 * 0.5)
    assert bill.scale_to_zero_cost == pytest.approx(0.1 * 0.04 + 1.0 * 0.005)


def test_reserved_replica_capacity_is_a_floor_of_what_is_billed() -> None:
    reserved = CostConfig(cpu_hour=1.0, gb_hour=1.0, serving_cpus=0.5, serving_memory_gb=4.0)
    bill = serving_bill(reserved, cpu_s=36.0, wall_s=3600.0, busy_s=360.0, peak_rss_mb=512.0)
    assert bill.cpu_hours == pytest.approx(0.5)  # half a core reserved for an hour
    assert bill.gb_hours == pytest.approx(4.0)  # 4 GB reserved, more than the 0.5 GB peak
    assert bill.scale_to_zero_cpu_hours == pytest.approx(0.05)
    assert bill.scale_to_zero_gb_hours == pytest.approx(0.4)


def test_busy_time_beyond_the_uptime_is_capped_at_the_uptime() -> None:
    bill = serving_bill(PRICES, cpu_s=0.0, wall_s=100.0, busy_s=250.0, peak_rss_mb=1024.0)
    assert bill.scale_to_zero_gb_hours == pytest.approx(bill.gb_hours)


def test_prices_default_to_zero_and_are_not_priced() -> None:
    assert not CostConfig().priced
    assert CostConfig(gb_hour=0.01).priced

"""``cost:`` the prices ``conveyor cost`` multiplies recorded resource use by."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CostConfig(BaseModel):
    """``cost:`` prices per CPU hour and per GB-hour of memory, and the spot discount.

    All prices are in ``currency`` (a label only). With every price at zero (the default)
    ``conveyor cost`` still reports the resource use and says that no prices are set.

    Serving is billed from what the server recorded: the CPU seconds it used and its peak
    memory for as long as it was up. ``serving_cpus`` and ``serving_memory_gb`` describe
    what a replica reserves instead (what a cluster bills): when set, a replica costs at
    least that many cores, and that much memory, for as long as it is up.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    cpu_hour: float = Field(default=0.0, ge=0, description="Price of one CPU core for an hour.")
    gb_hour: float = Field(default=0.0, ge=0, description="Price of 1 GB of memory for an hour.")
    spot_discount: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction saved on spot/preemptible capacity."
    )
    currency: str = Field(default="USD", min_length=1, max_length=8)
    serving_cpus: float = Field(
        default=0.0,
        ge=0,
        description="CPU cores reserved per serving replica (0: bill the CPU seconds used).",
    )
    serving_memory_gb: float = Field(
        default=0.0,
        ge=0,
        description="Memory reserved per serving replica, in GB (0: bill the peak measured).",
    )

    @property
    def priced(self) -> bool:
        """Whether any price is set (otherwise reports show resource use only)."""
        return self.cpu_hour > 0 or self.gb_hour > 0

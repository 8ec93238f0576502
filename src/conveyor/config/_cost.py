"""``cost:`` the prices ``conveyor cost`` multiplies recorded resource use by."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CostConfig(BaseModel):
    """``cost:`` prices per CPU hour and per GB-hour of memory, and the spot discount.

    All prices are in ``currency`` (a label only). With every price at zero (the default)
    ``conveyor cost`` still reports the resource use and says that no prices are set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    cpu_hour: float = Field(default=0.0, ge=0, description="Price of one CPU core for an hour.")
    gb_hour: float = Field(default=0.0, ge=0, description="Price of 1 GB of memory for an hour.")
    spot_discount: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction saved on spot/preemptible capacity."
    )
    currency: str = Field(default="USD", min_length=1, max_length=8)

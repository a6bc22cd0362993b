"""`TrainingStartRequest`: what a client may ask of `POST /trainings/start` (and `trainjet
train`, which posts it). Validated at the edge; `TrainingService.resolve_inputs` is the one
way from it to the `TrainingInputs` an operation records.

Strict like every request body: unknown keys refused, no coercion ("5" is not a number),
finite numbers only.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Bounds on what a client may name: symbols and timeframes become file names, a list of a
# million symbols is a mistake, not a training.
Name = Annotated[str, Field(min_length=1, max_length=32)]
MAX_EPOCHS = 100_000


class TrainingStartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    strategy_name: str = Field(..., min_length=1, max_length=200, description="Strategy file stem")
    symbols: list[Name] | None = Field(
        None, max_length=100, description="Defaults to the strategy's symbols"
    )
    timeframes: list[Name] | None = Field(
        None, max_length=20, description="Defaults to the strategy's timeframes"
    )
    start_date: str | None = Field(None, max_length=40)
    end_date: str | None = Field(None, max_length=40)
    task_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Client-chosen operation id; repeating it returns the same operation",
    )
    detailed_analytics: bool = False
    training_mode: str | None = Field(None, max_length=16, description="local | host | auto")
    epochs: int | None = Field(
        None, ge=1, le=MAX_EPOCHS, description="Override the strategy's epochs"
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed (recorded)")

"""Projections: pure folds from events to read models, and the projector that runs them."""

from trainjet.core.projections.metrics import batch_curve, evolve_metrics
from trainjet.core.projections.models import (
    EpochRecord,
    OperationInfo,
    OperationMetadata,
    OperationMetrics,
    OperationNote,
    OperationProgress,
)
from trainjet.core.projections.operations import epoch_batch_message, evolve, fold

__all__ = [
    "EpochRecord",
    "OperationInfo",
    "OperationMetadata",
    "OperationMetrics",
    "OperationNote",
    "OperationProgress",
    "batch_curve",
    "epoch_batch_message",
    "evolve",
    "evolve_metrics",
    "fold",
]

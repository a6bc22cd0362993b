"""The training pipeline: `pipeline` runs strategy -> data -> features -> model -> artifacts.

Subpackages by role: `strategy` (files, defaults, validation), `data` (bars in, splits out),
`indicators`, `features` (memberships, lags, alignment, labels), `model` (network, loop,
inference; the only torch importers with `artifacts.model_files`) and `artifacts` (stored
versions, summaries, analytics). It knows nothing of NATS: it reports through
`protocol.TrainingReporter`.
"""

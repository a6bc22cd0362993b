"""The training pipeline: strategy, data, features, labels, model, loop, storage.

The only package that imports torch (lazily in storage and predict). It knows nothing of
NATS: it reports through `protocol.TrainingReporter`.
"""

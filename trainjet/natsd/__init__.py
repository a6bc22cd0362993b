"""Running and reaching NATS: the embedded server, and the connection helper (which lives
with the store adapters in `core/store`)."""

from trainjet.core.store.nats_connect import connect, disconnect, redact, redact_all, split_urls
from trainjet.natsd.embedded import EmbeddedNats, NatsServerError, StoreInUse, find_nats_server

__all__ = [
    "EmbeddedNats",
    "NatsServerError",
    "StoreInUse",
    "connect",
    "disconnect",
    "find_nats_server",
    "redact",
    "redact_all",
    "split_urls",
]

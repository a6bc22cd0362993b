"""trainjet: an event-sourced training orchestrator on NATS JetStream."""

__version__ = "0.1.0"

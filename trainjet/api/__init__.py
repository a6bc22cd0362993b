"""The HTTP API (FastAPI). `create_app` builds it; nothing lives in module globals."""

from trainjet.api.app import create_app

__all__ = ["create_app"]

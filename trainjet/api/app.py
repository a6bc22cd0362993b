"""The FastAPI app factory. The lifespan owns the API's parts (`trainjet.system.ApiSystem`:
the NATS connection, projector, lease monitor); nothing lives in module globals, so tests can build as many apps as they like."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trainjet import __version__
from trainjet.api.console import install_console
from trainjet.api.errors import install_error_handlers
from trainjet.api.guards import install_guards
from trainjet.api.hot_reads import install_hot_reads
from trainjet.api.metrics import install_metrics
from trainjet.api.outage import OutageGuard
from trainjet.api.routes import (
    dummy,
    events_model,
    health,
    indicators,
    live,
    market_data,
    model_versions,
    models,
    operations,
    runs,
    strategies,
    trainings,
)
from trainjet.api.schemas_errors import document_error_responses
from trainjet.config import Settings
from trainjet.system import ApiSystem

BackendFactory = Callable[[Settings], Awaitable[ApiSystem]]
API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    backend_factory: BackendFactory | None = None,
    *,
    lease_monitor: bool = True,
) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backend_factory is None:
            from trainjet.system import connect_api

            backend = await connect_api(settings)
        else:
            backend = await backend_factory(settings)
        try:
            await backend.start(lease_monitor=lease_monitor)
            app.state.backend = backend
            yield
        finally:
            app.state.backend = None
            await backend.close()

    app = FastAPI(
        title="trainjet",
        version=__version__,
        description="Event-sourced training orchestrator on NATS JetStream",
        lifespan=lifespan,
        # /docs and /redoc are served from packaged assets (install_console), not a CDN
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.backend = None
    app.state.stopping = asyncio.Event()  # set by the server as it stops: live streams end
    install_error_handlers(app)
    # every route, present and future: same-origin JSON writes, the token, a body limit
    install_guards(app, settings)
    app.add_middleware(OutageGuard)
    install_metrics(app)  # GET /metrics, outside /api/v1
    # before the routers whose `/{id}` paths would otherwise take "compare",
    # "events-stream" or "x/versions"
    for router in (live.router, runs.router, model_versions.router):
        app.include_router(router, prefix=API_PREFIX)
    for router in (
        operations.router,
        trainings.router,
        models.router,
        strategies.router,
        dummy.router,
        health.router,
        events_model.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(indicators.router, prefix=API_PREFIX)
    app.include_router(market_data.router, prefix=API_PREFIX)
    install_console(app)
    # it documents the error bodies of every route registered above
    document_error_responses(app, API_PREFIX)
    # last: it passes on the paths that routes registered before the hot reads take
    install_hot_reads(app, operations.HOT_READS)
    return app

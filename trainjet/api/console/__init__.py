"""The web console and the offline API docs, served by the API itself at `/`, `/docs` and
`/redoc`.

Everything the browser loads comes from `static/` inside the package: the console's own ES
modules and the pinned vendor bundles (`static/vendor/VERSIONS.md`). Nothing is fetched from
another host, so the console and the docs work on a machine without internet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/console/static"

# The browser itself refuses to contact any other host from these pages. The vendored docs
# bundles carry a few links of their own (redoc's sidebar loads its maker's logo from a
# CDN); with this policy they never leave the machine, and redoc hides the missing image.
# Inline scripts and styles: FastAPI's docs pages and the chart library use them.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'self'",
    )
)
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}


def install_console(app: FastAPI) -> None:
    """Mount the assets and add `/`, `/docs` and `/redoc` (create the app with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN-backed pages are not there too)."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    vendor = f"{STATIC_URL}/vendor"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        # no-cache: a new trainjet version must not run against an old cached page
        return FileResponse(
            STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache", **PAGE_HEADERS}
        )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{vendor}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
        )
        page.headers.update(PAGE_HEADERS)
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            redoc_js_url=f"{vendor}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        page.headers.update(PAGE_HEADERS)
        return page

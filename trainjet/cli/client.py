"""The CLI's HTTP client: one place that turns transport and API errors into clear messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainjet.config import Settings

# httpx (about 0.1-0.2 s to import) arrives with the first client: `trainjet api` imports the
# CLI's command tree, and with it this module, but never sends a request through it.
if TYPE_CHECKING:
    import httpx


class CliError(Exception):
    """A failure to report to the user in one line, with the exit code to use."""

    def __init__(self, message: str, exit_code: int = 1, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status_code = status_code  # the API's HTTP status, when the API answered


def error_message(body: Any) -> str:
    """One line from an API error body: `detail` is a string, or (for configuration errors)
    ktrdr's object whose message and suggestion are shown together."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, dict):
        message = str(detail.get("message") or "")
        suggestion = detail.get("suggestion")
        return f"{message}. {suggestion}" if suggestion and message else message
    if detail:
        return str(detail)
    error = body.get("error")
    return str(error.get("message") or "") if isinstance(error, dict) else ""


class ApiClient:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        self.base = settings.api_url.rstrip("/")
        headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
        # the API accepts writes only as JSON (a web page cannot forge that content type)
        headers["Content-Type"] = "application/json"
        import httpx

        self._client = httpx.Client(
            base_url=f"{self.base}/api/v1", headers=headers, timeout=timeout
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def download(self, path: str) -> tuple[bytes, str | None]:
        """(body, the file name the server suggests) of a GET that answers a file."""
        response = self._send("GET", path)
        disposition = response.headers.get("content-disposition", "")
        _, _, name = disposition.partition('filename="')
        filename = name.rstrip('"') or None
        # a server-chosen name never picks a directory: keep its last part only
        return response.content, filename.replace("\\", "/").rsplit("/", 1)[
            -1
        ] if filename else None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise CliError(
                f"cannot reach the trainjet API at {self.base} ({exc}). Start it with "
                "`trainjet serve`, or set TRAINJET_API_URL / --api-url to where it runs."
            ) from exc
        except httpx.TimeoutException as exc:
            raise CliError(
                f"the trainjet API at {self.base} did not answer in time ({exc})"
            ) from exc
        if response.status_code >= 400:
            try:
                message = error_message(response.json()) or response.text
            except ValueError:
                message = response.text
            code = 2 if 400 <= response.status_code < 500 else 1
            raise CliError(f"{message} (HTTP {response.status_code})", code, response.status_code)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

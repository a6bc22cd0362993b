"""The API benchmark's baseline: one bare FastAPI route, served by uvicorn with the settings
`trainjet api` uses (`trainjet.cli.serve.run_api`), uvloop and httptools included unless
TRAINJET_API_FAST_IO=false. `python -m bench.bare_app --port P`."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from trainjet.cli.serve import server_io
from trainjet.config import Settings

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, object]:
    return {"success": True, "data": {"operation_id": "op_bare", "status": "completed"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    loop, http = server_io(Settings.from_env().api_fast_io)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="on",
        loop=loop,
        http=http,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()

"""A small HTTP/1.1 load generator: N keep-alive connections, each sending GET after GET for a
fixed time; prints one JSON line with the request rate and latency percentiles.

Raw asyncio streams rather than an HTTP client library, so the generator costs a fraction of
what the server under test costs (it shares the machine with it). Run it in its own process:
`python -m bench.loadgen --port P --path /a --path /b --concurrency 64 --seconds 5`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any


async def _client(
    host: str,
    port: int,
    paths: list[str],
    offset: int,
    warm_until: float,
    stop_at: float,
    latencies: list[float],
    errors: list[str],
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for p in paths]
    i, done = offset, 0
    try:
        while (t0 := time.perf_counter()) < stop_at:
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(length)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                errors.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            if t0 >= warm_until:
                latencies.append(time.perf_counter() - t0)
                done += 1
    finally:
        writer.close()
    return done


async def load(
    host: str, port: int, paths: list[str], concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    from bench.stats import percentile

    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    errors: list[str] = []
    counts = await asyncio.gather(
        *(
            _client(host, port, paths, k * 7919, warm_until, stop_at, latencies, errors)
            for k in range(concurrency)
        )
    )
    measured = time.perf_counter() - warm_until
    ms = [x * 1000 for x in latencies] or [0.0]
    return {
        "requests": sum(counts),
        "seconds": measured,
        "rps": sum(counts) / measured,
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "concurrency": concurrency,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--paths-file", help="one path per line (used in turn)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args(argv)
    paths = list(args.path)
    if args.paths_file:
        with open(args.paths_file) as f:
            paths += [line.strip() for line in f if line.strip()]
    if not paths:
        parser.error("give --path or --paths-file")
    result = asyncio.run(
        load(args.host, args.port, paths, args.concurrency, args.seconds, args.warmup)
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

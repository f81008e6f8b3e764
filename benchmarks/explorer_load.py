"""The explorer's load benchmark: ``python -m benchmarks.explorer_load RUN_DIR``.

Serves the run on 127.0.0.1 (a free port) and sends ``--requests`` attention requests
from ``--clients`` concurrent clients; prints the failures, latency p50/p99, throughput
and the process's resident memory before and after, as JSON. ``--exclusive`` makes every
request take the model alone (one forward pass at a time), to compare with the default,
where attention requests share it. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["main", "resident_mib"]


def resident_mib() -> float:
    """This process's resident memory (VmRSS), in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explorer_load")
    parser.add_argument("run_dir")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--text", default="ROMEO: But soft, what light through yonder window breaks?"
    )
    parser.add_argument("--exclusive", action="store_true", help="one request at a time")
    args = parser.parse_args(argv)

    import uvicorn

    from attnkit.explorer.app import create_app
    from attnkit.explorer.runs import ModelLock, load_runs

    runs = load_runs([args.run_dir])
    run_id = next(iter(runs))
    runs[run_id].lock = ModelLock(always_exclusive=args.exclusive)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runs), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    body = json.dumps({"run": run_id, "text": args.text})

    def ask(_: int) -> tuple[float, int]:
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("POST", "/api/attention", body, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        connection.close()
        return time.perf_counter() - start, response.status

    ask(0)  # warm-up
    before = resident_mib()
    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(ask, range(args.requests)))
    wall = time.perf_counter() - start
    after = resident_mib()
    server.should_exit = True
    thread.join(10)
    latencies = sorted(seconds for seconds, _ in results)
    report = {
        "run": str(args.run_dir),
        "parameters": sum(p.numel() for p in runs[run_id].run.model.parameters()),
        "tokens": len(runs[run_id].run.tokenizer.encode(args.text)),
        "requests": args.requests,
        "clients": args.clients,
        "exclusive": args.exclusive,
        "failed": sum(status != 200 for _, status in results),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[max(0, int(0.99 * len(latencies)) - 1)], 1),
        "requests_per_s": round(args.requests / wall, 1),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

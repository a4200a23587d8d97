"""Service speed benchmark (not a test): in-process suggest latency, then bounded HTTP load on a server.

    python benchmarks/service.py [--model DIR_OR_URI] [--duration 20] [--concurrency 4]

1. In-process: `ContactModel.suggest` on one sentence, 1,000 calls after a warm-up: p50, p99; then on a
   contact about two things (with a multi-label model the clauses are scored again for each description's
   sentiment), 300 calls.
2. HTTP: `contactlens serve` (uvicorn, one worker) on 127.0.0.1 with a fresh SQLite database; time to ready
   (`/readyz` answers 200), then `--concurrency` clients with keep-alive post one-sentence `/v1/suggest`
   requests for `--duration` seconds (at most 60): requests/s, p50, p99, errors, server RSS (peak).
Results go to benchmarks/results/service.json. The load generator shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "service.json"
SENTENCE = "My parcel was due on Tuesday and it still has not arrived, tracking says in transit."
TWO_TOPICS = (  # the sample model decides both descriptions here: refund_not_received and staff_compliment
    "Sarah on the tills was so kind and patient with my mum, please thank her. "
    "But I returned a kettle three weeks ago and the refund still hasn't reached my card."
)
KEY = "bench-key"
TARGETS = {"inprocess_p50_ms": 8, "http_p50_ms": 12, "http_p99_ms": 30, "rss_mb": 500, "ready_s": 10}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def in_process(uri: str | None, calls: int) -> dict[str, Any]:
    from contactlens.registry import load_model

    model = load_model(uri)

    def timed(text: str, n: int) -> list[float]:
        for _ in range(20):
            model.suggest([text])
        times = []
        for _ in range(n):
            t = time.perf_counter()
            model.suggest([text])
            times.append((time.perf_counter() - t) * 1000)
        return times

    one, two = timed(SENTENCE, calls), timed(TWO_TOPICS, max(1, calls * 3 // 10))
    return {
        "calls": calls,
        "p50_ms": round(statistics.median(one), 2),
        "p99_ms": round(percentile(one, 99), 2),
        "two_topics_p50_ms": round(statistics.median(two), 2),
        "two_topics_p99_ms": round(percentile(two, 99), 2),
        "two_topics_descriptions": len(model.suggest([TWO_TOPICS])[0]["descriptions"]),
        "multilabel": model.multilabel,
        "model_version": model.version,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def start_server(uri: str | None, port: int, workdir: Path) -> tuple[subprocess.Popen, float]:
    env = os.environ | {
        "CONTACTLENS_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "CONTACTLENS_API_KEYS": f"{KEY}:logger",
    }
    if uri:
        env["CONTACTLENS_MODEL_URI"] = uri
    exe = Path(sys.executable).with_name("contactlens")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=env,
        stdout=(workdir / "server.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/readyz"
    while time.perf_counter() - started < 60:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: see {workdir / 'server.log'}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.terminate()
    raise SystemExit("the server was not ready within 60 s")


def load(port: int, concurrency: int, duration: float) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/v1/suggest"
    deadline = time.perf_counter() + duration
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def client(i: int) -> None:
        with httpx.Client(headers={"X-API-Key": KEY}, timeout=10) as http:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    ok = http.post(url, json={"text": SENTENCE}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies[i].append((time.perf_counter() - t) * 1000)
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    done = [x for per in latencies for x in per]
    return {
        "concurrency": concurrency,
        "duration_s": round(elapsed, 1),
        "requests": len(done),
        "requests_per_s": round(len(done) / elapsed, 1),
        "p50_ms": round(statistics.median(done), 2) if done else None,
        "p99_ms": round(percentile(done, 99), 2) if done else None,
        "errors": sum(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Artifact directory or models:/NAME@ALIAS (default: the settings').")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of HTTP load (at most 60).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    duration = min(args.duration, 60.0)

    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": round(os.getloadavg()[0], 2),  # other work on the box skews every number
    }
    result["in_process"] = in_process(args.model, args.calls)
    print(f"in-process suggest: {result['in_process']}")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc, ready_s = start_server(args.model, port, Path(tmp))
        try:
            result["ready_s"] = round(ready_s, 2)
            result["rss_idle_mb"] = rss_mb(proc.pid, "VmRSS")
            result["http"] = load(port, args.concurrency, duration)
            result["rss_peak_mb"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    http = result["http"]
    result["targets"] = TARGETS
    result["meets_targets"] = {
        "inprocess_p50": result["in_process"]["p50_ms"] <= TARGETS["inprocess_p50_ms"],
        "http_p50": (http["p50_ms"] or 1e9) <= TARGETS["http_p50_ms"],
        "http_p99": (http["p99_ms"] or 1e9) <= TARGETS["http_p99_ms"],
        "http_errors": http["errors"] == 0,
        "rss": result["rss_peak_mb"] <= TARGETS["rss_mb"],
        "ready": result["ready_s"] <= TARGETS["ready_s"],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "targets"}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

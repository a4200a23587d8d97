"""Service speed benchmark (not a test): in-process suggest, HTTP closed and open loop, predict throughput.

    python benchmarks/service.py [--model DIR_OR_URI] [--baseline ROOT] [--duration 10] [--open-duration 30]
        [--concurrency 1 8 32] [--rates 100 200] [--workers 1] [--predict-rows N] [--calls 1000]

1. In-process: `ContactModel.suggest` on one sentence (`--calls` calls after a warm-up): p50, p99; then on a
   contact about two things (both decided, sentiment per clause), a third as many calls.
2. HTTP: `contactlens serve` (uvicorn, `--workers`) on 127.0.0.1 with a fresh SQLite database (or
   `--database-url`); time to ready, then for each `--concurrency` a closed loop (that many clients with
   keep-alive, each posting a one-sentence `/v1/suggest` as soon as its last answer came) for `--duration`
   seconds, the same on the floor endpoint `/healthz` (the framework's cost at that moment), and for each
   `--rates` an open loop: Poisson arrivals at that many requests/s for `--open-duration` seconds, each
   request timed from its scheduled start (so a server that falls behind shows it). requests/s, p50, p99,
   errors; the server's CPU per request (`/proc`, its threads by role: suggest batch threads, suggestion-log
   writer, the rest with the event loop); RSS per server process (peak). Each server is warmed up first (a
   few suggests, then idle). The load generator is a lean keep-alive HTTP/1.1 client (`LeanClient`): its own
   CPU per request is reported, since it shares the machine's cores with the server.
3. `predict` (training.predict.predict_file, the CLI's path: a scoring thread per core) on BANKING77 train
   (all 10,003 rows, or the first `--predict-rows`), CSV in and Parquet out, the model loaded and warmed up
   first (the worker's suggests load spaCy's sentenciser): verbatims/s.

`--baseline ROOT` runs every measure also for another checkout (e.g. `/work/main`, the code before a change),
the two taking turns measure by measure, so both see the same load; the result holds both and their ratios.
The load generator shares the machine's cores with the server: on 2 cores it takes part of one. Results go to
benchmarks/results/service.json, with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "service.json"
BANKING77 = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
SENTENCE = "My parcel was due on Tuesday and it still has not arrived, tracking says in transit."
TWO_TOPICS = (  # the sample model decides both descriptions here: refund_not_received and staff_compliment
    "Sarah on the tills was so kind and patient with my mum, please thank her. "
    "But I returned a kettle three weeks ago and the refund still hasn't reached my card."
)
KEY = "bench-key"
TARGETS = {
    "inprocess_p50_ms": 4,
    "inprocess_p99_ms": 8,
    "two_topics_p50_ms": 8,
    "closed_c8_requests_per_s": 400,
    "open_200_p50_ms": 8,
    "open_200_p99_ms": 25,
    "predict_verbatims_per_s": 1000,
    "rss_mb": 500,
    "ready_s": 10,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(times_ms: list[float]) -> dict[str, float | None]:
    if not times_ms:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": round(statistics.median(times_ms), 2), "p99_ms": round(percentile(times_ms, 99), 2)}


# ------------------------------------------------------------------------------------------- in-process


def in_process_worker(uri: str | None) -> None:
    """Serve timing requests on stdin ('one N', 'two N', 'predict N'): one JSON line of results each."""
    import contactlens.model
    from contactlens.registry import load_model

    limit = getattr(contactlens.model, "limit_blas_threads", None)  # what the checkout's service does
    if limit is not None:
        limit(1)
    model = load_model(uri)
    for text in (SENTENCE, TWO_TOPICS):
        for _ in range(20):
            model.suggest([text])
    print(
        json.dumps(
            {"ready": True, "two_topics_descriptions": len(model.suggest([TWO_TOPICS])[0].descriptions or ())}
        )
    )
    sys.stdout.flush()
    for line in sys.stdin:
        what, n = line.split()
        if what == "predict":
            print(json.dumps(predict_rate(uri, int(n))))
        else:
            text = SENTENCE if what == "one" else TWO_TOPICS
            times = []
            for _ in range(int(n)):
                started = time.perf_counter()
                model.suggest([text])
                times.append((time.perf_counter() - started) * 1000)
            print(json.dumps(times))
        sys.stdout.flush()


def predict_rate(uri: str | None, rows: int) -> dict[str, Any]:
    import pandas as pd

    from training.pipeline import load_for_predict
    from training.predict import predict_file

    if not BANKING77.is_file():
        return {"skipped": f"{BANKING77} not found"}
    model = load_for_predict(uri)  # as `contactlens predict` loads it
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.csv"
        pd.read_csv(BANKING77, nrows=rows if rows > 0 else None).to_csv(data, index=False)
        started = time.perf_counter()
        n = predict_file(model, data, Path(tmp) / "out.parquet")
        seconds = time.perf_counter() - started
    return {"rows": n, "seconds": round(seconds, 1), "verbatims_per_s": round(n / seconds, 1)}


class Side:
    """One checkout under test: its in-process worker and its server."""

    def __init__(
        self,
        name: str,
        root: Path,
        uri: str | None,
        workdir: Path,
        workers: int,
        database_url: str | None = None,
    ) -> None:
        self.name, self.root, self.uri, self.workers = name, root, uri, workers
        self.database_url = database_url
        self.workdir = workdir / name
        self.workdir.mkdir()
        self.env = os.environ | {"PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
        self.worker: subprocess.Popen | None = None
        self.server: subprocess.Popen | None = None
        self.port = 0
        self.result: dict[str, Any] = {"root": str(root)}

    # in-process
    def start_worker(self) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--in-process-worker"]
        if self.uri:
            cmd += ["--model", self.uri]
        self.worker = subprocess.Popen(
            cmd, env=self.env, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.result["two_topics_descriptions"] = self.ask("")["two_topics_descriptions"]

    def ask(self, line: str) -> Any:
        assert self.worker is not None and self.worker.stdin and self.worker.stdout
        if line:
            self.worker.stdin.write(line + "\n")
            self.worker.stdin.flush()
        answer = self.worker.stdout.readline()
        if not answer:
            raise SystemExit(f"{self.name}: the in-process worker exited")
        return json.loads(answer)

    def stop_worker(self) -> None:
        if self.worker is not None:
            assert self.worker.stdin
            self.worker.stdin.close()
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:  # a loaded machine can take that long to tear Python down
                self.worker.kill()
                self.worker.wait()

    # server
    def start_server(self) -> None:
        env = self.env | {
            "CONTACTLENS_DATABASE_URL": self.database_url or f"sqlite:///{self.workdir / 'bench.db'}",
            "CONTACTLENS_API_KEYS": f"{KEY}:logger",
        }
        if self.uri:
            env["CONTACTLENS_MODEL_URI"] = self.uri
        self.port = free_port()
        exe = Path(sys.executable).with_name("contactlens")
        started = time.perf_counter()
        cmd = [str(exe), "serve", "--port", str(self.port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        log = (self.workdir / "server.log").open("w")
        self.server = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(self.server, self.port, self.name, self.workdir / "server.log")
        self.result["ready_s"] = round(time.perf_counter() - started, 2)
        self.result["rss_idle_mb"] = rss_per_process(self.server.pid, "VmRSS")
        self.warm_up()

    def warm_up(self, calls: int = 20, quiet_cpu_s: float = 0.05, most_s: float = 60.0) -> None:
        """A few suggests (first calls load what they use), then wait until the server is idle: ready comes
        before its redaction pipeline has loaded in the background (seconds of CPU), which would otherwise
        land on the first loop measured."""
        import httpx

        body, headers = {"text": SENTENCE}, {"X-API-Key": KEY}
        for _ in range(calls):
            httpx.post(f"http://127.0.0.1:{self.port}/v1/suggest", json=body, headers=headers, timeout=30)
        assert self.server is not None
        deadline = time.perf_counter() + most_s
        while time.perf_counter() < deadline:
            before = sum(thread_cpu(self.server.pid).values())
            time.sleep(0.5)
            if sum(thread_cpu(self.server.pid).values()) - before < quiet_cpu_s:
                return

    def stop_server(self) -> None:
        if self.server is not None:
            self.result["rss_peak_mb"] = rss_per_process(self.server.pid)
            self.server.terminate()
            try:
                self.server.wait(60)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()


def wait_ready(server: subprocess.Popen, port: int, name: str, log: Path, most_s: float = 120.0) -> None:
    """Until the server on `port` answers /readyz; exits the benchmark if it ends or takes over `most_s`."""
    import httpx

    deadline = time.perf_counter() + most_s
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{name}: the server exited: see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{name}: the server was not ready within {most_s:g} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def rss_per_process(pid: int, field: str = "VmHWM") -> list[float]:
    """Resident memory (MB) of the server and each process under it (uvicorn's workers)."""
    pids, out = [pid], []
    while pids:
        p = pids.pop(0)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
            pids += _children(p)
        except OSError:
            continue
    return out


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of the server's threads (and its worker processes'), summed by role: the suggest
    batch threads and the suggestion-log writer carry their names to the OS (`service.threads`); every other
    thread (each process's event loop, the threadpool for sync routes) keeps its process's name: "rest"."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"suggest_batch": 0.0, "suggestion_log": 0.0, "rest": 0.0}
    pids = [pid]
    while pids:
        p = pids.pop(0)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    name = (task / "comm").read_text().strip()
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                    role = {"suggest-batch": "suggest_batch", "suggestion-log": "suggestion_log"}.get(
                        name.rsplit("_", 1)[0] if name.startswith("suggest-batch") else name, "rest"
                    )
                    out[role] += seconds
            pids += _children(p)
    return out


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Server CPU milliseconds a request between two `thread_cpu` readings, in all and by role (clock ticks
    of 10 ms: a loop of a few thousand requests reads it to about 0.01 ms)."""
    by_role = {k: round(1000 * (after[k] - before[k]) / max(1, requests), 3) for k in after}
    return {"total": round(sum(by_role.values()), 3), **by_role}


# ----------------------------------------------------------------------------------------------- HTTP


class LeanClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: pre-built request bytes, the status line and
    Content-Length read back, nothing else. httpx spent about 1-1.5 ms of CPU a request, on the same 2 cores
    as the server: a loop of it measured the client as much as the server. Connections are pooled and opened
    on demand (at most `max_connections`; a request that finds none free waits for one)."""

    IDLE_S = 4.0  # a pooled connection idle longer than this is not reused: uvicorn closes them after 5 s

    def __init__(self, port: int, max_connections: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.slots = asyncio.Semaphore(max_connections)
        self.failures: dict[str, int] = {}  # what went wrong: the HTTP status, or the client-side error
        self.retried = 0  # requests sent again on a new connection after a reused one was closed under them

    def failed(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    @staticmethod
    def request(path: str, body: dict[str, Any] | None = None) -> bytes:
        method = "POST" if body is not None else "GET"
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
        if body is None:
            return (head + "\r\n").encode()
        data = json.dumps(body).encode()
        return (
            head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    def _pooled(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A pooled connection the server has not closed (or is about to close for idling), if any."""
        now = time.perf_counter()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < self.IDLE_S and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def send(self, raw: bytes) -> int:
        """Send one pre-built request; its status code (0 when the connection failed).

        As browsers and urllib3 do, a request on a reused keep-alive connection that the server closed before
        answering anything (a close racing the request) is sent once more on a new connection: the server
        never read it. Any other failure is counted."""
        async with self.slots:
            conn = self._pooled()
            for attempt in (0, 1):
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", self.port)
                    reader, writer = conn
                    writer.write(raw)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                    status = int(head[9:12])
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    if length:
                        await reader.readexactly(length)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    TimeoutError,
                    ValueError,
                ) as exc:
                    if conn is not None:
                        conn[1].close()
                    closed_unanswered = isinstance(exc, asyncio.IncompleteReadError) and not exc.partial
                    if reused and attempt == 0 and (closed_unanswered or isinstance(exc, ConnectionError)):
                        self.retried += 1
                        conn = None
                        continue
                    self.failed(type(exc).__name__)
                    return 0
                break
            self.idle.append((reader, writer, time.perf_counter()))
            if status != 200:
                self.failed(f"HTTP {status}")
            return status

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle = []


async def closed_loop(port: int, path: str, concurrency: int, duration: float) -> dict[str, Any]:
    raw = LeanClient.request(path, None if path == "/healthz" else {"text": SENTENCE})
    http = LeanClient(port, concurrency)
    times: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if await http.send(raw) == 200:
                times.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    http.close()
    return {
        "concurrency": concurrency,
        "requests_per_s": round(len(times) / elapsed, 1),
        **summary(times),
        "requests": len(times),
        "errors": errors,
        "error_kinds": http.failures,
        "resent_after_keepalive_close": http.retried,
        "client_cpu_ms_per_request": round(1000 * cpu / max(1, len(times) + errors), 3),
    }


async def open_loop(port: int, rate: float, duration: float, seed: int = 0) -> dict[str, Any]:
    """Poisson arrivals at `rate`/s; each request is timed from when it was due, not when it was sent."""
    raw = LeanClient.request("/v1/suggest", {"text": SENTENCE})
    http = LeanClient(port, 512)
    rng = random.Random(seed)
    times: list[float] = []
    errors = 0

    async def one(due: float) -> None:
        nonlocal errors
        if await http.send(raw) == 200:
            times.append((time.perf_counter() - due) * 1000)
        else:
            errors += 1

    tasks = []
    start, cpu = time.perf_counter(), time.process_time()
    due = start
    while True:
        due += rng.expovariate(rate)
        if due - start > duration:
            break
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    http.close()
    return {
        "rate": rate,
        "sent": len(tasks),
        "answered_per_s": round(len(times) / elapsed, 1),
        **summary(times),
        "errors": errors,
        "error_kinds": http.failures,
        "resent_after_keepalive_close": http.retried,
        "client_cpu_ms_per_request": round(1000 * cpu / max(1, len(tasks)), 3),
    }


# ----------------------------------------------------------------------------------------------- main


def ratios(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """new / old for every number both have (nested), rounded: < 1 is faster for times, > 1 for rates."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        other = old.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            out[key] = ratios(value, other)
        elif isinstance(value, int | float) and isinstance(other, int | float) and other:
            out[key] = round(value / other, 3)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],  # other work skews every number
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "in_process_worker")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        sides = [Side("this", ROOT, args.model, Path(tmp), args.workers, args.database_url)]
        if args.baseline:
            root = Path(args.baseline).resolve()
            sides.append(Side("baseline", root, args.model, Path(tmp), args.workers, args.database_url))
        try:
            for side in sides if not args.no_in_process else []:
                side.start_worker()
            rounds = 0 if args.no_in_process else 4
            times: dict[str, dict[str, list[float]]] = {s.name: {"one": [], "two": []} for s in sides}
            for r in range(rounds):  # the sides take turns, so load from elsewhere hits them alike
                for side in sides if r % 2 == 0 else sides[::-1]:
                    times[side.name]["one"] += side.ask(f"one {max(1, args.calls // rounds)}")
                    times[side.name]["two"] += side.ask(f"two {max(1, args.calls // rounds // 3)}")
            for side in sides if rounds else []:
                one, two = summary(times[side.name]["one"]), summary(times[side.name]["two"])
                side.result["in_process"] = {
                    "one_sentence": one,
                    "two_topics": two,
                    "two_topics_descriptions": side.result.pop("two_topics_descriptions"),
                }
                print(f"{side.name}: in-process {side.result['in_process']}", flush=True)
            if args.predict_rows and rounds:
                for side in sides:
                    side.result["predict"] = side.ask(f"predict {args.predict_rows}")
                    print(f"{side.name}: predict {side.result['predict']}", flush=True)
        finally:
            for side in sides:
                side.stop_worker()
        try:
            for side in sides:
                side.start_server()
            plan: list[tuple[str, Any]] = [("closed", c) for c in args.concurrency]
            plan += [("healthz", max(args.concurrency))] + [("open", rate) for rate in args.rates]
            for k, (kind, arg) in enumerate(plan):
                for side in sides if k % 2 == 0 else sides[::-1]:
                    assert side.server is not None
                    cpu_before = thread_cpu(side.server.pid)
                    if kind == "closed":
                        out = asyncio.run(closed_loop(side.port, "/v1/suggest", arg, args.duration))
                        side.result.setdefault("closed_loop", {})[f"c{arg}"] = out
                    elif kind == "healthz":
                        out = asyncio.run(closed_loop(side.port, "/healthz", arg, args.duration))
                        side.result[f"healthz_c{arg}"] = out
                    else:
                        out = asyncio.run(open_loop(side.port, arg, args.open_duration))
                        side.result.setdefault("open_loop", {})[f"rate{arg:g}"] = out
                    answered = out.get("requests", out.get("sent", 0))
                    out["server_cpu_ms_per_request"] = cpu_per_request(
                        cpu_before, thread_cpu(side.server.pid), answered
                    )
                    print(f"{side.name}: {kind} {arg}: {out}", flush=True)
        finally:
            for side in sides:
                side.stop_server()
    result["this"] = sides[0].result
    if len(sides) > 1:
        result["baseline"] = sides[1].result
        result["this_over_baseline"] = ratios(sides[0].result, sides[1].result)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = TARGETS
    result["meets_targets"] = meets(sides[0].result)
    return result


def meets(r: dict[str, Any]) -> dict[str, bool | None]:
    def at(*keys: str) -> Any:
        value: Any = r
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def le(value: Any, target: float) -> bool | None:
        return None if value is None else value <= target

    c8, open200 = at("closed_loop", "c8"), at("open_loop", "rate200")
    return {
        "inprocess_p50": le(at("in_process", "one_sentence", "p50_ms"), TARGETS["inprocess_p50_ms"]),
        "inprocess_p99": le(at("in_process", "one_sentence", "p99_ms"), TARGETS["inprocess_p99_ms"]),
        "two_topics_p50": le(at("in_process", "two_topics", "p50_ms"), TARGETS["two_topics_p50_ms"]),
        "closed_c8": None if c8 is None else c8["requests_per_s"] >= 400 and c8["errors"] == 0,
        "open_200": None
        if open200 is None
        else bool(
            (open200["p50_ms"] or 1e9) <= TARGETS["open_200_p50_ms"]
            and (open200["p99_ms"] or 1e9) <= TARGETS["open_200_p99_ms"]
            and open200["errors"] == 0
        ),
        "predict": None
        if at("predict", "verbatims_per_s") is None
        else at("predict", "verbatims_per_s") >= TARGETS["predict_verbatims_per_s"],
        "rss": None if not r.get("rss_peak_mb") else max(r["rss_peak_mb"]) <= TARGETS["rss_mb"],
        "ready": le(r.get("ready_s"), TARGETS["ready_s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Artifact directory or models:/NAME@ALIAS (default: the settings').")
    parser.add_argument("--baseline", help="Another checkout to measure alongside (e.g. /work/main).")
    parser.add_argument("--calls", type=int, default=1000, help="In-process calls on one sentence.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per closed loop.")
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[100.0, 200.0], help="Open-loop requests/s."
    )
    parser.add_argument("--open-duration", type=float, default=30.0, help="Seconds per open loop.")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    parser.add_argument(
        "--database-url",
        help="The servers' database (default: a fresh SQLite file each); several workers want "
        "PostgreSQL, e.g. postgresql+psycopg://root@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--predict-rows", type=int, default=-1, help="BANKING77 train rows (default: all; 0: skip)."
    )
    parser.add_argument("--no-in-process", action="store_true", help="HTTP only (no in-process, no predict).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="The JSON file to write.")
    parser.add_argument("--in-process-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process_worker:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        in_process_worker(args.model)
        return
    result = run(args)
    print(json.dumps({k: v for k, v in result.items() if k != "targets"}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

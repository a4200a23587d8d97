"""Fault benchmark (not a test; bounded, loopback only): the service under kill -9, a database restart,
reloads under load and refused reloads.

    nice -n 10 python benchmarks/faults.py [--model DIR] [--rounds 3] [--seconds 5]

1. kill -9 during writes: `contactlens serve` on 127.0.0.1, writers log contacts, the server is killed with
   SIGKILL, restarted, and every acknowledged (201) contact is looked for. On SQLite and on PostgreSQL.
   Target: 0 acknowledged contacts lost.
2. Database stopped and restarted under load: a PRIVATE PostgreSQL (initdb + pg_ctl on a free port in a
   temporary folder, as the `postgres` user; never the shared server) is stopped with `pg_ctl stop -m fast`
   and started again while writers run. A 503 "database is unavailable" while the database was up is a false
   alarm. Targets: 0 false alarms, 0 acknowledged contacts lost.
3. Reloads under load: suggest clients run while `POST /v1/admin/reload` swaps the model every second.
   Target: 0 failed requests.
4. Refused reloads: the artifact is corrupted and reloaded 25 times; the server's RSS before and after.
   Target: growth under 30 MB.
5. Cost bound: the largest batch allowed of each shape (short, ordinary, about several descriptions,
   punctuation, long; within `max_request_chars` and `max_request_tokens`): server CPU seconds (target: at
   most 5) and that one text more is a 413; 256 texts of 10,000 characters (a 413); four of the costliest
   batches at once, then the server's RSS at once and 5 s later (target: within 50 MB of idle).
Results go to benchmarks/results/faults.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.service import free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "faults.json"
KEYS = {"logger": "faults-logger", "analyst": "faults-analyst"}
DESCRIPTION = "late_delivery"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (or another /proc status field) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class Server:
    """`contactlens serve` in a subprocess on a free loopback port."""

    def __init__(self, model_dir: Path, db_url: str, work: Path) -> None:
        self.model_dir, self.db_url, self.work = model_dir, db_url, work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        env = os.environ | {
            "PYTHONPATH": str(ROOT),
            "CONTACTLENS_HOME": str(self.work),
            "CONTACTLENS_DATABASE_URL": self.db_url,
            "CONTACTLENS_MODEL_URI": str(self.model_dir),
            "CONTACTLENS_API_KEYS": ",".join(f"{k}:{r}" for r, k in KEYS.items()),
        }
        exe = Path(sys.executable).with_name("contactlens")
        started = time.perf_counter()
        log = (self.work / "server.log").open("a")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        while time.perf_counter() - started < 300:
            if self.proc.poll() is not None:
                tail = (self.work / "server.log").read_text()[-2000:]
                raise SystemExit(f"the server exited:\n{tail}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = (self.work / "server.log").read_text()[-2000:]
        raise SystemExit(f"the server was not ready within 300 s:\n{tail}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss(self) -> float:
        assert self.proc is not None
        return rss_mb(self.proc.pid, "VmRSS")


class Writers:
    """Threads logging contacts until stopped; every answer is recorded with the time it was sent."""

    def __init__(self, url: str, n: int = 3, path: str = "/v1/contacts") -> None:
        self.url, self.n, self.path = url, n, path
        self.stop = threading.Event()
        self.acknowledged: list[int] = []
        self.answers: list[tuple[float, float, int, str]] = []  # sent, answered, status, detail
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(n)]

    def _run(self, i: int) -> None:
        headers = {"X-API-Key": KEYS["logger"]}
        with httpx.Client(headers=headers, timeout=10) as http:
            j = 0
            while not self.stop.is_set():
                j += 1
                body = {"text": f"fault writer {i} contact {j}: parcel late", "channel": "web"} | (
                    {"description": DESCRIPTION} if self.path == "/v1/contacts" else {}
                )
                sent = time.monotonic()
                try:
                    r = http.post(self.url + self.path, json=body)
                    status, detail = r.status_code, r.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = 0, type(exc).__name__
                    time.sleep(0.05)
                if status == 201:
                    self.acknowledged.append(r.json()["id"])
                self.answers.append((sent, time.monotonic(), status, detail))

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(30)


def stored_ids(db_url: str, ids: list[int]) -> set[int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(sa.text("SELECT id FROM contacts"))} & set(ids)
    finally:
        engine.dispose()


def kill9(model_dir: Path, db_url: str, work: Path, rounds: int, seconds: float) -> dict[str, Any]:
    server = Server(model_dir, db_url, work)
    acknowledged: list[int] = []
    try:
        for _ in range(rounds):
            server.start()
            with Writers(server.url) as writers:
                time.sleep(seconds)
                server.kill()  # mid-write: the writers are still posting
            acknowledged += writers.acknowledged
        server.start()  # the restart: migrations and start-up on whatever the kill left
        lost = len(acknowledged) - len(stored_ids(db_url, acknowledged))
    finally:
        server.stop()
    return {"rounds": rounds, "acknowledged": len(acknowledged), "lost": lost}


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb + pg_ctl as the `postgres` user) on a free port."""

    def __init__(self, work: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = bins[-1].parent
        self.dir = work / "pg"
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()

    def _as_postgres(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:  # initdb refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_postgres(
            "pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")


def database_restart(model_dir: Path, pg: PrivatePostgres, work: Path, seconds: float) -> dict[str, Any]:
    server = Server(model_dir, pg.url, work)
    server.start()
    try:
        with Writers(server.url) as writers:
            time.sleep(seconds)
            down = time.monotonic()
            pg.stop()
            time.sleep(3)
            pg.start()
            up = time.monotonic()
            time.sleep(seconds)
        unavailable = [a for a in writers.answers if a[2] == 503 and "unavailable" in a[3]]
        false = [a for a in unavailable if a[1] < down or a[0] > up + 1.0]  # the pool reconnects within 1 s
        after = [a for a in writers.answers if a[0] > up]
        recovered = next((a[1] - up for a in after if a[2] == 201), None)
        lost = len(writers.acknowledged) - len(stored_ids(pg.url, writers.acknowledged))
        other = sorted({a[2] for a in writers.answers} - {201, 503})
    finally:
        server.stop()
    return {
        "requests": len(writers.answers),
        "acknowledged": len(writers.acknowledged),
        "lost": lost,
        "unavailable_503": len(unavailable),
        "false_unavailable": len(false),
        "seconds_down": round(up - down, 2),
        "seconds_to_first_write_after_restart": round(recovered, 2) if recovered is not None else None,
        "other_statuses": other,
    }


def reload_under_load(model_dir: Path, work: Path, reloads: int) -> dict[str, Any]:
    server = Server(model_dir, f"sqlite:///{work / 'reload.db'}", work)
    server.start()
    ok = 0
    try:
        with Writers(server.url, n=3, path="/v1/suggest") as load, httpx.Client(timeout=60) as http:
            for _ in range(reloads):
                r = http.post(f"{server.url}/v1/admin/reload", headers={"X-API-Key": KEYS["analyst"]})
                ok += r.status_code == 200
                time.sleep(1)
        failed = [a for a in load.answers if a[2] != 200]
    finally:
        server.stop()
    return {"reloads": reloads, "reloads_ok": ok, "requests": len(load.answers), "failed": len(failed)}


def refused_reloads(model_dir: Path, work: Path, n: int) -> dict[str, Any]:
    live = work / "refused-live"
    shutil.copytree(model_dir, live)
    server = Server(live, f"sqlite:///{work / 'refused.db'}", work)
    server.start()
    try:
        (live / "heads.joblib").write_bytes(b"not a pickle")  # refused after the encoder is loaded
        with httpx.Client(timeout=60, headers={"X-API-Key": KEYS["analyst"]}) as http:
            statuses = [http.post(f"{server.url}/v1/admin/reload").status_code]  # the first: one-off costs
            before = server.rss()
            statuses += [http.post(f"{server.url}/v1/admin/reload").status_code for _ in range(n)]
            after = server.rss()
    finally:
        server.stop()
    return {
        "refusals": n,
        "all_refused_with_422": set(statuses) == {422},
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_growth_mb": round(after - before, 1),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verbatim(chars: int, seed: int) -> str:
    """A long verbatim of ordinary words (a pasted e-mail thread), about `chars` characters."""
    words = WORDS.split()
    words = words[seed % len(words) :] + words
    text = ""
    while len(text) < chars:
        text += " ".join(words) + f" order {seed}-{len(text)}. "
    return text[:chars]


WORDS = (
    "my parcel was due on tuesday and it still has not arrived the tracking says it is in transit "
    "I called twice and nobody could tell me where it is please refund me or send it again"
)


def several(chars: int, seed: int) -> str:
    """`chars` characters of the sample's verbatims about several descriptions, one after another: the
    costliest text, since each is scored again clause by clause for the sentiment of each description."""
    import csv

    rows = [
        r["text"] for r in csv.DictReader((ROOT / "data" / "train.csv").open()) if ";" in r["description"]
    ]
    text, k = "", seed
    while len(text) < chars:
        text, k = text + rows[k % len(rows)] + " ", k + 7
    return text[:chars]


def punctuation(chars: int, seed: int) -> str:
    """A token per character for the encoder's whole window, then verbatims about several descriptions."""
    return ("!" * 300 + " " + several(chars, seed))[:chars]


SHAPES = {
    "short": (verbatim, 40),
    "ordinary": (verbatim, 390),
    "several": (several, 390),
    "punctuation": (punctuation, 390),
    "several_long": (several, 1_200),
    "several_max": (several, 10_000),
    "verbatim_max": (verbatim, 10_000),
}


def settle(pid: int, quiet_s: float = 0.05, most_s: float = 120.0) -> None:
    """Wait until a process uses under `quiet_s` of CPU a second (the service warms up the full redaction
    pass in the background after it starts)."""
    deadline = time.monotonic() + most_s
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = cpu_seconds(pid)
        if now - last < quiet_s:
            return
        last = now


def largest_batch(model: Any, settings: Any, make: Any, chars: int) -> list[str]:
    """The most texts of this shape one request may carry (texts, characters and cost within the limits)."""
    from service.limits import request_cost

    texts: list[str] = []
    for i in range(256):
        more = [*texts, make(chars, i)]
        too_many = sum(map(len, more)) > settings.max_request_chars
        if too_many or request_cost(model, more, settings) > settings.max_request_tokens:
            break
        texts = more
    return texts


def cost_bound(model_dir: Path, work: Path, burst_shape: str = "several_max") -> dict[str, Any]:
    """The largest batch allowed of each shape costs how much server CPU; one text more is a 413; a batch over
    the character limit is a 413; four of the costliest at once, then RSS after the burst and 5 s later."""
    from contactlens.model import ContactModel
    from contactlens.settings import Settings

    settings, model = Settings(), ContactModel.load(model_dir)
    server = Server(model_dir, f"sqlite:///{work / 'cost.db'}", work)
    server.start()
    out: dict[str, Any] = {
        "max_request_chars": settings.max_request_chars,
        "max_request_tokens": settings.max_request_tokens,
        "loadavg_before": os.getloadavg(),
    }
    headers = {"X-API-Key": KEYS["logger"]}
    url = f"{server.url}/v1/suggest/batch"
    try:
        with httpx.Client(timeout=300, headers=headers) as http:
            assert server.proc is not None
            pid = server.proc.pid
            settle(pid)
            out["rss_idle_mb"] = server.rss()
            batches = {}
            for name, (make, chars) in SHAPES.items():
                texts = batches[name] = largest_batch(model, settings, make, chars)
                cpu, started = cpu_seconds(pid), time.perf_counter()
                r = http.post(url, json={"texts": texts})
                out[name] = {
                    "texts": len(texts),
                    "chars": chars,
                    "status": r.status_code,
                    "server_cpu_s": round(cpu_seconds(pid) - cpu, 2),
                    "wall_s": round(time.perf_counter() - started, 2),
                }
                if len(texts) < 256:
                    more = http.post(url, json={"texts": [*texts, make(chars, len(texts))]})
                    out[name]["one_more"] = more.status_code
                print(name, out[name], flush=True)
            out["rss_after_batches_mb"] = server.rss()
            r = http.post(url, json={"texts": [verbatim(10_000, i) for i in range(256)]})
            out["10000_chars_x_256"] = {"status": r.status_code}
            threads = [
                threading.Thread(
                    target=http.post, args=(url,), kwargs={"json": {"texts": batches[burst_shape]}}
                )
                for _ in range(4)
            ]
            cpu = cpu_seconds(pid)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out["burst"] = {
                "shape": burst_shape,
                "batches": 4,
                "server_cpu_s": round(cpu_seconds(pid) - cpu, 2),
            }
            out["rss_after_burst_mb"] = server.rss()
            time.sleep(5)
            out["rss_after_burst_5s_mb"] = server.rss()
            out["rss_high_water_mb"] = rss_mb(pid, "VmHWM")
    finally:
        server.stop()
    out["loadavg_after"] = os.getloadavg()
    return out


PARTS = ("kill9_sqlite", "postgresql", "cost_bound", "reload_under_load", "refused_reloads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A model directory (default: train the sample model).")
    parser.add_argument("--rounds", type=int, default=3, help="kill -9 rounds per database.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Writing time per round (at most 30).")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"Comma-separated, of {', '.join(PARTS)}; results are merged.",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    seconds = min(args.seconds, 30.0)
    out: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    out["loadavg_start"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="contactlens-faults-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the private PostgreSQL runs as `postgres` and must reach its folder
        if args.model is None:
            from benchmarks.fuzz import train_sample

            args.model = train_sample(work)
        started = time.perf_counter()
        if "kill9_sqlite" in parts:
            out["kill9_sqlite"] = kill9(
                args.model, f"sqlite:///{work / 'kill9.db'}", work, args.rounds, seconds
            )
            print("kill -9, SQLite:", out["kill9_sqlite"], flush=True)
        if "postgresql" in parts:
            out.pop("postgresql", None)  # an earlier run's note that it was skipped
            out |= postgresql(args.model, work, args.rounds, seconds)
        steps = {
            "cost_bound": lambda: cost_bound(args.model, work),
            "reload_under_load": lambda: reload_under_load(args.model, work, reloads=5),
            "refused_reloads": lambda: refused_reloads(args.model, work, n=25),
        }
        for name, step in steps.items():
            if name in parts:
                out[name] = step()
                print(f"{name}:", out[name], flush=True)
        out["seconds"] = round(time.perf_counter() - started, 1)
    out["loadavg_end"] = os.getloadavg()
    out["targets"] = {
        "lost": 0,
        "false_unavailable": 0,
        "failed_during_reload": 0,
        "rss_growth_mb": 30,
        "max_batch_server_cpu_s": 5,
        "rss_after_burst_over_idle_mb": 50,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


def postgresql(model: Path, work: Path, rounds: int, seconds: float) -> dict[str, Any]:
    """kill -9 and a database restart on a private PostgreSQL, or why it could not be started."""
    out: dict[str, Any] = {}
    try:
        pg = PrivatePostgres(work)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        out["postgresql"] = f"skipped: no private PostgreSQL ({exc} {detail.decode(errors='replace')[-300:]})"
        print(out["postgresql"], flush=True)
        return out
    try:
        out["kill9_postgresql"] = kill9(model, pg.url, work, rounds, seconds)
        print("kill -9, PostgreSQL:", out["kill9_postgresql"], flush=True)
        out["database_restart"] = database_restart(model, pg, work, seconds)
        print("database restart:", out["database_restart"], flush=True)
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            pg.stop()
    return out


if __name__ == "__main__":
    main()

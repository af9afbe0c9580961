"""Benchmark: CWMP sessions per second the HMS completes, against a bare aiohttp baseline.

One session is what a CPE with nothing to report does on a periodic Inform:
Inform -> InformResponse (+ session cookie) -> empty POST -> 204. Scripted CPEs (aiohttp +
the lab.cwmp codec, distinct device ids, each its own cookie jar) run that loop back to
back with 1, 10 and 100 at a time, for a fixed time per run, against the real HMS node
(`python -m lab.nodes.hms`: its SQLite store, event file and logging as in a lab) and,
run for run, against a baseline server: a bare aiohttp handler answering with canned bytes
(the same InformResponse and cookie, then 204). Each server runs in its own process and
the CPEs in this one, so on 2 cores neither side starves the other of the event loop.

    python -m lab.bench.cwmp [-d SECONDS] [-r RUNS] [-c 1,10,100]

Prints one row per concurrency: sessions/s for the HMS and the baseline, their ratio,
the median session time and the server process's CPU time per session (from /proc: the
figure that stays put when other work shares the machine). Medians over RUNS runs, the two
servers alternating so load from elsewhere hits both alike; failed sessions are counted,
never hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from lab.cwmp import envelope, rpc

ROOT = Path(__file__).resolve().parents[2]
OUI = "00B0C0"
COOKIE = "hms_session"


# ---- the CPE side ----------------------------------------------------------------------------


@dataclass
class Tally:
    sessions: int = 0
    failures: int = 0
    times: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the run
    server_cpu: float | None = None  # CPU seconds the server process used meanwhile

    def fail(self, why: str) -> None:
        self.failures += 1
        self.errors[why] = self.errors.get(why, 0) + 1


def inform_bytes(serial: str, n: int) -> bytes:
    inform = rpc.Inform(
        device_id=rpc.DeviceId("hnblab-bench", OUI, "HNB", serial),
        events=[rpc.EventStruct("2 PERIODIC")], max_envelopes=1,
        current_time="2026-12-03T12:00:00Z", retry_count=0,
        parameters=[rpc.ParameterValue("Device.DeviceInfo.SoftwareVersion", "0.1.0"),
                    rpc.ParameterValue("Device.ManagementServer.ParameterKey", "")])
    return envelope.encode(inform, ns=envelope.NS_1_1, id=str(n))


async def one_session(http: aiohttp.ClientSession, url: str, serial: str, n: int,
                      tally: Tally) -> bool:
    http.cookie_jar.clear()  # a session's cookie lives for that session only
    headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": '""'}
    async with http.post(url, data=inform_bytes(serial, n), headers=headers) as r:
        body = await r.read()
        if r.status != 200:
            tally.fail(f"Inform: HTTP {r.status}")
            return False
    env = envelope.decode(body, fault_base=9000)
    if not isinstance(env.body, rpc.InformResponse):
        tally.fail(f"Inform answered with {envelope.msg_name(env.body)}")
        return False
    async with http.post(url, data=b"") as r:
        await r.read()
        if r.status != 204:
            tally.fail(f"empty POST: HTTP {r.status}")
            return False
    return True


async def cpe(url: str, serial: str, stop_at: float, tally: Tally) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # the ACS is an IP literal
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            t0 = time.monotonic()
            try:
                ok = await one_session(http, url, serial, n, tally)
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                tally.fail(type(exc).__name__)
                ok = False
            if ok:
                tally.sessions += 1
                tally.times.append(time.monotonic() - t0)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    url: str
    pid: int


async def load(server: Server, concurrency: int, seconds: float, tag: str) -> Tally:
    """`concurrency` CPEs for `seconds`; a warm-up session each first (new devices)."""
    url = server.url
    serials = [f"{tag}{concurrency:03d}N{i:04d}" for i in range(concurrency)]
    warm = Tally()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for s in serials:  # one session per device so it is known, not "new"
            await one_session(http, url, s, 0, warm)
    tally = Tally()
    cpu0 = cpu_seconds(server.pid)
    t0 = time.monotonic()
    stop_at = t0 + seconds
    await asyncio.gather(*(cpe(url, s, stop_at, tally) for s in serials))
    tally.seconds = time.monotonic() - t0
    cpu1 = cpu_seconds(server.pid)
    if cpu0 is not None and cpu1 is not None:
        tally.server_cpu = cpu1 - cpu0
    return tally


# ---- the servers -----------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@contextlib.contextmanager
def hms_process(work: Path) -> Iterator[Server]:
    """The real HMS node as the lab runs it."""
    events = work / "events" / "hms.jsonl"
    cfg = {"node": "hms", "role": "hms", "run_dir": str(work), "events": str(events),
           "settings": {"role": "serving", "host": "127.0.0.1", "http_port": 0,
                        "api_port": None, "api_token": "bench",
                        "state_dir": str(work / "hms-state"),
                        "files": {"http_port": None, "ftp_port": None, "sftp_port": None}}}
    path = work / "hms.json"
    path.write_text(json.dumps(cfg))
    with (work / "hms.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lab.nodes.hms", "--config", str(path)],
                                cwd=ROOT, env=_env(), stdout=log, stderr=log)
        try:
            yield Server(_wait_ready(events, proc, work / "hms.log"), proc.pid)
        finally:
            _stop(proc)


def _wait_ready(events: Path, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"HMS exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if events.exists():
            for line in events.read_text().splitlines():
                ev = json.loads(line)
                if ev["kind"] == "node.ready":
                    return str(ev["fields"]["urls"]["cwmp"])
        time.sleep(0.05)
    raise RuntimeError(f"HMS not ready after 30 s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def baseline_process() -> Iterator[Server]:
    """This module's --serve-baseline in a child process."""
    proc = subprocess.Popen([sys.executable, "-m", "lab.bench.cwmp", "--serve-baseline"],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"baseline server did not start: {line!r}")
        yield Server(line, proc.pid)
    finally:
        _stop(proc)


async def serve_baseline() -> None:
    """The baseline ACS: canned bytes, no parsing, no state (what aiohttp alone costs)."""
    canned = envelope.encode(rpc.InformResponse(max_envelopes=1), ns=envelope.NS_1_1, id="1")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if body:
            resp = web.Response(body=canned, content_type="text/xml", charset="utf-8")
            resp.set_cookie(COOKIE, "0123456789abcdef0123456789abcdef", httponly=True, path="/")
            return resp
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"http://127.0.0.1:{port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


# ---- report ----------------------------------------------------------------------------------


@dataclass
class Row:
    rate: float  # sessions/s
    p50_ms: float | None  # median session time
    cpu_ms: float | None  # server CPU ms per session
    failures: int
    errors: dict[str, int]


def summarize(runs: list[Tally]) -> Row:
    """Medians over the runs (the failures and their reasons summed)."""
    rates = [t.sessions / t.seconds if t.seconds > 0 else 0.0 for t in runs]
    p50s = [statistics.median(t.times) * 1000 for t in runs if t.times]
    cpus = [t.server_cpu * 1000 / t.sessions for t in runs
            if t.server_cpu is not None and t.sessions]
    errors: dict[str, int] = {}
    for t in runs:
        for k, v in t.errors.items():
            errors[k] = errors.get(k, 0) + v
    return Row(statistics.median(rates), statistics.median(p50s) if p50s else None,
               statistics.median(cpus) if cpus else None, sum(t.failures for t in runs),
               errors)


def _f(x: float | None, width: int, digits: int = 1) -> str:
    return f"{x:>{width}.{digits}f}" if x is not None else f"{'-':>{width}}"


async def run(levels: list[int], seconds: float, repeat: int) -> None:
    print(f"machine: {os.cpu_count()} CPUs (nproc), Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    print(f"{seconds:g} s per run, {repeat} run(s) per level, HMS and baseline alternating; "
          "a session = Inform -> InformResponse -> empty POST -> 204")
    hms: dict[int, list[Tally]] = {c: [] for c in levels}
    base: dict[int, list[Tally]] = {c: [] for c in levels}
    with tempfile.TemporaryDirectory(prefix="hnblab-bench-cwmp-") as tmp, \
            hms_process(Path(tmp)) as hms_server, baseline_process() as base_server:
        # alternate the two servers so a busy neighbour on the machine hits both alike
        for _ in range(repeat):
            for c in levels:
                hms[c].append(await load(hms_server, c, seconds, "H"))
                base[c].append(await load(base_server, c, seconds, "B"))
    print()
    print(f"{'CPEs':>4} | {'HMS sess/s':>10} {'p50 ms':>7} {'CPU ms':>6} {'fail':>4} | "
          f"{'base sess/s':>11} {'p50 ms':>7} {'CPU ms':>6} {'fail':>4} | {'HMS/base':>8}")
    rows = {c: (summarize(hms[c]), summarize(base[c])) for c in levels}
    for c, (h, b) in rows.items():
        print(f"{c:>4} | {h.rate:>10.1f} {_f(h.p50_ms, 7)} {_f(h.cpu_ms, 6, 2)} "
              f"{h.failures:>4} | {b.rate:>11.1f} {_f(b.p50_ms, 7)} {_f(b.cpu_ms, 6, 2)} "
              f"{b.failures:>4} | {h.rate / b.rate if b.rate else 0:>8.2f}")
    for c, (h, b) in rows.items():
        for label, r in (("HMS", h), ("baseline", b)):
            if r.errors:
                print(f"{label} at {c} CPEs, failed sessions: {r.errors}")
    print(f"(medians over the runs; CPU ms = the server process's CPU time per session; "
          f"{sum(levels)} distinct devices in the HMS store)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--seconds", type=float, default=3.0, help="seconds per run")
    ap.add_argument("-c", "--concurrency", default="1,10,100",
                    help="comma-separated numbers of concurrent CPEs")
    ap.add_argument("-r", "--repeat", type=int, default=3,
                    help="runs per level (the median is reported)")
    ap.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_baseline:
        asyncio.run(serve_baseline())
        return
    try:
        levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--concurrency: expected numbers like 1,10,100, got {args.concurrency!r}")
    if not levels or min(levels) < 1 or args.seconds <= 0 or args.repeat < 1:
        ap.error("--concurrency needs numbers >= 1, --seconds a positive time and "
                 "--repeat at least 1")
    asyncio.run(run(levels, args.seconds, args.repeat))


if __name__ == "__main__":
    main()

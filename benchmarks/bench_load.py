"""Search and person-detail pages under 50 concurrent clients for 60 s, the app under gunicorn on loopback.

The server is gunicorn (sync workers, count from --workers; see docs/benchmarks.md for the sweep) bound to
127.0.0.1 only, on the benchmark SQLite database (JICHITAI_VAR_DIR=var/bench) with the 1,000,000-person
municipality of bench-search. Several clerk users sign in through the real login page first; their session cookies
are carried by wrk, which alternates search URLs (built from existing persons, every query kind of bench-search)
and /residents/<id>/ detail pages of random persons. Every page view writes its audit event, as in production.

Errors = socket errors (connect/read/write/timeout) + responses with status ≥ 400; redirects (a lost session
would send clients to the sign-in page) are counted too and must be zero. Target: p95 ≤ 100 ms and no errors.
The server is stopped at the end, also on failure or Ctrl-C. Usage: make bench-load  (or: bench_load.py
[--workers N] [--duration S] [--connections C] [--dataset big|medium] [--sweep]). Last line: one JSON object.
"""
import argparse
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_P95_MS = 100.0
DEFAULT_WORKERS = 3  # best p95 in the sweep 2/3/5 (docs/benchmarks.md); 2 cores, SQLite's single writer
N_USERS = 8
ANCHOR_PATH = "/_bench/minimal/"  # benchmarks/loadapp: a signed-in view without query, template or audit
WORK = C.BENCH_VAR / "load"
GUNICORN = C.ROOT / ".venv" / "bin" / "gunicorn"

LUA = r"""
local paths, cookies = {}, {}
for line in io.lines("__PATHS__") do paths[#paths + 1] = line end
for line in io.lines("__COOKIES__") do cookies[#cookies + 1] = line end
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  counter = id * 7919
  codes = {}
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1],
                    {["Cookie"] = cookies[(counter % #cookies) + 1], ["Accept-Language"] = "ja"})
end
__DELAY__
function response(status, headers, body)
  local k = tostring(status)
  codes[k] = (codes[k] or 0) + 1
end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "stdev_us": %.1f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "codes": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, latency.mean, latency.stdev,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn in its own process group; stop() ends the whole group (master and workers)."""

    def __init__(self, workers: int, port: int, tag: str):
        self.port = port
        self.access_log = WORK / f"access-{tag}.log"
        self.error_log = WORK / f"gunicorn-{tag}.log"
        self.access_log.unlink(missing_ok=True)
        # loadapp.settings = jichitai.settings + the anchor view /_bench/minimal/ (benchmarks/loadapp)
        env = {**os.environ, **C.bench_env("sqlite"), "DJANGO_SETTINGS_MODULE": "loadapp.settings",
               "PYTHONPATH": f"{C.ROOT / 'src'}{os.pathsep}{C.ROOT / 'benchmarks'}"}
        env.pop("DATABASE_URL", None)
        cmd = [str(GUNICORN), "jichitai.wsgi:application", "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--backlog", "256", "--timeout", "60", "--access-logfile", str(self.access_log),
               "--access-logformat", "%(U)s %(s)s %(D)s", "--error-logfile", str(self.error_log)]
        C.log(f"starting: {' '.join(cmd[1:])}")
        self.proc = subprocess.Popen(cmd, cwd=C.ROOT, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.error_log}")
            try:
                with urllib.request.urlopen(self.url("/login/"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        C.log(f"server stopped (exit code {self.proc.returncode})")


def sign_in(server: Server, username: str) -> str:
    """Sign in through the login page; return the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(server.url("/login/"), timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    # next = the anchor view: the dashboard (counts over the whole register) is not part of the measured pages
    data = urllib.parse.urlencode({"username": username, "password": C.PASSWORD, "csrfmiddlewaretoken": token,
                                   "next": ANCHOR_PATH}).encode()
    req = urllib.request.Request(server.url("/login/"), data=data, headers={"Referer": server.url("/login/")})
    opener.open(req, timeout=120).read()
    cookies = {c.name: c.value for c in jar}
    if "sessionid" not in cookies:
        raise RuntimeError(f"sign-in of {username} failed (no session cookie)")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def check_page(server: Server, path: str, cookie: str, must_contain: str):
    req = urllib.request.Request(server.url(path), headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=120) as r:
        body = r.read().decode()
        if r.status != 200 or r.geturl() != server.url(path) or must_contain not in body:
            raise RuntimeError(f"{path}: unexpected page (status {r.status}, url {r.geturl()})")


def lua_script(paths_file, cookies_file, think_ms: int) -> str:
    delay = ""
    if think_ms:  # each connection waits a random think time (±50 %) between its requests: a clerk reading the page
        delay = f"function delay() return math.random({think_ms // 2}, {think_ms * 3 // 2}) end"
    return (LUA.replace("__PATHS__", str(paths_file)).replace("__COOKIES__", str(cookies_file))
            .replace("__DELAY__", delay))


def ensure_wrk() -> str | None:
    """The path of `wrk`; installed from Debian (apt-get, as root) when missing. None when it cannot be had: the
    benchmark then uses its own Python load generator (benchmarks/_loadgen.py)."""
    import shutil

    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "wrk"]):
        C.log(f"wrk is missing: {' '.join(cmd)}")
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if cmd[1] == "install" and r.returncode == 0 and shutil.which("wrk"):
            return shutil.which("wrk")
    C.log("wrk could not be installed: using the Python load generator (benchmarks/_loadgen.py)")
    return None


def run_python_load(server: Server, paths_file: Path, cookies_file: Path, duration: int, connections: int,
                    think_ms: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "_loadgen.py"), server.url("/"), str(paths_file),
           str(cookies_file), str(connections), str(duration), str(think_ms), "5"]
    C.log(f"load: {' '.join(cmd[1:])}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    m = re.search(r"^LOADJSON (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"the load generator gave no result: {out.stdout} {out.stderr}")
    return json.loads(m.group(1))


def run_wrk(server: Server, lua: Path, duration: int, connections: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(lua),
           server.url("/")]
    C.log(f"load: {' '.join(cmd)}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if not line.startswith("WRKJSON"):
            C.log("  wrk| " + line)
    m = re.search(r"^WRKJSON (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk gave no result: {out.stdout} {out.stderr}")
    return json.loads(m.group(1))


def server_times(access_log: Path) -> dict:
    """Server-side time per page kind from gunicorn's access log (%(D)s: µs from request to response)."""
    kinds = {"search": [], "detail": []}
    if access_log.exists():
        for line in access_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2].isdigit():
                kind = "search" if parts[0] == "/residents/" else "detail" if parts[0].startswith("/residents/") \
                    else None
                if kind:
                    kinds[kind].append(int(parts[2]) / 1000)
    out = {}
    for k, v in kinds.items():
        v.sort()
        out[k] = {"n": len(v), "p50_ms": round(C.percentile(v, 50), 1) if v else None,
                  "p95_ms": round(C.percentile(v, 95), 1) if v else None,
                  "p99_ms": round(C.percentile(v, 99), 1) if v else None}
    return out


def one_run(workers, duration, connections, cookies_file, paths_file, sample, tag, think_ms=0, client="auto",
            anchor_duration=0):
    """One server; the measured load on the pages, then (anchor_duration > 0) the same load on the minimal view
    /_bench/minimal/ behind the same server, workers and middleware. Returns (pages result, anchor result)."""
    server = Server(workers, free_port(), tag)
    anchor = None
    try:
        server.wait_ready()
        cookies = [sign_in(server, u) for u in sample["users"]]
        cookies_file.write_text("\n".join(cookies) + "\n")
        C.log(f"signed in {len(cookies)} clerks through /login/")
        check_page(server, sample["search"], cookies[0], "検索結果")
        check_page(server, sample["detail"], cookies[-1], "履歴")
        check_page(server, ANCHOR_PATH, cookies[0], "ok ")
        wrk = ensure_wrk() if client in ("auto", "wrk") else None
        if client == "wrk" and not wrk:
            raise RuntimeError("--client wrk: wrk is not available")

        def load(pfile, secs, log_tag):
            if wrk:
                lua = WORK / f"load-{log_tag}.lua"
                lua.write_text(lua_script(pfile, cookies_file, think_ms))
                r = run_wrk(server, lua, secs, connections)
                r["client"] = "wrk -t2"
            else:
                r = run_python_load(server, pfile, cookies_file, secs, connections, think_ms)
            return r

        result = load(paths_file, duration, "pages")
        if anchor_duration:
            anchor_file = WORK / "paths-anchor.txt"
            anchor_file.write_text(ANCHOR_PATH + "\n")
            C.log(f"--- anchor: {ANCHOR_PATH} (minimal view, same server) for {anchor_duration} s")
            anchor = load(anchor_file, anchor_duration, "anchor")
    finally:
        server.stop()
    result["server_side"] = server_times(server.access_log)
    if anchor is not None:
        anchor["server_side"] = {}
    return result, anchor


def summarize(r, duration):
    codes = r["codes"]
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    redirects = sum(v for k, v in codes.items() if k.startswith("3"))
    errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] + r["status_errors"]
    return {
        "requests": r["requests"], "requests_per_s": round(r["requests"] / (r["duration_us"] / 1e6), 1),
        "p50_ms": round(r["p50_us"] / 1000, 1), "p90_ms": round(r["p90_us"] / 1000, 1),
        "p95_ms": round(r["p95_us"] / 1000, 1), "p99_ms": round(r["p99_us"] / 1000, 1),
        "max_ms": round(r["max_us"] / 1000, 1), "mean_ms": round(r["mean_us"] / 1000, 1),
        "status_codes": codes, "ok_2xx": ok, "redirects_3xx": redirects, "errors": errors,
        "socket_errors": {k: r[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")},
        "status_errors": r["status_errors"], "server_side_by_page": r["server_side"],
    }


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the finally blocks that stop the server


def main():
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--dataset", choices=["big", "medium"], default="big")
    ap.add_argument("--sweep", default="", help="comma-separated worker counts to try for 20 s each first")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator: wrk (installed from Debian when missing) or the Python one; auto: wrk "
                         "when it can be had")
    ap.add_argument("--anchor-duration", type=int, default=30,
                    help="seconds of the same load on the minimal view after the pages (the throughput anchor)")
    ap.add_argument("--think-ms", type=int, default=0,
                    help="mean think time per client between requests (default 0: back-to-back, the target's setting)")
    args = ap.parse_args()
    duration = min(args.duration, 60)  # bounded

    C.configure("sqlite")
    from django.db import connection

    from jichitai.tenancy.scope import tenant_scope

    import _queries as Q

    spec = C.BIG if args.dataset == "big" else C.MEDIUM
    muni = C.ensure_municipality(spec)
    dataset = C.ensure_population(muni, spec[5])
    users = [u.username for u in C.ensure_staff(muni, "bench-load", N_USERS)]
    rng = random.Random(args.seed)
    with tenant_scope(muni):
        searches = ["/residents/?" + urllib.parse.urlencode(crit) for _k, crit, _p in Q.make_queries(muni, 60, rng)]
        details = [f"/residents/{p['id']}/" for p in Q.random_persons(muni, len(searches), rng)]
    connection.close()  # the benchmark process holds no connection while the server runs
    WORK.mkdir(parents=True, exist_ok=True)
    paths_file, cookies_file = WORK / "paths.txt", WORK / "cookies.txt"
    paths = [p for pair in zip(searches, details) for p in pair]  # alternate search / detail
    paths_file.write_text("\n".join(paths) + "\n")
    C.log(f"{len(searches)} search URLs and {len(details)} detail URLs, alternating; {N_USERS} clerks")
    sample = {"users": users, "search": searches[0], "detail": details[0]}

    quiet = C.wait_quiet()
    sweep = {}
    workers = args.workers
    if args.sweep:
        for w in [int(x) for x in args.sweep.split(",")]:
            C.log(f"--- sweep: {w} workers, 20 s")
            s = summarize(one_run(w, 20, args.connections, cookies_file, paths_file, sample, f"sweep{w}",
                                  client=args.client)[0], 20)
            sweep[w] = {k: s[k] for k in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "errors")}
            C.log(f"    {w} workers: {sweep[w]}")
        workers = min(sweep, key=lambda w: (sweep[w]["errors"] > 0, sweep[w]["p95_ms"]))
        C.log(f"--- best worker count by p95: {workers}")

    C.log(f"--- measured run: {workers} workers, {args.connections} connections, {duration} s")
    pages, anchor = one_run(workers, duration, args.connections, cookies_file, paths_file, sample, "main",
                            args.think_ms, client=args.client, anchor_duration=args.anchor_duration)
    fig = summarize(pages, duration)
    fig["client"] = pages.get("client")
    anc = summarize(anchor, args.anchor_duration)
    anchor_fig = {k: anc[k] for k in ("requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "errors",
                                      "status_codes")}
    ratio = round(fig["requests_per_s"] / anc["requests_per_s"], 3) if anc["requests_per_s"] else None
    C.log(f"anchor {ANCHOR_PATH}: {anc['requests']} requests ({anc['requests_per_s']}/s), p95 {anc['p95_ms']} ms; "
          f"pages/anchor throughput ratio {ratio}")
    C.log(f"{fig['requests']} requests ({fig['requests_per_s']}/s): p50 {fig['p50_ms']} ms, p95 {fig['p95_ms']} ms, "
          f"p99 {fig['p99_ms']} ms; errors {fig['errors']}, redirects {fig['redirects_3xx']}; codes {fig['status_codes']}")
    C.log(f"server-side time per page: {fig['server_side_by_page']}")
    met_p95 = fig["p95_ms"] <= TARGET_P95_MS
    met_err = fig["errors"] == 0 and fig["redirects_3xx"] == 0
    C.emit({
        "name": "bench-load",
        "dataset": f"{spec[1]} ({spec[0]}) on SQLite (var/bench): {dataset['persons']:,} persons "
                   f"(jichitai.demo.bulk{', cached' if dataset['cached'] else ''})",
        "figures": {"server": f"gunicorn {workers} sync workers on 127.0.0.1", "workers": workers,
                    "connections": args.connections, "duration_s": duration, "clerks": N_USERS,
                    "think_ms": args.think_ms,
                    "mix": "50% search (/residents/?…), 50% person detail (/residents/<id>/)", **fig,
                    "sweep": sweep or None,
                    "anchor": {"path": ANCHOR_PATH, "what": "signed-in minimal view, same gunicorn workers and "
                               "middleware, same connections, right after the pages in the same server",
                               "duration_s": args.anchor_duration, **anchor_fig},
                    "throughput_ratio_pages_to_anchor": ratio},
        "targets": {"p95_ms": {"target": TARGET_P95_MS, "measured": fig["p95_ms"], "met": met_p95},
                    "errors": {"target": 0, "measured": fig["errors"] + fig["redirects_3xx"], "met": met_err}},
        "met": met_p95 and met_err,
        "machine": {**C.machine(), **quiet},
    })


if __name__ == "__main__":
    main()

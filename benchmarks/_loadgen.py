"""A small closed-loop HTTP load generator (asyncio, standard library only): bench-load's fallback when `wrk` is
neither installed nor installable, so the benchmark runs on a fresh machine.

C connections, each sends its next request as soon as the previous response has been read completely (back to
back, or after a think time), for D seconds. The paths and cookies are taken round-robin from two files, like
bench_load's wrk script. gunicorn's sync workers close the connection after every response, so every request opens
its own connection (as wrk then does too). Prints one line `LOADJSON {...}` with the same keys as the wrk script.

Usage: _loadgen.py URL PATHS_FILE COOKIES_FILE CONNECTIONS DURATION_S [THINK_MS] [TIMEOUT_S]
"""
import asyncio
import itertools
import json
import random
import sys
import time
from urllib.parse import urlsplit


async def _one(host, port, path, cookie, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
                      f"Accept-Language: ja\r\nConnection: close\r\n\r\n").encode("latin-1"))
        await writer.drain()
        body = await asyncio.wait_for(reader.read(-1), timeout)  # until the server closes
    finally:
        writer.close()
    if not body.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP response")
    return int(body[9:12]), len(body)


async def main(url, paths, cookies, connections, duration, think_ms, timeout):
    u = urlsplit(url)
    host, port = u.hostname, u.port or 80
    counter = itertools.count()
    lat, codes = [], {}
    err = {"connect_errors": 0, "read_errors": 0, "write_errors": 0, "timeouts": 0}
    nbytes = [0]
    start = time.perf_counter()
    end = start + duration

    async def client(cid):
        rng = random.Random(cid)
        while time.perf_counter() < end:
            i = next(counter)
            t = time.perf_counter()
            try:
                status, n = await _one(host, port, paths[i % len(paths)], cookies[i % len(cookies)], timeout)
            except asyncio.TimeoutError:
                err["timeouts"] += 1
                continue
            except ConnectionRefusedError:
                err["connect_errors"] += 1
                await asyncio.sleep(0.01)
                continue
            except (ConnectionError, OSError):
                err["read_errors"] += 1
                continue
            if time.perf_counter() <= end:  # responses completed after the deadline are not counted (as wrk)
                lat.append(time.perf_counter() - t)
                codes[str(status)] = codes.get(str(status), 0) + 1
                nbytes[0] += n
            if think_ms:
                await asyncio.sleep(rng.uniform(think_ms / 2, think_ms * 3 / 2) / 1000)

    await asyncio.gather(*(client(c) for c in range(connections)))
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(p):
        if not lat:
            return 0
        return int(lat[min(len(lat) - 1, int(round((len(lat) - 1) * p / 100)))] * 1e6)

    mean = sum(lat) / len(lat) if lat else 0
    sd = (sum((x - mean) ** 2 for x in lat) / len(lat)) ** 0.5 if lat else 0
    status_errors = sum(v for k, v in codes.items() if int(k) >= 400)
    return {"requests": len(lat), "duration_us": int(elapsed * 1e6), "bytes": nbytes[0], "p50_us": pct(50),
            "p90_us": pct(90), "p95_us": pct(95), "p99_us": pct(99), "max_us": int(lat[-1] * 1e6) if lat else 0,
            "mean_us": mean * 1e6, "stdev_us": sd * 1e6, **err, "status_errors": status_errors, "codes": codes,
            "client": "python asyncio (benchmarks/_loadgen.py)"}


if __name__ == "__main__":
    a = sys.argv[1:]
    paths = [x for x in open(a[1], encoding="utf-8").read().splitlines() if x]
    cookies = [x for x in open(a[2], encoding="utf-8").read().splitlines() if x]
    res = asyncio.run(main(a[0], paths, cookies, int(a[3]), float(a[4]), int(a[5]) if len(a) > 5 else 0,
                           float(a[6]) if len(a) > 6 else 5.0))
    print("LOADJSON " + json.dumps(res), flush=True)

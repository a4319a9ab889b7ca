"""cProfile of bench-load's pages in one process (Django's test client, no server): what a search or detail page
costs and where. Usage: profile_pages.py [--n 300] [--dataset big|medium] [--out FILE]. Prints the page mean
times and the top functions by total and cumulative time."""
import argparse
import cProfile
import pstats
import random
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--dataset", choices=["big", "medium"], default="big")
    ap.add_argument("--out", default=str(C.BENCH_VAR / "pages.prof"))
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    C.configure("sqlite")
    from django.test import Client

    from jichitai.tenancy.scope import tenant_scope

    import _queries as Q

    spec = C.BIG if args.dataset == "big" else C.MEDIUM
    muni = C.ensure_municipality(spec)
    user = C.ensure_staff(muni, "bench-load", 1)[0]
    rng = random.Random(3)
    with tenant_scope(muni):
        searches = ["/residents/?" + urllib.parse.urlencode(c) for _k, c, _p in Q.make_queries(muni, 30, rng)]
        details = [f"/residents/{p['id']}/" for p in Q.random_persons(muni, len(searches), rng)]
    from jichitai.tenancy import scope

    scope._cross.set(None)  # requests run as in the server: no cross-tenant context
    client = Client()
    r = client.post("/login/", {"username": user.username, "password": C.PASSWORD, "next": "/"})
    assert r.status_code in (200, 302), r.status_code
    paths = [p for pair in zip(searches, details) for p in pair]
    for p in paths[:40]:  # warm-up
        assert client.get(p).status_code == 200, p
    times = {"search": [], "detail": []}
    prof = None if args.no_profile else cProfile.Profile()
    t0 = time.perf_counter()
    for i in range(args.n):
        p = paths[i % len(paths)]
        t = time.perf_counter()
        if prof:
            prof.enable()
        r = client.get(p)
        if prof:
            prof.disable()
        times["search" if "?" in p else "detail"].append(time.perf_counter() - t)
        assert r.status_code == 200, (p, r.status_code)
    total = time.perf_counter() - t0
    for k, v in times.items():
        v.sort()
        C.log(f"{k}: n {len(v)} mean {sum(v) / len(v) * 1000:.2f} ms p50 {C.percentile(v, 50) * 1000:.2f} ms "
              f"p95 {C.percentile(v, 95) * 1000:.2f} ms")
    C.log(f"{args.n} pages in {total:.2f} s = {args.n / total:.0f}/s (one process{', profiled' if prof else ''})")
    if prof:
        prof.dump_stats(args.out)
        st = pstats.Stats(args.out)
        st.sort_stats("tottime").print_stats(35)
        st.sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    main()

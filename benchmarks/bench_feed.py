"""Change feed at scale: the cost of a feed read's sequencing step (api.feed.sequence_new_rows) for a municipality
with about 1,000,000 history rows (the cached 福岡市 40130 of bench-export / bench-search), in a database that holds
other municipalities too.

Figures: the first call after the benchmark starts (positions any rows not yet sequenced), the steady state (nothing
new: 20 calls), and a call right after one new history row (10 times). Issue #4 gives no target for this; the
target here is our own: a steady-state call ≤ 50 ms, so that polling subscribers do not scan the history.
Usage: bench_feed.py [--engine sqlite|postgresql]. Last line: one JSON object.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_STEADY_MS = 50.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()
    C.configure(args.engine)
    from django.utils import timezone

    from jichitai.api import feed
    from jichitai.residents.models import PersonHistory
    from jichitai.tenancy.scope import tenant_scope

    m = C.ensure_municipality(C.BIG)
    C.ensure_population(m, C.BIG[5])
    quiet = C.wait_quiet()
    with tenant_scope(m):
        n_hist = PersonHistory.objects.count()
        t = time.perf_counter()
        while feed.sequence_new_rows(batch=100_000):
            pass
        first = time.perf_counter() - t
        steady = []
        for _ in range(20):
            t = time.perf_counter()
            feed.sequence_new_rows()
            steady.append(time.perf_counter() - t)
        h = PersonHistory.objects.order_by("-id").first()
        top_no = PersonHistory.objects.filter(person_id=h.person_id).order_by("-history_no").first().history_no
        after_new = []
        for i in range(10):
            PersonHistory(person_id=h.person_id, history_no=top_no + 1 + i, change_kind=h.change_kind,
                          change_date=h.change_date, processed_at=timezone.now(), operator="bench-feed",
                          snapshot=h.snapshot).save(force_insert=True)
            t = time.perf_counter()
            feed.sequence_new_rows()
            after_new.append(time.perf_counter() - t)
    steady.sort()
    after_new.sort()
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    figures = {"history_rows": n_hist, "first_call_s": round(first, 2),
               "steady_p50_ms": ms(C.percentile(steady, 50)), "steady_max_ms": ms(steady[-1]),
               "after_new_row_p50_ms": ms(C.percentile(after_new, 50)), "after_new_row_max_ms": ms(after_new[-1]),
               "engine": args.engine, "machine": C.machine(), **quiet}
    C.log(f"{n_hist:,} history rows: first call {first:.2f} s, steady p50 {figures['steady_p50_ms']} ms, "
          f"after a new row p50 {figures['after_new_row_p50_ms']} ms")
    C.emit({"name": "feed", "dataset": f"{C.BIG[1]} ({C.BIG[0]}), {n_hist:,} history rows; engine {args.engine}",
            "figures": figures, "targets": {"steady_p50_ms": TARGET_STEADY_MS},
            "met": figures["steady_p50_ms"] <= TARGET_STEADY_MS})


if __name__ == "__main__":
    main()

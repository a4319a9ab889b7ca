"""cProfile of the legacy import's per-row work (scan, then decode / validate / map / keys of the first chunks, in
one process, nothing written): where a row's CPU goes. Uses bench_import's cached vendor C file (generated when
missing). CPU seconds (time.process_time) are reported beside wall time: on the shared machine the wall time mostly
measures the other processes. The scan runs with the cyclic collector paused, as in the importer.
It empties bench_import's target municipality (43100) in the SQLite benchmark database first: never run it while
bench_import runs on SQLite (it deletes that run's rows and locks the database).
Usage: profile_import.py [--persons 50000] [--chunks 2] [--chunk-size 10000] [--no-profile]."""
import argparse
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_import as B  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--no-profile", action="store_true", help="time only (no cProfile overhead)")
    args = ap.parse_args()
    path = B.ensure_file(args.persons, "c")
    C.configure("sqlite")
    from jichitai.migration import rows as R
    from jichitai.migration.importer import Importer, scan
    from jichitai.migration.layout import load_layout
    from jichitai.tenancy.scope import tenant_scope

    m = C.ensure_municipality(B.SPEC)
    B.reset(m)  # (a bench_import run leaves its persons: every row would be "already migrated", a cheap path)
    layout = load_layout(C.ROOT / "examples" / "vendor_c.toml")
    data = path.read_bytes()
    prof = cProfile.Profile()
    on = (lambda: None) if args.no_profile else prof.enable
    off = (lambda: None) if args.no_profile else prof.disable
    with tenant_scope(m):
        imp = Importer(m, layout, "himawari", data, chunk_size=args.chunk_size)
        ctx = imp._ctx()
        t, c = time.perf_counter(), time.process_time()
        gc.disable()
        on()
        chunks, n, _w = scan(data, layout, args.chunk_size, {})
        off()
        gc.enable()
        t_scan, c_scan = time.perf_counter() - t, time.process_time() - c
        rows = persons = 0
        t, c = time.perf_counter(), time.process_time()
        on()
        for ch in chunks[:args.chunks]:
            res = R.process_chunk(ctx, ch)
            rows += sum(len(u[1]) for u in ch)
            persons += sum(len(r["persons"]) for r in res)
        off()
        t_proc, c_proc = time.perf_counter() - t, time.process_time() - c
    how = "timed only" if args.no_profile else "profiled"
    C.log(f"scan {n:,} records: {t_scan:.2f} s wall, {c_scan:.2f} s CPU ({c_scan / n * 1e6:.1f} µs CPU per record); "
          f"process {rows:,} records: {t_proc:.2f} s wall, {c_proc:.2f} s CPU ({c_proc / rows * 1e6:.0f} µs CPU per "
          f"record, {how}; {persons:,} persons ready to insert); load {C.os.getloadavg()[0]:.1f}")
    if args.no_profile:
        return
    out = C.BENCH_VAR / "import.prof"
    prof.dump_stats(out)
    st = pstats.Stats(str(out))
    st.sort_stats("tottime").print_stats(30)
    st.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()

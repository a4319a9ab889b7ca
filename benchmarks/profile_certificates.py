"""cProfile of one-page certificate issues in one process (after bench_certificates' set-up and a warm-up):
where a certificate's time goes. Usage: profile_certificates.py [--n 40] [--engine sqlite|postgresql]."""
import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_certificates as B  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    m, clerks, singles, _household = B.setup(args.engine)
    B.timed(m, clerks[0], [B.one_page_request(pk) for pk in singles[:5]])  # warm-up: fonts
    reqs = [B.one_page_request(singles[i % len(singles)]) for i in range(args.n)]
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    B.timed(m, clerks[0], reqs)
    prof.disable()
    C.log(f"{args.n} one-page certificates in {time.perf_counter() - t:.2f} s (profiled)")
    out = C.BENCH_VAR / "certificates.prof"
    prof.dump_stats(out)
    st = pstats.Stats(str(out))
    st.sort_stats("tottime").print_stats(30)
    st.sort_stats("cumulative").print_stats(70)


if __name__ == "__main__":
    main()

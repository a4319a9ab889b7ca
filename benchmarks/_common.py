"""Shared set-up for the benchmarks: a separate database per engine, migrations, the benchmark municipalities,
staff users and the (cached) synthetic datasets.

Benchmark data never touch the real databases: SQLite lives under var/bench/ (JICHITAI_VAR_DIR) and PostgreSQL
uses its own database `jichitai_bench`. Import this module and call `configure(engine)` before anything that
imports Django models.
"""
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# the benchmark's own PostgreSQL database (JICHITAI_BENCH_PG_DB to use another name, e.g. one per engineer)
PG_DB = os.environ.get("JICHITAI_BENCH_PG_DB", "jichitai_bench")
PG_URL = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"
PASSWORD = "bench-password-2024"

# The datasets (municipality code, name, kana, prefecture code, prefecture name, persons).
BIG = ("40130", "福岡市", "フクオカシ", "40", "福岡県", 1_000_000)      # search: 1,000,000 residents
MEDIUM = ("45207", "串間市", "クシマシ", "45", "宮崎県", 20_000)        # changes: a ~20k town

sys.path.insert(0, str(ROOT / "src"))


def log(*args):
    print(*args, flush=True)


def pg_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


def ensure_pg_database():
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True,
                         connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{PG_DB}"')
            log(f"created PostgreSQL database {PG_DB}")


def bench_env(engine: str) -> dict:
    """Environment variables that point the app at the benchmark database of `engine`."""
    env = {"JICHITAI_VAR_DIR": str(BENCH_VAR), "DJANGO_SETTINGS_MODULE": "jichitai.settings"}
    if engine == "postgresql":
        env["DATABASE_URL"] = PG_URL
    return env


def configure(engine: str = "sqlite", migrate: bool = True):
    """Point Django at the benchmark database of `engine`, set it up and migrate it (migrate=False: a worker
    process of a benchmark whose main process migrated already — two concurrent migrations race on PostgreSQL's
    GRANTs: "tuple concurrently updated")."""
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    if engine == "postgresql":
        ensure_pg_database()
    os.environ.update(bench_env(engine))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if migrate:
        t = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        log(f"[{engine}] database {connection.settings_dict['NAME']} migrated ({time.perf_counter() - t:.1f} s)")
    # benchmarks set up and check data across municipalities: the explicit cross-tenant context for the whole run
    # (the measured requests and actions still run in their own municipality's scope, row-level security on)
    from jichitai.tenancy.scope import cross_tenant

    # (kept referenced: a context manager left to the garbage collector closes its generator, which leaves the
    # context at once — then PostgreSQL's row-level security hid every row from the set-up code)
    global _CROSS_TENANT
    _CROSS_TENANT = cross_tenant("benchmarks: setting up and checking data across municipalities")
    _CROSS_TENANT.__enter__()
    import atexit

    atexit.register(_CROSS_TENANT.__exit__, None, None, None)  # left before interpreter teardown


_CROSS_TENANT = None


def analyze():
    """ANALYZE, as the schema owner (the runtime role may not analyze tables it does not own)."""
    from django.db import connection

    from jichitai.guard.db import owner_session

    with owner_session("benchmarks: ANALYZE"), connection.cursor() as c:
        c.execute("ANALYZE")


def ensure_municipality(spec):
    from jichitai.tenancy.models import Municipality, Prefecture

    code, name, kana, pcode, pname, _n = spec
    pref, _ = Prefecture.objects.get_or_create(code=pcode, defaults={"name": pname})
    muni, _ = Municipality.objects.get_or_create(code=code, defaults={"name": name, "name_kana": kana,
                                                                      "prefecture": pref})
    return muni


def ensure_staff(municipality, prefix: str, count: int, role="clerk"):
    """`count` staff users `<prefix>01`… of `municipality` with the benchmark password."""
    from django.contrib.auth.hashers import make_password

    from jichitai.tenancy.models import StaffUser

    users = []
    hashed = None
    for i in range(1, count + 1):
        username = f"{prefix}{i:02d}"
        user = StaffUser.objects.filter(username=username).first()
        if user is None:
            hashed = hashed or make_password(PASSWORD)
            user = StaffUser.objects.create(username=username, password=hashed, role=role,
                                            municipality=municipality, display_name=f"ベンチ職員{i}")
        elif user.locked_until or user.failed_logins:
            user.locked_until, user.failed_logins = None, 0
            user.save(update_fields=["locked_until", "failed_logins"])
        users.append(user)
    return users


def person_count(municipality) -> int:
    from jichitai.residents.models import Person

    return Person.all_tenants.filter(municipality=municipality).count()


def ensure_population(municipality, n: int, *, seed: int = 20240601) -> dict:
    """Make sure `municipality` has `n` persons: generated once with jichitai.demo.bulk.generate_municipality, then
    cached in the benchmark database (a rerun finds them and skips generation; an interrupted run is topped up)."""
    from django.db import connection

    have = person_count(municipality)
    if have >= n:
        log(f"dataset: {municipality.name} already has {have:,} persons — generation skipped (cached in the "
            f"benchmark database)")
        return {"persons": have, "cached": True}
    from jichitai.demo.bulk import generate_municipality

    log(f"dataset: generating {n - have:,} persons for {municipality.name} ({have:,} present) with "
        f"jichitai.demo.bulk.generate_municipality …")
    t = time.perf_counter()
    last = [0.0]

    def progress(done, total):
        if time.perf_counter() - last[0] > 10 or done == total:
            last[0] = time.perf_counter()
            log(f"  … {have + done:,}/{n:,} persons ({done / (time.perf_counter() - t):,.0f}/s)")

    stats = generate_municipality(municipality, n - have, seed=seed, progress=progress)
    if connection.vendor == "postgresql":
        # what autovacuum's auto-analyze does shortly after a bulk load; done now so the plans are deterministic
        analyze()
    secs = time.perf_counter() - t
    have = person_count(municipality)
    log(f"dataset: {have:,} persons, {stats.get('households', 0):,} households, {stats.get('history', 0):,} "
        f"history rows in {secs:.0f} s")
    return {"persons": have, "cached": False, "generation_seconds": round(secs, 1)}


class FakeRequest:
    """What queries.search_persons / view_person read from a request: the user, the municipality, the terminal."""

    def __init__(self, user, municipality, terminal="bench"):
        self.user = user
        self.municipality = municipality
        self.META = {"REMOTE_ADDR": "127.0.0.1"}
        self.headers = {"X-Terminal-Id": terminal}


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def cpu_busy(seconds: float = 2.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat), to tell whether other work disturbs the run."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
        return round(1 - (i1 - i0) / max(1, t1 - t0), 2)
    except OSError:
        return -1.0


def wait_quiet(max_wait: int = 300, threshold: float = 0.2) -> dict:
    """Wait (up to max_wait s, at most JICHITAI_BENCH_MAX_WAIT s when set) until other processes leave the CPUs
    mostly idle; report what was seen. Absolute figures on a shared 2-core machine are only meaningful when nothing
    else runs; the ratios to each benchmark's anchor (measured in the same run) are what stays comparable."""
    if os.environ.get("JICHITAI_BENCH_MAX_WAIT"):
        max_wait = min(max_wait, int(os.environ["JICHITAI_BENCH_MAX_WAIT"]))
    start = time.time()
    busy = cpu_busy()
    while busy > threshold and time.time() - start < max_wait:
        log(f"machine busy ({busy:.0%} CPU used by other processes) — waiting for it to be quiet …")
        time.sleep(8)
        busy = cpu_busy()
    waited = round(time.time() - start)
    if busy > threshold:
        log(f"*** WARNING: the machine is still busy ({busy:.0%} CPU) after {waited} s: figures are disturbed ***")
    return {"cpu_busy_before": busy, "waited_s": waited, "quiet": busy <= threshold,
            "loadavg_before": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None}


def machine() -> dict:
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    import sqlite3

    return {"loadavg": sh("cut -d' ' -f1-3 /proc/loadavg"), "nproc": sh("nproc"), "cpu": sh("lscpu | grep 'Model name' | sed 's/.*: *//'"),
            "mem_gb": sh("free -g | awk '/Mem:/ {print $2}'"), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}


def emit(result: dict):
    """The last line of every benchmark: one JSON object."""
    print(json.dumps(result, ensure_ascii=False), flush=True)

"""The failover drill: a PostgreSQL primary and a synchronous standby managed by Patroni with etcd (Debian packages),
all on loopback in a temporary directory; write load through the app's own actions; the primary killed with
SIGKILL; RTO and RPO measured; everything stopped afterwards, also when something fails.

    jichitai continuity failover-drill [--writes-after 3] [--json]

* etcd (one member) and two Patroni nodes, each with its own PostgreSQL data directory, ports picked free on
  127.0.0.1. `synchronous_mode: true`: a commit returns only once the standby has the WAL on disk, and Patroni
  promotes only the synchronous standby, so a commit the app saw is never lost.
* The app (`jichitai continuity drill-writer`, a child process) connects with a libpq multi-host URL,
  `postgres://…@127.0.0.1:P1,127.0.0.1:P2/drill?target_session_attrs=read-write`, migrates, and appends audit
  events through `audit.actions.record_event` in a loop, logging the sequence number of each event after its
  commit returned. On an error it drops the connection and tries again; libpq then finds whichever node accepts
  writes.
* The leader's Patroni and its postmaster and backends are killed with SIGKILL (a lost machine).
* RTO = from the kill to the writer's first commit afterwards. RPO = events whose commit the writer saw but that
  the new primary does not have (0 expected). The new primary's audit chain is verified (`jichitai audit verify`).
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PATRONI = shutil.which("patroni") or "/usr/bin/patroni"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
RUN_AS = "postgres"  # PostgreSQL refuses to run as root


class DrillError(RuntimeError):
    pass


def pg_bin_dir() -> str:
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not cands:
        raise DrillError("PostgreSQL のサーバープログラムがありません / no PostgreSQL server binaries in "
                         "/usr/lib/postgresql/*/bin")
    return str(cands[-1].parent)


def missing_tools() -> list:
    out = [t for t in (PATRONI, ETCD) if not Path(t).exists()]
    try:
        pg_bin_dir()
    except DrillError:
        out.append("postgresql")
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        out.append(f"user {RUN_AS}")
    return out


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _get(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception:
        return None, b""


def _pids_of_data_dir(d: Path) -> list:
    """The postmaster of a data directory and its children."""
    try:
        pm = int((d / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pm:
                kids.append(int(p.name))
    return [pm] + kids


class Cluster:
    """etcd + two Patroni nodes on loopback, in a temporary directory; a context manager that stops everything."""

    def __init__(self, ttl=10, loop_wait=1, retry_timeout=4):
        self.ttl, self.loop_wait, self.retry_timeout = ttl, loop_wait, retry_timeout
        self.procs = {}
        self.dir = None
        self.started = []  # every pid started (for checking that all are gone afterwards)
        self.places = None

    # ---------------------------------------------------------------- start
    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, name, cmd, as_postgres=False):
        log = open(self.dir / f"{name}.log", "ab")
        kw = {}
        if as_postgres and os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            kw.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.dir)}
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, **kw)
        self.procs[name] = p
        self.started.append(p.pid)
        return p

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="jichitai-ha-"))
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        (self.etcd_client, etcd_peer, self.pg1, self.pg2, self.api1, self.api2) = free_ports(6)
        etcd_url = f"http://127.0.0.1:{self.etcd_client}"
        peer = f"http://127.0.0.1:{etcd_peer}"
        self._spawn("etcd", [ETCD, "--name", "drill", "--data-dir", str(self.dir / "etcd"),
                             "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"drill={peer}", "--initial-cluster-state", "new",
                             "--enable-v2=true"], as_postgres=True)
        self._wait(lambda: _get(etcd_url + "/health")[0] == 200, 30, "etcd did not start / etcd が起動しません")
        bindir = pg_bin_dir()
        self.nodes = {}
        for i, (pg, api) in enumerate([(self.pg1, self.api1), (self.pg2, self.api2)], 1):
            name = f"node{i}"
            cfg = {
                "scope": "jichitai-drill", "name": name,
                "restapi": {"listen": f"127.0.0.1:{api}", "connect_address": f"127.0.0.1:{api}"},
                "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_client}"]},
                "bootstrap": {
                    "dcs": {"ttl": self.ttl, "loop_wait": self.loop_wait, "retry_timeout": self.retry_timeout,
                            "maximum_lag_on_failover": 1048576, "synchronous_mode": True,
                            "postgresql": {"use_pg_rewind": False, "parameters": {
                                "wal_level": "replica", "hot_standby": "on", "max_wal_senders": 5,
                                "max_replication_slots": 5, "synchronous_commit": "on",
                                "wal_keep_size": "128MB"}}},
                    "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
                    "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                               "host replication all 127.0.0.1/32 trust"],
                },
                "postgresql": {
                    "listen": f"127.0.0.1:{pg}", "connect_address": f"127.0.0.1:{pg}",
                    "data_dir": str(self.dir / name), "bin_dir": bindir, "pgpass": str(self.dir / f"pgpass{i}"),
                    "authentication": {"superuser": {"username": "postgres", "password": "drill"},
                                       "replication": {"username": "replicator", "password": "drill"}},
                    "parameters": {"unix_socket_directories": str(self.dir), "fsync": "on",
                                   "shared_buffers": "32MB", "max_connections": 40},
                },
                "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
            }
            path = self.dir / f"{name}.yml"
            path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
            if os.geteuid() == 0:
                pw = pwd.getpwnam(RUN_AS)
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self.nodes[name] = {"pg": pg, "api": api, "data": self.dir / name}
            self._spawn(name, [PATRONI, str(path)], as_postgres=True)
            if i == 1:  # the first node bootstraps the cluster; the second clones from it
                self._wait(lambda: self.leader() == "node1", 90, "node1 did not become the primary")
        self.places = str(self.dir)
        self._wait(lambda: self.sync_standby() is not None, 120,
                   "the standby did not become synchronous / スタンバイが同期レプリカになりません")

    def _wait(self, cond, seconds, what):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cond():
                return
            for name, p in self.procs.items():
                if p.poll() is not None and not getattr(p, "_killed", False):
                    raise DrillError(f"{name} exited ({p.returncode}): {self.log_tail(name)}")
            time.sleep(0.25)
        raise DrillError(f"{what} (after {seconds} s): " + " | ".join(self.log_tail(n) for n in self.procs))

    def log_tail(self, name, n=6):
        try:
            lines = (self.dir / f"{name}.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"[{name}] " + " / ".join(lines[-n:])

    # ---------------------------------------------------------------- state
    def members(self):
        for node in self.nodes.values():
            code, body = _get(f"http://127.0.0.1:{node['api']}/cluster")
            if code == 200:
                try:
                    return json.loads(body).get("members", [])
                except ValueError:
                    pass
        return []

    def leader(self):
        for m in self.members():
            if m.get("role") in ("leader", "master", "primary") and m.get("state") == "running":
                return m["name"]
        return None

    def sync_standby(self):
        for m in self.members():
            if m.get("role") == "sync_standby" and m.get("state") in ("running", "streaming"):
                return m["name"]
        return None

    def url(self, dbname="drill"):
        return (f"postgres://postgres@127.0.0.1:{self.pg1},127.0.0.1:{self.pg2}/{dbname}"
                f"?target_session_attrs=read-write&connect_timeout=2")

    # ---------------------------------------------------------------- failure and stop
    def kill_node(self, name):
        """SIGKILL the node's Patroni and its PostgreSQL (postmaster and every backend): a lost machine."""
        node = self.nodes[name]
        pids = _pids_of_data_dir(node["data"])
        p = self.procs[name]
        p._killed = True
        for pid in [p.pid] + pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=10)

    def stop(self):
        if self.dir is None:
            return
        for name, p in list(self.procs.items()):
            if name != "etcd" and p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 20
        for name, p in list(self.procs.items()):
            if name == "etcd":
                continue
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for node in getattr(self, "nodes", {}).values():  # a postmaster left behind by a killed Patroni
            for pid in _pids_of_data_dir(node["data"]):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        etcd = self.procs.get("etcd")
        if etcd is not None and etcd.poll() is None:
            etcd.terminate()
            try:
                etcd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                etcd.kill()
                etcd.wait(timeout=5)
        if os.environ.get("JICHITAI_DRILL_KEEP"):
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


# ---------------------------------------------------------------- the drill

def _psql_one(url, sql):
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else []


def _recovery(lines, t_kill):
    """The time of the first commit after the writer first failed following the kill (a commit that returned just
    after the kill but ran on the old primary does not count as recovery)."""
    failed = False
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "E" and float(parts[1]) >= t_kill - 0.5:
            failed = True
        elif parts[0] == "C" and failed and float(parts[2]) > t_kill:
            return float(parts[2])
    return None


def run_drill(*, writes_after=3.0, log=print) -> dict:
    """One drill; returns {"rto_seconds", "rpo_events", "committed", "present", "chain_ok", …}."""
    from .service import child_env

    t_start = time.monotonic()
    with Cluster() as cl:
        log(f"cluster up: primary {cl.leader()}, synchronous standby {cl.sync_standby()} "
            f"({time.monotonic() - t_start:.1f} s)")
        _psql_one(cl.url("postgres"), "CREATE DATABASE drill")
        work = cl.dir / "app"
        work.mkdir()
        env = child_env(cl.url())
        env.update({"JICHITAI_VAR_DIR": str(work), "JICHITAI_AUDIT_KEY_FILE": str(work / "hmac.key"),
                    "JICHITAI_AUDIT_SIGNING_KEY_FILE": str(work / "cp.key"),
                    "JICHITAI_AUDIT_PUBLIC_KEY_FILE": str(work / "cp.pub"),
                    "JICHITAI_AUDIT_CHECKPOINT_DIR": str(work / "checkpoints")})
        jichitai = [sys.executable, "-m", "jichitai.cli"]
        subprocess.run(jichitai + ["migrate", "-v0"], env=env, check=True, capture_output=True, timeout=300)
        out, stop = work / "writes.log", work / "stop"
        writer = subprocess.Popen(jichitai + ["continuity", "drill-writer", "--log", str(out), "--stop", str(stop)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def written():
                try:
                    return sum(1 for line in out.read_text().splitlines() if line.startswith("C "))
                except OSError:
                    return 0

            end = time.monotonic() + 60
            while written() < 50 and time.monotonic() < end:
                if writer.poll() is not None:
                    raise DrillError(f"writer exited: {writer.stderr.read()[-2000:]}")
                time.sleep(0.1)
            old = cl.leader()
            before = written()
            t_kill = time.time()
            cl.kill_node(old)
            log(f"killed {old} (SIGKILL) after {before} committed writes")
            recovered = None
            end = time.monotonic() + 120
            while time.monotonic() < end:
                recovered = _recovery(out.read_text().splitlines(), t_kill)
                if recovered:
                    break
                if writer.poll() is not None:
                    raise DrillError(f"writer exited: {writer.stderr.read()[-2000:]}")
                time.sleep(0.1)
            if recovered is None:
                raise DrillError("the app did not write again within 120 s / 120秒以内に書き込みが再開しません: "
                                 + " | ".join(cl.log_tail(n) for n in cl.procs))
            time.sleep(writes_after)
        finally:
            stop.write_text("stop")
            try:
                writer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                writer.kill()
                writer.wait()
        lines = out.read_text().splitlines()
        committed = {int(line.split()[1]) for line in lines if line.startswith("C ")}
        chain = [line.split()[1] for line in lines if line.startswith("K ")][0]
        present = {r[0] for r in _psql_one(cl.url(), f"SELECT seq FROM audit_auditevent WHERE chain_key = '{chain}'")}
        lost = sorted(committed - present)
        verify = subprocess.run(jichitai + ["audit", "verify", "--municipality", chain], env=env,
                                capture_output=True, text=True, timeout=300)
        new = cl.leader()
        result = {
            "old_primary": old, "new_primary": new, "rto_seconds": round(recovered - t_kill, 3),
            "rpo_events": len(lost), "lost": lost[:20], "committed": len(committed), "present": len(present),
            "unconfirmed_but_kept": len(present - committed), "chain_ok": verify.returncode == 0,
            "chain_report": verify.stdout.strip()[-300:], "drill_seconds": round(time.monotonic() - t_start, 1),
            "writes_before_kill": before, "writes_after_recovery": sum(
                1 for line in lines if line.startswith("C ") and float(line.split()[2]) >= recovered),
        }
        started, place = list(cl.started), cl.places
    result["pids"], result["dir"] = started + [writer.pid], place
    log(json.dumps({k: v for k, v in result.items() if k not in ("pids", "lost")}, ensure_ascii=False))
    return result


def writer_loop(log_path: Path, stop_path: Path):
    """The drill's write load (child process, DATABASE_URL = the cluster's multi-host URL). Lines of the log:
    `K <chain>`; `C <seq> <unix time>` after each commit returned; `E <unix time> <error>` on a failed write."""
    from django.db import connections

    from jichitai.audit.actions import record_event
    from jichitai.tenancy.models import Municipality, Prefecture

    pref, _ = Prefecture.objects.get_or_create(code="44", defaults={"name": "大分県"})
    m, _ = Municipality.objects.get_or_create(code="44204", defaults={"name": "日田市", "prefecture": pref})
    with open(log_path, "a", buffering=1) as log:
        log.write(f"K {m.code}\n")
        i = 0
        failing = False
        while not stop_path.exists():
            i += 1
            try:
                e = record_event(m, "continuity.drill_write", object_type="drill", object_id=i,
                                 detail={"n": i})
            except Exception as exc:  # the primary went away: reconnect (libpq finds the new primary)
                if not failing:
                    log.write(f"E {time.time():.6f} {type(exc).__name__}\n")
                    failing = True
                for c in connections.all():
                    try:
                        c.close()
                    except Exception:
                        c.connection = None
                time.sleep(0.1)
                continue
            failing = False
            log.write(f"C {e.seq} {time.time():.6f}\n")
            time.sleep(0.01)

"""What the commands do: take a backup, verify it in a scratch database, restore, prune by the retention policy.

Verification never trusts the file or the running database: it restores the backup into a *scratch* database (a
temporary SQLite file, or a PostgreSQL database created for it on the same server and dropped afterwards) in a
child process — the same `jichitai restore` a real recovery runs, with this installation's keys — which migrates
it, loads every table, compares every table's row count and content digest with the manifest and verifies every
audit chain of the backup (the audit app's own verification, signed checkpoints included)."""
import datetime as dt
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from . import archive
from .archive import BackupError


def backup_dir() -> Path:
    d = Path(getattr(settings, "JICHITAI_BACKUP_DIR", "") or Path(settings.VAR_DIR) / "backups")
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def default_name(scope: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"jichitai-{scope or 'full'}-{stamp}-{secrets.token_hex(2)}.jcbk"


def child_env(database_url: str) -> dict:
    """The environment of a child `jichitai` process on another database with this installation's keys."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url,
        "JICHITAI_AUDIT_KEY_FILE": str(settings.JICHITAI_AUDIT_KEY_FILE),
        "JICHITAI_AUDIT_SIGNING_KEY_FILE": str(settings.JICHITAI_AUDIT_SIGNING_KEY_FILE),
        "JICHITAI_AUDIT_PUBLIC_KEY_FILE": str(settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE),
        "JICHITAI_AUDIT_CHECKPOINT_DIR": str(settings.JICHITAI_AUDIT_CHECKPOINT_DIR),
        "JICHITAI_BACKUP_KEY_FILE": str(archive.key_file()),
        "DJANGO_SETTINGS_MODULE": "jichitai.settings",
    })
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def postgres_url(dbname: str) -> str:
    """A URL for another database on the server the default connection uses (multi-host kept)."""
    s = connection.settings_dict
    user = quote(s.get("USER") or "")
    pw = quote(s.get("PASSWORD") or "")
    auth = (user + (":" + pw if pw else "") + "@") if user else ""
    hosts = (s.get("HOST") or "").split(",")
    ports = (str(s.get("PORT") or "")).split(",")
    if len(ports) < len(hosts):
        ports += [ports[-1]] * (len(hosts) - len(ports))
    netloc = ",".join(h + (":" + p if p else "") for h, p in zip(hosts, ports))
    q = "&".join(f"{k}={quote(str(v))}" for k, v in (s.get("OPTIONS") or {}).items()
                 if isinstance(v, (str, int)) and k in ("target_session_attrs", "connect_timeout", "sslmode"))
    return f"postgres://{auth}{netloc}/{quote(dbname)}" + (f"?{q}" if q else "")


class Scratch:
    """A scratch database of this engine, removed on exit. `migrated=True`: already migrated — a copy of an empty
    database migrated once per code version (PostgreSQL: `CREATE DATABASE … TEMPLATE`, SQLite: a file copy), so
    that a verification does not spend its time migrating an empty schema; otherwise empty (a restore migrates it,
    as a recovery does)."""

    def __init__(self, migrated: bool = False):
        self.migrated = migrated

    def __enter__(self):
        if connection.vendor == "postgresql":
            self.name = f"{connection.settings_dict['NAME']}_verify_{secrets.token_hex(4)}"[:63]
            template = f' TEMPLATE "{self._template()}"' if self.migrated else ""
            self._admin(f'CREATE DATABASE "{self.name}"{template}')
            self.url = postgres_url(self.name)
        else:
            self.dir = tempfile.TemporaryDirectory(prefix="jichitai-verify-")
            db = Path(self.dir.name) / "scratch.sqlite3"
            if self.migrated:
                import shutil

                from .offline import empty_schema

                shutil.copyfile(empty_schema(), db)
            self.url = "sqlite:///" + str(db)
        return self

    def _template(self) -> str:
        """The migrated template database of this code version (made once: migrated under a temporary name in a
        child process, then renamed, so that a concurrent verification never copies a half-migrated one)."""
        import psycopg

        from .offline import _schema_key

        base = connection.settings_dict["NAME"][:30]
        name = f"{base}_tmpl_{_schema_key()}"
        found = self._admin_query("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}_tmpl_%"])
        if name in found:
            return name
        building = f"{base}_tmplbuild_{secrets.token_hex(4)}"
        self._admin(f'CREATE DATABASE "{building}"')
        try:
            p = subprocess.run([sys.executable, "-m", "jichitai.cli", "migrate", "--noinput", "-v", "0"],
                               env=child_env(postgres_url(building)), capture_output=True, text=True, timeout=3600)
            if p.returncode:
                raise BackupError(f"検証用のテンプレートを作れません / cannot migrate the template: "
                                  f"{p.stderr.strip()[-500:]}")
            try:
                self._admin(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            except psycopg.errors.DuplicateDatabase:  # made meanwhile by a concurrent verification
                pass
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        for old in found:  # templates of older code versions
            if old != name:
                self._admin(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        return name

    def _admin_query(self, sql, params) -> list:
        import psycopg

        with psycopg.connect(**self._admin_kw()) as c:
            return [r[0] for r in c.execute(sql, params).fetchall()]

    def _admin_kw(self) -> dict:
        s = connection.settings_dict
        kw = {"dbname": "postgres", "user": s.get("USER") or None, "password": s.get("PASSWORD") or None,
              "host": s.get("HOST") or None, "port": str(s.get("PORT") or "") or None, "autocommit": True}
        opts = s.get("OPTIONS") or {}
        if "target_session_attrs" in opts:
            kw["target_session_attrs"] = opts["target_session_attrs"]
        return {k: v for k, v in kw.items() if v is not None}

    def _admin(self, sql):
        import psycopg

        with psycopg.connect(**self._admin_kw()) as c:
            c.execute(sql)

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            self.dir.cleanup()


def run_restore_child(path: Path, database_url: str, timeout=3600, *, verify=False) -> dict:
    """`jichitai restore FILE --json` against `database_url`; its report (the last line of its output)."""
    cmd = [sys.executable, "-m", "jichitai.cli", "restore", str(path), "--json"] + (["--verify"] if verify else [])
    with _checkpoints_for(verify) as ckpt:
        env = child_env(database_url)
        if ckpt:
            env["JICHITAI_AUDIT_CHECKPOINT_DIR"] = ckpt
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    last = (p.stdout.strip().splitlines() or [""])[-1]
    try:
        report = json.loads(last)
    except ValueError:
        report = {"ok": False, "error": (p.stderr.strip().splitlines() or ["restore failed"])[-1][-1000:]}
    report.setdefault("ok", p.returncode == 0)
    return report


@contextlib.contextmanager
def _checkpoints_for(verify: bool):
    """A verification's child gets a scratch copy of the live checkpoint directory: whatever it signs for the scratch
    database's chains must never land next to the live chains' checkpoints (a false 'rewritten' alarm)."""
    if not verify:
        yield None
        return
    live = Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)
    with tempfile.TemporaryDirectory(prefix="jichitai-verify-ckpt-") as tmp:
        dest = Path(tmp) / "checkpoints"
        if live.is_dir():
            shutil.copytree(live, dest)
        else:
            dest.mkdir()
        yield str(dest)


def verify_file(path: Path) -> dict:
    """Authenticate `path`, restore it into a scratch database and check it there. Returns the report
    ({"ok", "error", "tables", "rows", "chains", "seconds", …}). A tampered or truncated file raises BackupError
    before any database is made."""
    t0 = time.monotonic()
    path = Path(path)
    from .backup import read_manifest

    manifest = read_manifest(path)
    with Scratch(migrated=True) as s:
        report = run_restore_child(path, s.url, verify=True)
    report["seconds"] = round(time.monotonic() - t0, 3)
    report["scope"] = manifest["scope"]
    return report


# ---------------------------------------------------------------- retention

def retention_policy() -> dict:
    """Keep every backup of the last `daily` days, then the newest of each of the last `weekly` ISO weeks and of
    the last `monthly` months, per scope; never the newest verified one of a scope (whatever its age)."""
    p = getattr(settings, "JICHITAI_BACKUP_RETENTION", None) or {}
    return {"daily": int(p.get("daily", 7)), "weekly": int(p.get("weekly", 4)), "monthly": int(p.get("monthly", 12))}


def to_prune(records, now=None, policy=None) -> list:
    """The records (objects with scope_code, created_at, verify_ok) the policy no longer keeps."""
    policy = policy or retention_policy()
    now = now or dt.datetime.now(dt.timezone.utc)
    out = []
    by_scope = {}
    for r in records:
        by_scope.setdefault(r.scope_code, []).append(r)
    for rs in by_scope.values():
        rs = sorted(rs, key=lambda r: r.created_at, reverse=True)
        keep = set()
        verified = [r for r in rs if r.verify_ok]
        if verified:
            keep.add(id(verified[0]))
        weeks, months = {}, {}
        for r in rs:
            age = now - r.created_at
            if age <= dt.timedelta(days=policy["daily"]):
                keep.add(id(r))
            wk = r.created_at.isocalendar()[:2]
            mo = (r.created_at.year, r.created_at.month)
            weeks.setdefault(wk, r)
            months.setdefault(mo, r)
        for r in sorted(weeks.values(), key=lambda r: r.created_at, reverse=True)[:policy["weekly"]]:
            keep.add(id(r))
        for r in sorted(months.values(), key=lambda r: r.created_at, reverse=True)[:policy["monthly"]]:
            keep.add(id(r))
        out += [r for r in rs if id(r) not in keep]
    return out


__all__ = ["BackupError", "backup_dir", "default_name", "retention_policy", "to_prune", "verify_file"]

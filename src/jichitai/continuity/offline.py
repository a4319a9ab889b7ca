"""The offline kit: build it for one municipality, open it on a laptop, work offline, sync back.

Build (platform, `jichitai offline build`):
  1. reserve a block of certificate numbers (the platform's series jumps past it) and record the kit;
  2. make a fresh SQLite database with the platform's schema (`migrate` in a child process) and copy into it every
     row of the municipality — its tenant tables and their child tables, and the platform rows it needs
     (prefecture, the municipality, its staff and their second-factor devices, role definitions, the 標準/県版
     certificate settings, the disasters declared for it) — with plain cursors and executemany, no ORM objects;
     every model must be classified in COPY_RULES (a test fails for a new model that is not);
  3. in the kit database: open an audit segment (audit.portable.open_segment) and set the kit's certificate series
     to the reserved block (child process `jichitai offline init-kit`);
  4. pack the database, the kit's facts and the audit keyring into a tar, encrypt it with AES-256-GCM under a key
     derived from the operator's passphrase (scrypt), and sign header and ciphertext with the platform's Ed25519 key.
Open / run (laptop, `jichitai offline run KIT`): verify the signature against the platform's public key, decrypt,
unpack, and serve the kit database on 127.0.0.1 with JICHITAI_OFFLINE_DIR set (the UI says オフライン運用中, writes
go to the outbox, audit entries to the segment).
Export (laptop, `jichitai offline export`): every outbox event and the audit segment into one file encrypted with the
kit's sync key; then a new segment is opened for later work (the server must be stopped).
Sync (platform, `jichitai offline sync FILE` or the upload screen): each event is applied in its own transaction
together with its SyncedEvent row, so a sync interrupted at any point (kill -9) resumes where it stopped and a file
synced twice changes nothing; events that cannot be applied become SyncConflicts for a person to decide; the audit
segment is merged into the municipality's chain (verified).
"""
import base64
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from jichitai.audit import keys as audit_keys
from jichitai.audit.actions import append
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality, tenant_scope

KIT_FORMAT = "jichitai-offline-kit/1"
SYNC_FORMAT = "jichitai-offline-sync/1"
SIGN_CONTEXT = b"jichitai offline kit v1\n"
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}


class KitError(Exception):
    """A kit or sync file that cannot be used; the message is bilingual."""


class RevokedKit(KitError):
    """A sync file of a revoked kit (a lost laptop): refused, whatever it holds."""

    def __init__(self, kit):
        self.kit = kit
        when = timezone.localtime(kit.revoked_at)
        super().__init__(
            f"端末 {kit.device} のオフラインキットは {when:%Y-%m-%d %H:%M} に失効しています（{kit.revoke_reason}）。"
            "この同期ファイルは取り込めません。端末で記録した内容は、本人確認のうえ窓口で改めて登録してください / "
            f"the offline kit of device {kit.device} was revoked on {when:%Y-%m-%d %H:%M}; its sync files are refused")


# ---------------------------------------------------------------- which rows a kit carries

def _staff_ids_sql():
    return "SELECT id FROM tenancy_staffuser WHERE municipality_id = %s"


# label -> rule. "tenant": WHERE municipality_id = m; "skip": not carried (with the reason); a tuple (where, n):
# an SQL condition with n parameters, each the municipality id. Tenant and child tables (guard.db) need no entry.
COPY_RULES = {
    "contenttypes.ContentType": "skip: made by migrate in the kit",
    "auth.Permission": "skip: Django's model permissions are unused (roles are data)",
    "auth.Group": "skip: unused",
    "auth.Group_permissions": "skip: unused",
    "sessions.Session": "skip: sign-ins are per device",
    "tenancy.Prefecture": ("id = (SELECT prefecture_id FROM tenancy_municipality WHERE id = %s)", 1),
    "tenancy.Municipality": ("id = %s", 1),
    "tenancy.StaffUser": ("municipality_id = %s", 1),
    "tenancy.PermissionDefinition": ("1 = 1", 0),
    "tenancy.RoleDefinition": ("1 = 1", 0),
    "tenancy.RoleDefinition_permissions": ("1 = 1", 0),
    "tenancy.StaffUser_groups": "skip: unused",
    "tenancy.StaffUser_user_permissions": "skip: unused",
    "otp_totp.TOTPDevice": (f"user_id IN ({_staff_ids_sql()})", 1),
    "otp_static.StaticDevice": (f"user_id IN ({_staff_ids_sql()})", 1),
    "otp_static.StaticToken": (f"device_id IN (SELECT id FROM otp_static_staticdevice WHERE user_id IN "
                               f"({_staff_ids_sql()}))", 1),
    "certificates.CertificateSetting": ("municipality_id IS NULL OR municipality_id = %s", 1),
    "certificates.VerificationLog": "skip: the platform's public verification log",
    "audit.AuditEvent": "skip: the kit starts a segment; the chain's history stays on the platform",
    "audit.AuditChain": ("key = (SELECT code FROM tenancy_municipality WHERE id = %s)", 1),
    "disaster.Disaster": ("id IN (SELECT disaster_id FROM disaster_disasteractivation WHERE municipality_id = %s)",
                          1),
    "guard.PurgePermit": "skip: transaction-local",
    "continuity.OfflineKit": "skip: the platform's record of kits",
    "continuity.SyncedEvent": "skip: platform side",
    "continuity.SyncConflict": "skip: platform side",
    "continuity.OfflineIntake": "skip: platform side",
    "continuity.OutboxEvent": "skip: kit side, starts empty",
    "continuity.KitState": "skip: written by init-kit",
    "continuity.BackupRecord": "skip: the platform's record of its backups",
    "continuity.FailoverDrill": "skip: the platform's failover drills",
    # the tier engine's values: 標準/標準追加 (no owner), the municipality's prefecture (県版) and its own (個別)
    "platform.SettingValue": ("(municipality_id IS NULL AND prefecture_id IS NULL) OR municipality_id = %s OR "
                              "prefecture_id = (SELECT prefecture_id FROM tenancy_municipality WHERE id = %s)", 2),
    "platform.SettingProposal": "skip: 個別 values waiting for approval are decided on the platform",
    # rows that point at what a kit does not carry (its foreign keys would fail in the kit)
    "platform.AdvisoryRecipient": "skip: deliveries of the operator's advisories (the advisories are not carried)",
    "disaster.LookupGrant": "skip: a grant naming another municipality (its host); looking up another town's "
                            "evacuees needs the platform",
    **{f"platform.{n}": "skip: the operator's records (costs, incidents, advisories, licences, metrics, exits)"
       for n in ("Advisory", "ContractExit", "CostItem", "DependencyAudit", "Incident", "IncidentEvent", "Licence",
                 "RequestMetric")},
}


def _models():
    out = []
    for m in apps.get_models(include_auto_created=True):
        if m._meta.abstract or m._meta.proxy or not m._meta.managed:
            continue
        out.append(m)
    return out


def copy_plan(municipality_id: int) -> list:
    """[(model label, table, columns, where, params)] for every table the kit carries; raises for a model nobody
    classified (so a new table is never silently left out of — or leaked into — a kit)."""
    from jichitai.guard import db as guard

    tenants = {m for m in guard.tenant_models()}
    children = {m: fk for m, fk in guard.child_models()}
    plan, unknown = [], []
    for model in _models():
        label = model._meta.label
        table = model._meta.db_table
        cols = [f.column for f in model._meta.concrete_fields]
        rule = COPY_RULES.get(label)
        if isinstance(rule, str):
            continue
        if rule is not None:
            where, n = rule
            plan.append((label, table, cols, where, [municipality_id] * n))
        elif model in tenants:
            plan.append((label, table, cols, "municipality_id = %s", [municipality_id]))
        elif model in children:
            fk = children[model]
            parent = fk.related_model._meta.db_table
            plan.append((label, table, cols, f"{fk.column} IN (SELECT id FROM {parent} WHERE municipality_id = %s)",
                         [municipality_id]))
        else:
            unknown.append(label)
    if unknown:
        raise KitError("オフラインキットに含めるかどうかが決まっていない表があります（continuity/offline.py の "
                       f"COPY_RULES に追加してください） / tables with no kit rule: {', '.join(sorted(unknown))}")
    return plan


def _q(name):
    return '"' + name.replace('"', '""') + '"'


def copy_rows(municipality, kit_db: Path) -> dict:
    """Copy the municipality's rows from the platform database into the kit's SQLite file. Returns counts.

    Three ways, fastest first: SQLite platform outside a transaction — the kit file is ATTACHed and each table is
    one INSERT … SELECT inside SQLite; PostgreSQL — COPY (SELECT …) TO STDOUT inside the municipality's scope (row-
    level security applies), text rows converted only where SQLite needs it (booleans, timestamps), executemany;
    otherwise (SQLite inside a transaction, as in tests) — plain cursor and executemany."""
    plan = copy_plan(municipality.pk)
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        return _copy_attached(municipality, kit_db, plan)
    counts = {}
    dst = sqlite3.connect(kit_db)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        dst.execute("PRAGMA journal_mode = OFF")
        dst.execute("PRAGMA synchronous = OFF")
        dst.execute("BEGIN")
        indexes = _kit_indexes(dst)
        with tenant_scope(municipality), connection.cursor() as cur:
            for label, table, cols, where, params in plan:
                collist = ", ".join(_q(c) for c in cols)
                dst.execute(f"DELETE FROM {_q(table)}")  # rows migrate made (e.g. default role definitions)
                insert = f"INSERT INTO {_q(table)} ({collist}) VALUES ({', '.join('?' * len(cols))})"
                select = f"SELECT {collist} FROM {_q(table)} WHERE {where}"
                if connection.vendor == "postgresql":
                    counts[label] = _copy_pg(cur, dst, label, select, params, insert)
                    continue
                cur.execute(select, params)
                n = 0
                while True:
                    batch = cur.fetchmany(5000)
                    if not batch:
                        break
                    dst.executemany(insert, [tuple(_sqlite_value(v) for v in row) for row in batch])
                    n += len(batch)
                counts[label] = n
        for sql in indexes:
            dst.execute(sql)
        _foreign_key_check(dst.execute("PRAGMA foreign_key_check").fetchmany(5))
        dst.execute("COMMIT")
    finally:
        dst.close()
    return counts


def _foreign_key_check(bad):
    if bad:
        raise KitError("キットの行が、キットに含まれない行を参照しています（continuity/offline.py の COPY_RULES を確認して"
                       f"ください） / kit rows refer to rows the kit does not carry: {bad}")


def _kit_indexes(kit: sqlite3.Connection) -> list:
    """Drop the kit's secondary indexes (made by migrate; the tables are filled faster without them) and return
    the statements that make them again."""
    rows = kit.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    for name, _ in rows:
        kit.execute(f"DROP INDEX {_q(name)}")
    return [sql for _, sql in rows]


def _copy_attached(municipality, kit_db, plan) -> dict:
    counts = {}
    kit = sqlite3.connect(kit_db)
    try:
        indexes = _kit_indexes(kit)
        kit.commit()
    finally:
        kit.close()
    raw = connection.connection if connection.connection is not None else (connection.ensure_connection()
                                                                           or connection.connection)
    # foreign keys are checked once at the end (PRAGMA foreign_key_check): enforced row by row, a parent row
    # inserted after its children makes SQLite scan the child table for each one (its indexes are not there yet)
    fk_on = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("ATTACH DATABASE ? AS kit", [str(kit_db)])
    try:
        raw.execute("PRAGMA kit.journal_mode = OFF")
        raw.execute("PRAGMA kit.synchronous = OFF")
        raw.execute("BEGIN")
        try:
            for label, table, cols, where, params in plan:
                collist = ", ".join(_q(c) for c in cols)
                raw.execute(f"DELETE FROM kit.{_q(table)}")
                sql_where = where.replace("%s", "?")
                cur = raw.execute(f"INSERT INTO kit.{_q(table)} ({collist}) SELECT {collist} FROM main.{_q(table)} "
                                  f"WHERE {sql_where}", params)
                counts[label] = cur.rowcount
            for sql in indexes:  # the indexes again, each built once over its filled table
                raw.execute(sql.replace("CREATE INDEX ", "CREATE INDEX kit.", 1).replace(
                    "CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX kit.", 1))
            _foreign_key_check(raw.execute("PRAGMA kit.foreign_key_check").fetchmany(5))
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
    finally:
        raw.execute("DETACH DATABASE kit")
        if fk_on:
            raw.execute("PRAGMA foreign_keys = ON")
    return counts


def _pg_converters(label, ncols):
    """Per-column converters from COPY's text output to what Django's SQLite backend stores (None: as it is)."""
    from django.db import models

    model = apps.get_model(label)
    conv = []
    for f in model._meta.concrete_fields:
        if isinstance(f, models.BooleanField):
            conv.append(lambda v: None if v is None else (1 if v == "t" else 0))
        elif isinstance(f, models.DateTimeField):
            # the session's time zone is UTC (Django): '2026-12-06 22:00:00.123+00' -> naive UTC text
            conv.append(lambda v: v if v is None else v.rsplit("+", 1)[0] if "+" in v[10:] else v)
        else:
            conv.append(None)
    assert len(conv) == ncols
    return conv


def _copy_pg(cur, dst, label, select, params, insert) -> int:
    cur.execute("SELECT 1")  # through the wrapper: the session has the municipality's scope before the raw COPY
    raw = cur.cursor
    conv = _pg_converters(label, insert.count("?"))
    idx = [(i, c) for i, c in enumerate(conv) if c is not None]
    n = 0
    batch = []
    with raw.copy(f"COPY ({select}) TO STDOUT", params or None) as copy:
        for row in copy.rows():
            if idx:
                row = list(row)
                for i, c in idx:
                    row[i] = c(row[i])
            batch.append(row)
            if len(batch) >= 5000:
                dst.executemany(insert, batch)
                n += len(batch)
                batch = []
    if batch:
        dst.executemany(insert, batch)
        n += len(batch)
    return n


def _sqlite_value(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ") if v.tzinfo else v.isoformat(" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, memoryview):
        return bytes(v)
    if hasattr(v, "hex") and type(v).__name__ == "UUID":
        return v.hex
    if type(v).__name__ == "Decimal":
        return str(v)
    return v


# ---------------------------------------------------------------- crypto

def _derive(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if len(passphrase or "") < 12:
        raise KitError("合言葉は12文字以上にしてください / the passphrase must be at least 12 characters")
    return Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase.encode("utf-8"))


def _seal(key: bytes, plain: bytes, aad: bytes) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plain, aad)


def _unseal(key: bytes, nonce: bytes, cipher: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(nonce, cipher, aad)
    except InvalidTag:
        raise KitError("復号できません: 合言葉（鍵）が違うか、ファイルが改ざん・破損しています / cannot decrypt: wrong "
                       "passphrase or key, or the file was altered or truncated") from None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def _canonical(d: dict) -> bytes:
    return json.dumps(d, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write_envelope(path: Path, header: dict, cipher: bytes, signature: bytes | None):
    env = {"header": header, "signature": _b64(signature) if signature else None}
    with open(path, "wb") as f:
        f.write(_canonical(env) + b"\n")
        f.write(cipher)


def _read_envelope(path: Path, fmt: str) -> tuple[dict, bytes, bytes | None, bytes]:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise KitError(f"ファイルを読めません: {path} / cannot read {path}: {e.strerror}") from None
    line, sep, cipher = raw.partition(b"\n")
    try:
        env = json.loads(line.decode("utf-8")) if sep else None
        header = env["header"]
        if header.get("format") != fmt:
            raise ValueError
        sig = _unb64(env["signature"]) if env.get("signature") else None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise KitError(f"{path.name if hasattr(path, 'name') else path}: オフラインキットの形式ではありません / not a "
                       f"{fmt} file") from None
    if len(cipher) != header.get("cipher_bytes") or hashlib.sha256(cipher).hexdigest() != header.get("cipher_sha256"):
        raise KitError("ファイルが途中で切れているか、改ざんされています / the file is truncated or was altered")
    return header, cipher, sig, _canonical(header)


def _sign(message: bytes) -> bytes:
    from jichitai.audit import keys

    key, _ = keys.signing_key()
    return key.sign(SIGN_CONTEXT + message)


def _verify_signature(message: bytes, signature: bytes | None, public_key_file: str | None):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    path = Path(public_key_file or settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE)
    if signature is None:
        raise KitError("署名がありません / the kit is not signed")
    try:
        pem = path.read_bytes()
    except OSError:
        raise KitError(f"プラットフォームの公開鍵がありません: {path} / the platform's public key is missing: {path}") \
            from None
    blocks = [b"-----BEGIN PUBLIC KEY-----" + part for part in pem.split(b"-----BEGIN PUBLIC KEY-----")[1:]]
    for block in blocks:
        try:
            serialization.load_pem_public_key(block).verify(signature, SIGN_CONTEXT + message)
            return
        except InvalidSignature:
            continue
    raise KitError("署名を検証できません: プラットフォームが作成したキットではないか、改ざんされています / the signature "
                   "does not verify: not made by the platform, or altered")


# ---------------------------------------------------------------- build

def _child_env(db_path: Path, extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JICHITAI_AUDIT_SEGMENT",
                                                             "JICHITAI_OFFLINE_DIR")}
    env["DATABASE_URL"] = f"sqlite:///{db_path}"
    env.update(extra or {})
    return env


def _jichitai(args, env):
    r = subprocess.run([sys.executable, "-m", "jichitai.cli", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise KitError(f"{' '.join(args[:2])}: {r.stderr.strip()[-800:]}")
    return r.stdout


def _schema_key() -> str:
    """A digest of every migration the code has (and Django's version): the empty kit schema made for it is
    reused until the code changes."""
    import django
    from django.db.migrations.loader import MigrationLoader

    names = sorted(f"{a}.{n}" for a, n in MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return hashlib.sha256("\n".join([django.get_version(), *names]).encode()).hexdigest()[:16]


def empty_schema() -> Path:
    """An empty SQLite database with the platform's schema (migrated once per code version, in a child process,
    then kept under var/offline/): a kit starts as a copy of it."""
    cache = Path(settings.VAR_DIR) / "offline"
    path = cache / f"schema-{_schema_key()}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jichitai-schema-", dir=cache) as tmp:
        db = Path(tmp) / "schema.sqlite3"
        _jichitai(["migrate", "--noinput", "-v", "0"], _child_env(db, {"JICHITAI_VAR_DIR": str(Path(tmp) / "var")}))
        os.replace(db, path)
    return path


def reserve_kit(user, *, device: str, label: str = "", block_size: int = 200, terminal: str = "system"):
    """Platform side, one transaction: reserve the certificate number block and record the kit."""
    from jichitai.tenancy.models import NumberSequence

    from .offline_models import OfflineKit

    if not has_perm(user, Perm.MANAGE_BCP):
        raise PermissionDenied
    m = require_municipality()
    device = (device or "").strip()
    if not device or len(device) > 64 or not all(c.isalnum() or c in "-_" for c in device):
        raise ValidationError({"device": "端末IDは英数字・ハイフン・下線の64文字以内で入力してください。"})
    if not 10 <= int(block_size) <= 100000:
        raise ValidationError({"block_size": "予約する証明書番号は10〜100000件の範囲で指定してください。"})
    with transaction.atomic():
        if OfflineKit.objects.filter(device=device).exists():
            raise ValidationError({"device": f"端末ID {device} のキットはすでに作成されています。別の端末IDにしてください。"})
        seq = NumberSequence.objects.select_for_update().filter(municipality=m, name="certificate").first()
        if seq is None:
            NumberSequence.objects.get_or_create(municipality=m, name="certificate")
            seq = NumberSequence.objects.select_for_update().get(municipality=m, name="certificate")
        start, end = seq.last_value + 1, seq.last_value + int(block_size)
        NumberSequence.objects.filter(pk=seq.pk).update(last_value=end)
        kit = OfflineKit.objects.create(device=device, label=(label or "").strip()[:100], built_at=timezone.now(),
                                        built_by=user.username, block_start=start, block_end=end, segment_key="",
                                        sync_key=secrets.token_hex(32))
        append(m, "offline.kit_build", actor=user, terminal=terminal, object_type="offline_kit",
               object_id=str(kit.pk), detail={"device": device, "block_start": start, "block_end": end})
    return kit


def build_kit(user, *, device: str, passphrase: str, out_path, label: str = "", block_size: int = 200,
              terminal: str = "system") -> dict:
    """Build a kit file for the municipality in scope. Returns a summary (counts, seconds)."""
    from .offline_models import OfflineKit

    t0 = time.perf_counter()
    _derive(passphrase, b"check-length-only")  # refuse a weak passphrase before reserving anything
    m = require_municipality()
    from jichitai.certificates import signing

    # the kit signs its certificates' 照合コード with the municipality's active key: make sure there is one on the
    # platform (a key first made on a laptop would be unknown to /verify/)
    signing.signing_key(m)
    kit = reserve_kit(user, device=device, label=label, block_size=block_size, terminal=terminal)
    with tempfile.TemporaryDirectory(prefix="jichitai-kit-") as tmp:
        tmp = Path(tmp)
        db = tmp / "kit.sqlite3"
        shutil.copyfile(empty_schema(), db)
        t_schema = time.perf_counter()
        counts = copy_rows(m, db)
        t_copy = time.perf_counter()
        keys_dir = tmp / "keys"
        keys_dir.mkdir()
        # the kit's own audit key (verify-only in the platform's keyring), never the platform's keyring
        (keys_dir / "hmac.key").write_text(audit_keys.add_device_key(kit_key_id(kit)), encoding="utf-8")
        facts = {"municipality": m.code, "device": kit.device, "kit_id": kit.pk, "block_start": kit.block_start,
                 "block_end": kit.block_end, "built_at": kit.built_at.isoformat(), "sync_key": kit.sync_key}
        out = _jichitai(["offline", "init-kit", json.dumps(facts)],
                        _child_env(db, {"JICHITAI_VAR_DIR": str(tmp / "var"),
                                        "JICHITAI_AUDIT_KEY_FILE": str(keys_dir / "hmac.key"),
                                        "JICHITAI_AUDIT_SIGNING_KEY_FILE": str(keys_dir / "device-signing.key"),
                                        "JICHITAI_AUDIT_PUBLIC_KEY_FILE": str(keys_dir / "device-public.pem"),
                                        "JICHITAI_AUDIT_CHECKPOINT_DIR": str(tmp / "var" / "checkpoints")}))
        segment = json.loads(out.strip().splitlines()[-1])["segment"]
        facts["segment"] = segment
        (tmp / "kit.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1), encoding="utf-8")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name in ("kit.sqlite3", "kit.json", "keys"):
                tar.add(tmp / name, arcname=name)
        plain = buf.getvalue()
    salt = os.urandom(16)
    key = _derive(passphrase, salt)
    header = {"format": KIT_FORMAT, "municipality": m.code, "device": kit.device, "kit_id": kit.pk,
              "built_at": kit.built_at.isoformat(), "salt": _b64(salt), "scrypt": SCRYPT,
              "plain_sha256": hashlib.sha256(plain).hexdigest()}
    aad = _canonical({k: header[k] for k in ("format", "municipality", "device", "kit_id")})
    nonce, cipher = _seal(key, plain, aad)
    header.update(nonce=_b64(nonce), cipher_bytes=len(cipher), cipher_sha256=hashlib.sha256(cipher).hexdigest())
    signature = _sign(_canonical(header))
    out_path = Path(out_path)
    _write_envelope(out_path, header, cipher, signature)
    digest = hashlib.sha256(out_path.read_bytes()).hexdigest()
    residents = counts.get("residents.Person", 0)
    with transaction.atomic():
        OfflineKit.objects.filter(pk=kit.pk).update(segment_key=segment, kit_sha256=digest, residents=residents)
    return {"kit_id": kit.pk, "device": kit.device, "block": [kit.block_start, kit.block_end], "segment": segment,
            "residents": residents, "bytes": out_path.stat().st_size, "counts": counts,
            "seconds": {"schema": round(t_schema - t0, 2), "copy": round(t_copy - t_schema, 2),
                        "total": round(time.perf_counter() - t0, 2)}}


def init_kit(facts: dict) -> str:
    """Kit side (child process on the fresh kit database): open the audit segment, point the certificate series at
    the reserved block, record the kit's state. Returns the segment key."""
    from jichitai.audit.portable import open_segment
    from jichitai.tenancy.models import Municipality, NumberSequence

    from .offline_models import KitState

    m = Municipality.objects.get(code=facts["municipality"])
    with tenant_scope(m), transaction.atomic():
        segment = open_segment(m, facts["device"])
        NumberSequence.objects.filter(municipality=m, name="certificate").delete()
        NumberSequence.objects.create(municipality=m, name="certificate", last_value=facts["block_start"] - 1)
        KitState.objects.create(device=facts["device"], kit_id=facts["kit_id"], block_start=facts["block_start"],
                                block_end=facts["block_end"], segment_key=segment,
                                built_at=dt.datetime.fromisoformat(facts["built_at"]))
    return segment


# ---------------------------------------------------------------- open and run (laptop)

def open_kit(path, passphrase: str, dest, *, public_key_file=None) -> dict:
    """Verify, decrypt and unpack a kit into `dest` (created; must be empty). Returns the kit's facts."""
    header, cipher, sig, signed = _read_envelope(Path(path), KIT_FORMAT)
    _verify_signature(signed, sig, public_key_file)
    try:
        salt, nonce = _unb64(header["salt"]), _unb64(header["nonce"])
    except (KeyError, ValueError):
        raise KitError("キットの形式が正しくありません / malformed kit header") from None
    aad = _canonical({k: header[k] for k in ("format", "municipality", "device", "kit_id")})
    plain = _unseal(_derive(passphrase, salt), nonce, cipher, aad)
    if hashlib.sha256(plain).hexdigest() != header.get("plain_sha256"):
        raise KitError("キットの内容が一致しません / the kit's content does not match its header")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise KitError(f"展開先が空ではありません: {dest} / the destination is not empty: {dest}")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
        tar.extractall(dest, filter="data")
    return json.loads((dest / "kit.json").read_text(encoding="utf-8"))


def kit_env(dest) -> dict:
    """The environment the kit's server and commands run with."""
    dest = Path(dest).resolve()
    facts = json.loads((dest / "kit.json").read_text(encoding="utf-8"))
    env = _child_env(dest / "kit.sqlite3", {
        "JICHITAI_OFFLINE_DIR": str(dest), "JICHITAI_VAR_DIR": str(dest / "var"),
        "JICHITAI_AUDIT_SEGMENT": facts["segment"],
        "JICHITAI_AUDIT_KEY_FILE": str(dest / "keys" / "hmac.key"),
        "JICHITAI_AUDIT_SIGNING_KEY_FILE": str(dest / "keys" / "device-signing.key"),
        "JICHITAI_AUDIT_PUBLIC_KEY_FILE": str(dest / "keys" / "device-public.pem"),
        "JICHITAI_AUDIT_CHECKPOINT_DIR": str(dest / "var" / "checkpoints")})
    return env


# ---------------------------------------------------------------- the outbox (kit side)

def offline_mode() -> bool:
    return bool(getattr(settings, "JICHITAI_OFFLINE_DIR", ""))


def device() -> str:
    """The kit's device id when running as an offline kit, else ''."""
    if not offline_mode():
        return ""
    state = kit_state()
    return state.device if state else "offline"


def kit_state():
    from .offline_models import KitState

    return KitState.objects.first()


def record(kind: str, payload: dict, *, actor) -> None:
    """Kit side: append one outbox event in the caller's transaction (so the change and its event commit or
    vanish together). Does nothing on the platform."""
    if not offline_mode():
        return
    from django.db.models import Max

    from .offline_models import OutboxEvent

    state = kit_state()
    last = OutboxEvent.objects.aggregate(n=Max("seq"))["n"] or 0
    OutboxEvent.objects.create(uuid=str(uuidlib.uuid4()), seq=last + 1, device=state.device if state else "",
                               local_time=timezone.now(), kind=kind, actor=getattr(actor, "username", str(actor)),
                               payload=payload)


def certificate_block_check(issue_no: str):
    """Kit side: a certificate number must lie in the block reserved for this kit."""
    if not offline_mode():
        return
    state = kit_state()
    if state is None or int(issue_no) > state.block_end:
        raise ValidationError(
            f"オフライン発行用に予約した証明書番号（{state.block_start if state else '?'}〜"
            f"{state.block_end if state else '?'}）を使い切りました。ネットワーク復旧後に同期し、新しいキットを作成して"
            "ください。")


def queue_intake(user, *, kind: str, atena_no: str, notifier: str, memo: str, terminal: str = "system"):
    """Kit side: receive a 届出 offline (受付のみ). The register is not changed; the 届出 reaches the platform's
    受付待ち list at sync, with the person's version as it was here (a change on the platform meanwhile is a
    conflict)."""
    from jichitai.residents.models import Person

    if not has_perm(user, Perm.CHANGE_RESIDENTS):
        raise PermissionDenied
    if not offline_mode():
        raise ValidationError("オフライン受付はオフラインキットでのみ使えます。")
    m = require_municipality()
    errors = {}
    if kind not in dict(INTAKE_KINDS):
        errors["kind"] = "届出の種類を選んでください。"
    if not (notifier or "").strip():
        errors["notifier"] = "届出人を入力してください。"
    elif len(notifier.strip()) > 100:
        errors["notifier"] = "届出人は100文字以内で入力してください。"
    if not (memo or "").strip():
        errors["memo"] = "届出の内容を入力してください。"
    elif len(memo) > 2000:
        errors["memo"] = "内容は2000文字以内で入力してください。"
    person = None
    if (atena_no or "").strip():
        person = Person.objects.filter(atena_no=atena_no.strip()).first()
        if person is None:
            errors["atena_no"] = f"宛名番号 {atena_no.strip()} の住民が見つかりません。"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        payload = {"kind": kind, "atena_no": person.atena_no if person else "",
                   "person_version": person.version if person else None, "notifier": notifier.strip(),
                   "memo": memo.strip()}
        record("intake_queued", payload, actor=user)
        append(m, "offline.intake", actor=user, terminal=terminal, object_type="person",
               object_id=str(person.pk) if person else "", detail={"kind": kind})


from .offline_models import INTAKE_KINDS  # noqa: E402


# ---------------------------------------------------------------- export (kit side)

def export_outbox(out_path, *, dest=None) -> dict:
    """Kit side: write every outbox event and the current audit segment into one sync file, encrypted with the
    kit's sync key; then open a new segment for what is done after the export (the server must be stopped)."""
    from jichitai.audit.portable import export_lines, open_segment
    from jichitai.tenancy.models import Municipality

    from .offline_models import KitState, OutboxEvent

    dest = Path(dest or settings.JICHITAI_OFFLINE_DIR)
    pid = dest / "server.pid"
    if pid.exists():
        try:
            os.kill(int(pid.read_text().strip()), 0)
        except (ProcessLookupError, ValueError):
            pid.unlink()
        else:
            raise KitError("キットのサーバーが動いています。停止してから書き出してください / stop the kit's server first")
    facts = json.loads((dest / "kit.json").read_text(encoding="utf-8"))
    m = Municipality.objects.get(code=facts["municipality"])
    with tenant_scope(m):
        state = KitState.objects.get()
        events = [{"uuid": e.uuid, "seq": e.seq, "device": e.device, "local_time": e.local_time.isoformat(),
                   "kind": e.kind, "actor": e.actor, "payload": e.payload}
                  for e in OutboxEvent.objects.order_by("seq")]
        segment = state.segment_key
        audit = list(export_lines([segment]))
        body = _canonical({"format": SYNC_FORMAT, "municipality": m.code, "kit_id": facts["kit_id"],
                           "device": facts["device"], "events": events, "segment": segment, "audit": audit})
        aad = _canonical({"format": SYNC_FORMAT, "kit_id": facts["kit_id"], "device": facts["device"]})
        nonce, cipher = _seal(bytes.fromhex(facts["sync_key"]), body, aad)
        header = {"format": SYNC_FORMAT, "municipality": m.code, "kit_id": facts["kit_id"], "device": facts["device"],
                  "nonce": _b64(nonce), "events": len(events), "segment": segment,
                  "cipher_bytes": len(cipher), "cipher_sha256": hashlib.sha256(cipher).hexdigest()}
        _write_envelope(Path(out_path), header, cipher, None)
        with transaction.atomic():
            new = open_segment(m, facts["device"])
            KitState.objects.filter(pk=state.pk).update(segment_key=new, exported_at=timezone.now())
    facts["segment"] = new
    (dest / "kit.json").write_text(json.dumps(facts, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"events": len(events), "segment": segment, "next_segment": new}


# ---------------------------------------------------------------- sync (platform side)

APPLIERS = {}
SYNC_BATCH = 500  # events per transaction


def applier(kind):
    def deco(fn):
        APPLIERS[kind] = fn
        return fn
    return deco


class Conflict(Exception):
    """An event that cannot be applied as it is: it goes to the conflict queue with this reason."""


@applier("intake_queued")
def _apply_intake(kit, ev, user):
    from jichitai.residents.models import Person

    from .offline_models import OfflineIntake

    p = ev["payload"]
    if p.get("atena_no"):
        person = Person.objects.filter(atena_no=p["atena_no"]).first()
        if person is None:
            raise Conflict(f"宛名番号 {p['atena_no']} の住民がプラットフォームにありません")
        if p.get("person_version") is not None and person.version != p["person_version"]:
            raise Conflict("オフライン受付の後、この住民の記録がプラットフォームで変更されました（両方で変更）")
    OfflineIntake.objects.create(uuid=ev["uuid"], kit=kit, received_at=dt.datetime.fromisoformat(ev["local_time"]),
                                 received_by=ev["actor"], kind=p["kind"], atena_no=p.get("atena_no", ""),
                                 notifier=p["notifier"], memo=p["memo"])
    return "queued"


@applier("certificate_issued")
def _apply_certificate(kit, ev, user):
    from jichitai.certificates.actions import record_offline_issuance

    p = ev["payload"]
    no = int(p["issue_no"])
    if not kit.block_start <= no <= kit.block_end:
        raise Conflict(f"証明書番号 {p['issue_no']} はこのキットに予約した範囲（{kit.block_start}〜{kit.block_end}）の外です")
    try:
        record_offline_issuance(p, device=kit.device)
    except ValidationError as e:
        raise Conflict(" ".join(e.messages)) from None
    return "applied"


@applier("certificate_voided")
def _apply_certificate_void(kit, ev, user):
    from jichitai.certificates.actions import record_offline_void

    try:
        record_offline_void(ev["payload"], device=kit.device, username=ev.get("actor", ""), syncing_user=user,
                            kit_built_at=kit.built_at)
    except ValidationError as e:
        raise Conflict(" ".join(e.messages)) from None
    return "applied"


def _actor_of(ev):
    from jichitai.tenancy.models import StaffUser

    user = StaffUser.objects.filter(municipality=require_municipality(), username=ev["actor"], is_active=True).first()
    if user is None:
        raise Conflict(f"記録した職員 {ev['actor']} はこの団体の有効な職員ではありません")
    return user


@applier("evacuees_registered")
def _apply_evacuees(kit, ev, user):
    """Evacuees registered at an offline shelter: registered on the platform as the same staff member did, and
    matched there against the platform's register."""
    from jichitai.disaster import actions as disaster_actions

    try:
        disaster_actions.register_evacuees(_actor_of(ev), ev["payload"]["rows"],
                                           source=f"offline:{kit.device}"[:20], terminal=f"offline:{kit.device}")
    except (ValidationError, PermissionDenied) as e:
        raise Conflict("避難者を登録できません: " + (" ".join(e.messages) if isinstance(e, ValidationError)
                                                 else "権限がありません")) from None
    return "applied"


@applier("safety_note")
def _apply_safety_note(kit, ev, user):
    """A safety note written offline: about a resident (same id on both sides) it is applied; about an evacuee
    registered offline it cannot be tied to the platform's evacuee by id, so a person decides."""
    from jichitai.disaster import actions as disaster_actions

    p = ev["payload"]
    if not p.get("person_id"):
        raise Conflict(f"オフラインで登録した避難者（{p.get('evacuee_name') or '氏名不明'}）への安否情報です。同期後の"
                       "避難者を確かめて記録してください")
    try:
        disaster_actions.add_safety_note(_actor_of(ev), person_id=p["person_id"], status=p["status"], text=p["text"],
                                         author_name=p.get("author_name", ""),
                                         author_made_contact=p.get("author_made_contact"),
                                         last_known_location=p.get("last_known_location", ""),
                                         terminal=f"offline:{kit.device}")
    except (ValidationError, PermissionDenied) as e:
        raise Conflict("安否情報を記録できません: " + (" ".join(e.messages) if isinstance(e, ValidationError)
                                                 else "権限がありません")) from None
    return "applied"


def _sleep_hook():
    s = os.environ.get("JICHITAI_OFFLINE_SYNC_SLEEP")
    if s:
        time.sleep(float(s))


def read_sync_file(path) -> tuple:
    """(kit, body) of a sync file, decrypted and checked, for the municipality in scope."""
    from .offline_models import OfflineKit

    m = require_municipality()
    header, cipher, _, _ = _read_envelope(Path(path), SYNC_FORMAT)
    if header.get("municipality") != m.code:
        raise KitError(f"この同期ファイルは団体 {header.get('municipality')} のものです / the file belongs to "
                       f"municipality {header.get('municipality')}")
    kit = OfflineKit.objects.filter(pk=header.get("kit_id"), device=header.get("device")).first()
    if kit is None:
        raise KitError("このキットはこの団体で作成されていません / no such kit for this municipality")
    if kit.revoked_at:
        raise RevokedKit(kit)
    aad = _canonical({"format": SYNC_FORMAT, "kit_id": header["kit_id"], "device": header["device"]})
    try:
        nonce = _unb64(header["nonce"])
    except (KeyError, ValueError):
        raise KitError("同期ファイルの形式が正しくありません / malformed sync header") from None
    body = json.loads(_unseal(bytes.fromhex(kit.sync_key), nonce, cipher, aad))
    if body.get("kit_id") != kit.pk or body.get("municipality") != m.code:
        raise KitError("同期ファイルの内容が見出しと一致しません / the file's content does not match its header")
    return kit, body


def kit_key_id(kit) -> str:
    """The id of the audit HMAC key made for this kit alone (in the platform's keyring, verify-only); its tail is a
    digest of the kit's random sync key, so a kit id reused (a restored database) never names an older kit's key."""
    return f"kit-{kit.municipality.code}-{kit.pk}-{hashlib.sha256(kit.sync_key.encode()).hexdigest()[:8]}"


def _check_segment_key(kit, lines):
    """Every entry of a kit's audit segment is written with that kit's own key (not another key of the keyring)."""
    want = kit_key_id(kit)
    for text in lines:
        if text.strip() and json.loads(text).get("key_id") != want:
            raise KitError(f"監査ログのオフライン区間がこのキットの鍵（{want}）で書かれていません"
                           f" / the audit segment is not written with this kit's key ({want})")


def sync_file(user, path, *, terminal: str = "system") -> dict:
    """Platform side: apply a sync file. Idempotent and resumable: each event commits with its SyncedEvent row."""
    from jichitai.audit.models import AuditEvent
    from jichitai.audit.portable import SEGMENT_MERGE, PortableError, merge_segment

    from .offline_models import OfflineKit, SyncConflict, SyncedEvent

    if not has_perm(user, Perm.MANAGE_BCP):
        raise PermissionDenied
    m = require_municipality()
    try:
        kit, body = read_sync_file(path)
    except RevokedKit as e:
        _refused_sync(user, e.kit, terminal)
        raise
    done = set(SyncedEvent.objects.filter(kit=kit).values_list("uuid", flat=True))
    pending = [ev for ev in body["events"] if ev["uuid"] not in done]
    counts = {"applied": 0, "queued": 0, "conflict": 0, "already": len(body["events"]) - len(pending)}
    batch = max(1, int(os.environ.get("JICHITAI_OFFLINE_SYNC_BATCH", SYNC_BATCH)))
    try:
        for start in range(0, len(pending), batch):
            # one transaction per batch: its events' effects and their SyncedEvent rows commit together, so a sync
            # killed at any point has applied whole batches only, and a rerun skips exactly those
            with transaction.atomic():
                # the kit's row is locked for the batch: a revocation in between waits for it, and a batch after a
                # revocation applies nothing (the batches already committed stay, as they reached the platform before)
                locked = OfflineKit.objects.select_for_update().get(pk=kit.pk)
                if locked.revoked_at:
                    raise RevokedKit(locked)
                synced = []
                for ev in pending[start:start + batch]:
                    fn = APPLIERS.get(ev["kind"])
                    try:
                        if fn is None:
                            raise Conflict(f"この種類の記録（{ev['kind']}）はまだ自動で反映できません")
                        with transaction.atomic():  # a conflicting event leaves nothing of itself behind
                            result = fn(kit, ev, user)
                    except Conflict as c:
                        SyncConflict.objects.create(uuid=ev["uuid"], kit=kit, kind=ev["kind"], payload=ev,
                                                    reason=str(c)[:300], created_at=timezone.now())
                        result = "conflict"
                    synced.append(SyncedEvent(municipality=m, uuid=ev["uuid"], kit=kit, kind=ev["kind"],
                                              result=result, synced_at=timezone.now()))
                    counts[result] += 1
                    _sleep_hook()
                SyncedEvent.objects.bulk_create(synced)
    except RevokedKit as e:  # revoked while this sync ran: the batches committed before stay
        _refused_sync(user, e.kit, terminal)
        raise
    merged = AuditEvent.objects.filter(action=SEGMENT_MERGE, object_id=body["segment"]).exists()
    if not merged and body["audit"]:
        _check_segment_key(kit, body["audit"])
        try:
            merge_segment(body["audit"], actor=user, terminal=terminal)
        except PortableError as e:
            raise KitError(f"監査ログのオフライン区間を取り込めません: {e}") from None
    with transaction.atomic():
        OfflineKit.objects.filter(pk=kit.pk).update(last_synced_at=timezone.now())
        append(m, "offline.sync", actor=user, terminal=terminal, object_type="offline_kit", object_id=str(kit.pk),
               detail={**counts, "segment": body["segment"], "segment_merged_before": merged})
    return {**counts, "segment": body["segment"], "events": len(body["events"])}


def _refused_sync(user, kit, terminal):
    """Record that a revoked kit's sync file was presented (a lost laptop's data turning up is worth knowing)."""
    with transaction.atomic():
        append(require_municipality(), "offline.sync_refused", actor=user, terminal=terminal,
               object_type="offline_kit", object_id=str(kit.pk), detail={"device": kit.device, "reason": "revoked"})


def _ranges(numbers: list[int]) -> list[list[int]]:
    out = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def void_ranges_of(kit) -> list[list[int]]:
    """The kit's reserved certificate numbers that no certificate in the 交付簿 carries, as [[first, last], …]."""
    from jichitai.certificates.models import Issuance

    used = set()
    for no in Issuance.objects.filter(offline_device=kit.device).values_list("issue_no", flat=True):
        if no.isdigit() and kit.block_start <= int(no) <= kit.block_end:
            used.add(int(no))
    return _ranges([n for n in range(kit.block_start, kit.block_end + 1) if n not in used])


def revoke_kit(user, kit_id: int, *, reason: str, terminal: str = "system"):
    """Revoke an issued offline kit (a lost or stolen laptop), one transaction and one audit event: its sync files
    are refused from now on, and its reserved certificate numbers that the 交付簿 does not hold become void (欠番) —
    recorded on the kit and in the audit event, shown with the 交付簿."""
    from .offline_models import OfflineKit

    if not has_perm(user, Perm.MANAGE_BCP):
        raise PermissionDenied
    m = require_municipality()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "失効の理由を入力してください（例: ノートPCの紛失）。"})
    if len(reason) > 200:
        raise ValidationError({"reason": "失効の理由は200文字以内で入力してください。"})
    with transaction.atomic():
        kit = OfflineKit.objects.select_for_update().filter(pk=kit_id).first()
        if kit is None:
            raise ValidationError("指定されたオフラインキットが見つかりません。")
        if kit.revoked_at:
            raise ValidationError(f"端末 {kit.device} のキットはすでに失効しています。")
        void = void_ranges_of(kit)
        kit.revoked_at, kit.revoked_by, kit.revoke_reason, kit.void_ranges = timezone.now(), user.username, reason, void
        kit.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "void_ranges"])
        append(m, "offline.kit_revoke", actor=user, terminal=terminal, object_type="offline_kit",
               object_id=str(kit.pk), detail={"device": kit.device, "block_start": kit.block_start,
                                              "block_end": kit.block_end, "void_ranges": void,
                                              "void_count": kit.void_count, "reason": reason})
    return kit


def decide_conflict(user, conflict_id: int, *, accept: bool, note: str, terminal: str = "system"):
    """A person decides a conflict: accept (apply it as it is: a 届出 goes to the 受付待ち list) or discard."""
    from .offline_models import OfflineIntake, SyncConflict

    if not has_perm(user, Perm.MANAGE_BCP):
        raise PermissionDenied
    m = require_municipality()
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "判断の理由を入力してください。"})
    if len(note) > 200:
        raise ValidationError({"note": "判断の理由は200文字以内で入力してください。"})
    with transaction.atomic():
        c = SyncConflict.objects.select_for_update().filter(pk=conflict_id).first()
        if c is None:
            raise ValidationError("指定された競合が見つかりません。")
        if c.status != "open":
            raise ValidationError("この競合はすでに判断されています。")
        if accept:
            if c.kind != "intake_queued":
                raise ValidationError("この種類の記録は破棄のみできます（内容を確認し、必要なら窓口で登録してください）。")
            ev, p = c.payload, c.payload["payload"]
            OfflineIntake.objects.create(uuid=c.uuid, kit=c.kit, received_at=dt.datetime.fromisoformat(ev["local_time"]),
                                         received_by=ev["actor"], kind=p["kind"], atena_no=p.get("atena_no", ""),
                                         notifier=p["notifier"], memo=p["memo"])
        c.status = "accepted" if accept else "discarded"
        c.decided_by, c.decided_at, c.decision_note = user.username, timezone.now(), note
        c.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        append(m, "offline.conflict_decide", actor=user, terminal=terminal, object_type="sync_conflict",
               object_id=str(c.pk), detail={"accept": accept, "kind": c.kind})
    return c


def finish_intake(user, intake_id: int, *, terminal: str = "system"):
    """A clerk has entered (or dealt with) a 届出 received offline."""
    from .offline_models import OfflineIntake

    if not has_perm(user, Perm.CHANGE_RESIDENTS):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        it = OfflineIntake.objects.select_for_update().filter(pk=intake_id).first()
        if it is None:
            raise ValidationError("指定された受付が見つかりません。")
        if it.status != "pending":
            raise ValidationError("この受付はすでに処理済みです。")
        it.status, it.done_by, it.done_at = "done", user.username, timezone.now()
        it.save(update_fields=["status", "done_by", "done_at"])
        append(m, "offline.intake_done", actor=user, terminal=terminal, object_type="offline_intake",
               object_id=str(it.pk))
    return it


AUDIT_LABELS = {
    "offline.kit_build": "オフラインキットの作成", "offline.sync": "オフラインキットの同期",
    "offline.intake": "オフライン受付（届出）", "offline.intake_done": "オフライン受付の処理",
    "offline.conflict_decide": "同期の競合の判断",
    "offline.kit_revoke": "オフラインキットの失効", "offline.sync_refused": "失効したキットの同期の拒否",
    "certificate.offline_record": "オフライン発行の証明書の交付簿への登録",
}

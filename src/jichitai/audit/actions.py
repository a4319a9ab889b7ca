"""Writing audit entries. Every change, view, search and export calls `record_event` (or `append` inside an
already open transaction). Version 2 (every new entry): the entry's MAC is HMAC-SHA256(key, prev_hash ||
canonical entry) over natural keys only — chain key, sequence, time, actor's username and role, action, object,
terminal, detail, key id — with a key kept outside the database (keys.py). Version 1 rows (SHA-256 including the
municipality's and actor's database ids) were written before and are verified as they are."""
import datetime as dt
import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jichitai.tenancy.scope import in_scope_of_first_argument

from . import keys
from .models import HASH_V2, AuditChain, AuditEvent
from .terminals import terminal_of  # noqa: F401  (re-exported: the one function that names a request's terminal)

GENESIS = "0" * 64

# Keys never written to the audit log, whatever a caller passes (個人番号 must never be logged).
FORBIDDEN_DETAIL_KEYS = {"individual_number", "password"}


def canonical_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_key_for(municipality) -> str:
    """The municipality's chain — or, on an offline copy started with JICHITAI_AUDIT_SEGMENT=<code>~<segment id>,
    that municipality's segment (segments.py)."""
    if municipality is None:
        return "platform"
    seg = settings.JICHITAI_AUDIT_SEGMENT
    if seg and seg.startswith(municipality.code + "~"):
        return seg
    return municipality.code


def _at(e) -> str:
    return e.occurred_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def entry_payload_v2(e) -> dict:
    """What a version-2 MAC covers: natural keys only, no database id, so a chain verifies after a restore into
    another database (other primary keys, other municipality ids)."""
    return {
        "v": 2,
        "chain": e.chain_key,
        "seq": e.seq,
        "at": _at(e),
        "actor": e.actor_username,
        "role": e.actor_role,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "terminal": e.terminal,
        "detail": e.detail,
        "key_id": e.key_id,
    }


def entry_payload(e) -> dict:
    """Version 1 (rows written before version 2): the fields its SHA-256 covers, database ids included."""
    return {
        "chain": e.chain_key,
        "seq": e.seq,
        "municipality": e.municipality_id,
        "at": _at(e),
        "actor_id": e.actor_id,
        "actor": e.actor_username,
        "role": e.actor_role,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "terminal": e.terminal,
        "detail": e.detail,
    }


def mac_v2(key: bytes, prev_hash: str, e) -> str:
    return hmac.new(key, (prev_hash + canonical_json(entry_payload_v2(e))).encode("utf-8"), hashlib.sha256).hexdigest()


def compute_hash(prev_hash: str, e, ring=None) -> str:
    """The entry's hash under its own version. Version 2 needs the HMAC key named by `e.key_id`: without the
    keyring (an attacker with database access only) no valid version-2 hash can be produced."""
    if e.hash_version == HASH_V2:
        ring = ring or keys.keyring()
        key = ring.key(e.key_id)
        if key is None:
            raise keys.AuditKeyError(f"HMAC鍵 {e.key_id} が鍵ファイルにありません / HMAC key {e.key_id} is not in "
                                     f"the keyring ({ring.source})")
        return mac_v2(key, prev_hash, e)
    return hashlib.sha256((prev_hash + canonical_json(entry_payload(e))).encode("utf-8")).hexdigest()


def _scrub(detail):
    if isinstance(detail, dict):
        return {k: ("(記録しません)" if k in FORBIDDEN_DETAIL_KEYS else _scrub(v)) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_scrub(v) for v in detail]
    return detail


_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if f.attname != "id"]
_INSERT_SQL = "INSERT INTO {table} ({cols}) VALUES ({params}) RETURNING {pk}".format(
    table=AuditEvent._meta.db_table, cols=", ".join(f.column for f in _EVENT_FIELDS),
    params=", ".join(["%s"] * len(_EVENT_FIELDS)), pk=AuditEvent._meta.pk.column)
_CHAIN = AuditChain._meta.db_table


@in_scope_of_first_argument
def append(municipality, action, *, actor=None, terminal="system", object_type="", object_id="", detail=None,
           chain=None):
    """Append one entry. Must run inside a transaction: the chain head row is locked (FOR UPDATE on PostgreSQL;
    SQLite's IMMEDIATE transactions already serialise writers) until commit.

    This runs on every view, search and change, so it is three plain SQL statements rather than ORM calls. Every
    JICHITAI_AUDIT_CHECKPOINT_EVERY-th entry, and the first version-2 entry of a chain, is checkpointed (signed,
    outside the database) once the transaction commits."""
    ring = keys.keyring()  # raises AuditKeyError before anything is written when a required key is missing
    key = chain or chain_key_for(municipality)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = f"SELECT id, last_seq, last_hash, hash_version FROM {_CHAIN} WHERE key = %s{lock}"
    with connection.cursor() as cur:
        cur.execute(select, [key])
        row = cur.fetchone()
        if row is None:
            if "~" in key:
                raise keys.AuditKeyError(f"オフライン区間 {key} は開始されていません / segment {key} was never opened")
            AuditChain.objects.get_or_create(key=key)
            cur.execute(select, [key])
            row = cur.fetchone()
        head_id, last_seq, last_hash, head_version = row
        e = AuditEvent(
            chain_key=key,
            seq=last_seq + 1,
            municipality=municipality,
            occurred_at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_username=getattr(actor, "username", "") or "",
            actor_role=getattr(actor, "role", "") or "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            terminal=terminal[:120],
            detail=canonical_json(_scrub(detail or {})),
            prev_hash=last_hash,
            hash_version=HASH_V2,
            key_id=ring.current,
        )
        e.entry_hash = mac_v2(ring.keys[ring.current], last_hash, e)
        cur.execute(_INSERT_SQL, [f.get_db_prep_save(getattr(e, f.attname), connection) for f in _EVENT_FIELDS])
        e.pk = cur.fetchone()[0]
        e._state.adding = False
        if head_version == HASH_V2:
            cur.execute(f"UPDATE {_CHAIN} SET last_seq = %s, last_hash = %s WHERE id = %s",
                        [e.seq, e.entry_hash, head_id])
        else:
            cur.execute(f"UPDATE {_CHAIN} SET last_seq = %s, last_hash = %s, hash_version = %s WHERE id = %s",
                        [e.seq, e.entry_hash, HASH_V2, head_id])
    every = settings.JICHITAI_AUDIT_CHECKPOINT_EVERY
    if head_version != HASH_V2 or (every and e.seq % every == 0):
        from .checkpoints import write_after_commit

        write_after_commit(key, e.seq, e.entry_hash)
    return e


def record_event(municipality, action, *, actor=None, request=None, object_type="", object_id="", detail=None):
    terminal = terminal_of(request, municipality)
    with transaction.atomic():
        return append(municipality, action, actor=actor, terminal=terminal,
                      object_type=object_type, object_id=object_id, detail=detail)

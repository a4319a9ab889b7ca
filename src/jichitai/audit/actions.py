"""Writing audit entries. Every change, view, search and export calls `record_event` (or `append` inside an
already open transaction): the entry's SHA-256 covers the previous entry's hash and the canonical entry."""
import datetime as dt
import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone

from jichitai.tenancy.scope import in_scope_of_first_argument

from .models import AuditChain, AuditEvent

# Keys never written to the audit log, whatever a caller passes (個人番号 must never be logged).
FORBIDDEN_DETAIL_KEYS = {"individual_number", "password"}


def canonical_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_key_for(municipality) -> str:
    return municipality.code if municipality is not None else "platform"


def entry_payload(e) -> dict:
    """The fields an entry's hash covers, in canonical form (shared by append and verify)."""
    return {
        "chain": e.chain_key,
        "seq": e.seq,
        "municipality": e.municipality_id,
        "at": e.occurred_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
        "actor_id": e.actor_id,
        "actor": e.actor_username,
        "role": e.actor_role,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "terminal": e.terminal,
        "detail": e.detail,
    }


def compute_hash(prev_hash: str, e) -> str:
    return hashlib.sha256((prev_hash + canonical_json(entry_payload(e))).encode("utf-8")).hexdigest()


def terminal_of(request) -> str:
    if request is None:
        return "system"
    term = request.headers.get("X-Terminal-Id", "")[:40]
    addr = request.META.get("REMOTE_ADDR", "")
    return f"{term}@{addr}" if term else addr


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
def append(municipality, action, *, actor=None, terminal="system", object_type="", object_id="", detail=None):
    """Append one entry. Must run inside a transaction: the chain head row is locked (FOR UPDATE on PostgreSQL;
    SQLite's IMMEDIATE transactions already serialise writers) until commit.

    This runs on every view, search and change, so it is three plain SQL statements rather than ORM calls."""
    key = chain_key_for(municipality)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, last_seq, last_hash FROM {_CHAIN} WHERE key = %s{lock}", [key])
        row = cur.fetchone()
        if row is None:
            AuditChain.objects.get_or_create(key=key)
            cur.execute(f"SELECT id, last_seq, last_hash FROM {_CHAIN} WHERE key = %s{lock}", [key])
            row = cur.fetchone()
        head_id, last_seq, last_hash = row
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
        )
        e.entry_hash = compute_hash(last_hash, e)
        cur.execute(_INSERT_SQL, [f.get_db_prep_save(getattr(e, f.attname), connection) for f in _EVENT_FIELDS])
        e.pk = cur.fetchone()[0]
        e._state.adding = False
        cur.execute(f"UPDATE {_CHAIN} SET last_seq = %s, last_hash = %s WHERE id = %s", [e.seq, e.entry_hash, head_id])
    return e


def record_event(municipality, action, *, actor=None, request=None, object_type="", object_id="", detail=None):
    with transaction.atomic():
        return append(municipality, action, actor=actor, terminal=terminal_of(request),
                      object_type=object_type, object_id=object_id, detail=detail)

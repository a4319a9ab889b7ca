"""Writing audit entries. Every change, view, search and export calls `record_event` (or `append` inside an
already open transaction): the entry's SHA-256 covers the previous entry's hash and the canonical entry."""
import datetime as dt
import hashlib
import json

from django.db import transaction
from django.utils import timezone

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


def append(municipality, action, *, actor=None, terminal="system", object_type="", object_id="", detail=None):
    """Append one entry. Must run inside a transaction (the chain head row is locked until commit)."""
    key = chain_key_for(municipality)
    head = AuditChain.objects.select_for_update().filter(key=key).first()
    if head is None:
        head, _ = AuditChain.objects.get_or_create(key=key)
        head = AuditChain.objects.select_for_update().get(pk=head.pk)
    e = AuditEvent(
        chain_key=key,
        seq=head.last_seq + 1,
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
        prev_hash=head.last_hash,
    )
    e.entry_hash = compute_hash(head.last_hash, e)
    e.save(force_insert=True)
    AuditChain.objects.filter(pk=head.pk).update(last_seq=e.seq, last_hash=e.entry_hash)
    return e


def record_event(municipality, action, *, actor=None, request=None, object_type="", object_id="", detail=None):
    with transaction.atomic():
        return append(municipality, action, actor=actor, terminal=terminal_of(request),
                      object_type=object_type, object_id=object_id, detail=detail)

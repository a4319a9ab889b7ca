"""Terminals (端末): which terminal an audit entry or a history row names.

A client sends `X-Terminal-Id`; anyone can set that header, so it is only *recorded*, never trusted for anything.
It is recorded as `<id>@<address>` only when it names an active terminal registered for the municipality the entry
belongs to; otherwise as `unregistered:<sanitised value>@<address>`. `terminal_of` is the one function that makes
this string, for audit entries (`record_event`) and for history rows (`residents.actions.Actor.from_request`).
"""
import re
import time

from django.db import IntegrityError, transaction

from jichitai.tenancy.scope import tenant_scope

TERMINAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
UNREGISTERED = "unregistered:"
CACHE_SECONDS = 10.0  # a registration or a disabling reaches other processes within this time
CACHE_LIMIT = 10_000
_cache: dict = {}


class TerminalError(Exception):
    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def sanitise(value: str) -> str:
    """Letters, digits, '-', '_' and '.' kept, anything else (separators, control characters) as '_'; 32 at most."""
    return "".join(c if (c.isalnum() or c in "-_.") else "_" for c in value[:32])


def is_registered(municipality, terminal_id: str) -> bool:
    if not TERMINAL_ID_RE.match(terminal_id):
        return False
    k = (municipality.pk, terminal_id)
    hit = _cache.get(k)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    from .models import Terminal

    with tenant_scope(municipality):
        ok = Terminal.objects.filter(terminal_id=terminal_id, is_active=True).exists()
    if len(_cache) >= CACHE_LIMIT:  # header values are the client's: never let them grow the cache without bound
        _cache.clear()
    _cache[k] = (ok, now + CACHE_SECONDS)
    return ok


def terminal_of(request, municipality=None) -> str:
    """The terminal recorded for `request` on `municipality`'s records (default: the request's municipality)."""
    if request is None:
        return "system"
    addr = request.META.get("REMOTE_ADDR", "")
    raw = request.headers.get("X-Terminal-Id", "")
    if not raw:
        return addr
    if municipality is None:
        municipality = getattr(request, "municipality", None)
    tid = raw.strip()
    if municipality is not None and is_registered(municipality, tid):
        return f"{tid}@{addr}"
    return f"{UNREGISTERED}{sanitise(raw)}@{addr}"


def _check_admin(user, municipality):
    from jichitai.tenancy.roles import Perm, has_perm

    if not has_perm(user, Perm.VIEW_AUDIT) or getattr(user, "municipality_id", None) != municipality.pk:
        raise TerminalError({"__all__": "端末を管理する権限がありません"})


def register_terminal(user, terminal_id: str, name: str, *, request=None):
    """Register an active terminal for the user's municipality (one transaction, one audit event)."""
    from .actions import record_event
    from .models import Terminal

    m = user.municipality
    _check_admin(user, m)
    terminal_id, name = (terminal_id or "").strip(), (name or "").strip()
    errors = {}
    if not TERMINAL_ID_RE.match(terminal_id):
        errors["terminal_id"] = "端末IDは半角英数字で始まり、半角英数字・「-」「_」「.」からなる40文字以内で入力してください"
    if not name:
        errors["name"] = "端末名を入力してください"
    elif len(name) > 100:
        errors["name"] = "端末名は100文字以内で入力してください"
    if errors:
        raise TerminalError(errors)
    with tenant_scope(m):
        try:
            with transaction.atomic():
                t = Terminal.objects.create(terminal_id=terminal_id, name=name)
                record_event(m, "audit.terminal.register", actor=user, request=request, object_type="terminal",
                             object_id=terminal_id, detail={"terminal_id": terminal_id, "name": name})
        except IntegrityError:
            raise TerminalError({"terminal_id": f"端末ID {terminal_id} は既に登録されています"}) from None
    _cache.clear()
    return t


def set_terminal_active(user, terminal, active: bool, *, request=None):
    from .actions import record_event
    from .models import Terminal

    m = user.municipality
    _check_admin(user, m)
    with tenant_scope(m), transaction.atomic():
        t = Terminal.objects.select_for_update().get(pk=terminal.pk)
        if t.is_active != active:
            Terminal.objects.filter(pk=t.pk).update(is_active=active)
            t.is_active = active
            record_event(m, "audit.terminal.enable" if active else "audit.terminal.disable", actor=user,
                         request=request, object_type="terminal", object_id=t.terminal_id,
                         detail={"terminal_id": t.terminal_id, "name": t.name})
    _cache.clear()
    return t

"""Request metrics per municipality, cheap on the hot path: the middleware adds to counters in this process's memory
(a dict update under a lock, no database work), and every FLUSH_SECONDS one request flushes them with one UPDATE
per (municipality, day, kind) counter row (an INSERT the first time). Never one row per request.

Counters: requests, 5xx errors, total milliseconds and six latency buckets (≤100, ≤250, ≤500, ≤1000, ≤2500 ms,
slower), enough for availability (success rate) and a 95th-percentile bound."""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import LATENCY_BUCKETS_MS, RequestMetric

_lock = threading.Lock()
_pending: dict = {}
_last_flush = [time.monotonic()]
SKIP_PREFIXES = ("/static/", "/fonts/", "/favicon", "/platform/probe/")


def bucket(ms: float) -> int:
    for i, bound in enumerate(LATENCY_BUCKETS_MS):
        if ms <= bound:
            return i
    return len(LATENCY_BUCKETS_MS)


def record(municipality_id, kind: str, ms: float, error: bool, day=None):
    key = (municipality_id, day or timezone.localdate(), kind)
    with _lock:
        c = _pending.get(key)
        if c is None:
            c = _pending[key] = [0, 0, 0, 0, 0, 0, 0, 0, 0]
        c[0] += 1
        c[1] += 1 if error else 0
        c[2] += int(ms)
        c[3 + bucket(ms)] += 1


def due() -> bool:
    return time.monotonic() - _last_flush[0] >= getattr(settings, "JICHITAI_METRICS_FLUSH_SECONDS", 10)


def flush() -> int:
    """Write the pending counters (one UPDATE, or INSERT, per counter row). Returns the rows touched."""
    with _lock:
        items = list(_pending.items())
        _pending.clear()
        _last_flush[0] = time.monotonic()
    if not items:
        return 0
    from jichitai.tenancy.models import Municipality

    ids = {mid for (mid, _d, _k), _c in items if mid is not None}
    live = set(Municipality.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    items = [it for it in items if it[0][0] is None or it[0][0] in live]  # a municipality gone (contract exit)
    for (mid, day, kind), c in items:
        names = ("requests", "errors", "total_ms", "b0", "b1", "b2", "b3", "b4", "b5")
        inc = {n: F(n) + v for n, v in zip(names, c) if v}
        with transaction.atomic():
            if RequestMetric.objects.filter(municipality_id=mid, day=day, kind=kind).update(**inc):
                continue
            try:
                with transaction.atomic():
                    RequestMetric.objects.create(municipality_id=mid, day=day, kind=kind, **dict(zip(names, c)))
            except IntegrityError:
                RequestMetric.objects.filter(municipality_id=mid, day=day, kind=kind).update(**inc)
    return len(items)


_codes: dict = {}


def _api_municipality(path: str):
    """The municipality an API path names (/api/v1/municipalities/<code>/…), by a per-process code → id map."""
    parts = path.split("/")
    if len(parts) < 5 or parts[3] != "municipalities":
        return None
    code = parts[4]
    if code not in _codes:
        from jichitai.tenancy.models import Municipality

        if len(_codes) > 5000:
            _codes.clear()
        _codes[code] = Municipality.objects.filter(code=code).values_list("pk", flat=True).first()
    return _codes[code]


def reset():
    with _lock:
        _pending.clear()


class RequestMetricsMiddleware:
    """After TenantMiddleware (request.municipality is set). Measures the inner stack's time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(SKIP_PREFIXES):
            return self.get_response(request)
        t0 = time.perf_counter()
        error = True
        try:
            response = self.get_response(request)
            error = response.status_code >= 500
            return response
        finally:
            m = getattr(request, "municipality", None)
            kind = "api" if request.path.startswith("/api/") else "web"
            mid = getattr(m, "pk", None)
            if mid is None and kind == "api":
                mid = _api_municipality(request.path)
            record(mid, kind, (time.perf_counter() - t0) * 1000, error)
            if due():
                try:
                    flush()
                except Exception:  # measuring must never break a request; the counters are lost, not the answer
                    pass

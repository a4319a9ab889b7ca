"""The change-feed API (GET only, bearer key, JSON). No session, no CSRF (nothing is changed by a request except
the audit log and the feed's own positions)."""
import functools
import re

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from jichitai.audit.actions import record_event
from jichitai.tenancy.scope import tenant_scope

from .auth import actor_of, authenticate
from .feed import DEFAULT_LIMIT, MAX_LIMIT, read_changes
from .models import ApiClient
from .openapi import document

CURSOR_RE = re.compile(r"^[0-9]{1,18}$")
LIMIT_RE = re.compile(r"^[0-9]{1,7}$")

ERRORS = {
    "unauthorized": ("有効なAPIキーが必要です（Authorization: Bearer <キー>）",
                     "A valid API key is required (Authorization: Bearer <key>)"),
    "not_found": ("指定された自治体は見つかりません", "No such municipality"),
    "invalid_after": ("after は前回の応答の cursor または next の値を指定してください（0以上の整数）",
                      "after must be a cursor or next value from a previous response (a non-negative integer)"),
    "invalid_limit": (f"limit は1から{MAX_LIMIT}までの整数で指定してください",
                      f"limit must be an integer from 1 to {MAX_LIMIT}"),
    "method_not_allowed": ("このAPIは GET だけを受け付けます", "This API accepts GET only"),
    "no_such_endpoint": ("このURLのAPIはありません（/api/v1/openapi.json を参照してください）",
                         "No API at this URL (see /api/v1/openapi.json)"),
}
ALLOW = "GET, HEAD, OPTIONS"


def _json(data, status=200, **headers):
    r = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    r["Cache-Control"] = "no-store"
    for k, v in headers.items():
        r[k] = v
    return r


def _parse(request):
    after = request.GET.get("after", "0")
    if not CURSOR_RE.match(after):
        return None, error("invalid_after", 400, parameter="after")
    limit = request.GET.get("limit", str(DEFAULT_LIMIT))
    if not LIMIT_RE.match(limit) or not 1 <= int(limit) <= MAX_LIMIT:
        return None, error("invalid_limit", 400, parameter="limit")
    return (int(after), int(limit)), None


def read_only(view):
    """Every API endpoint: GET and HEAD reach the view; OPTIONS answers 204 with `Allow`; any other method 405 with
    a JSON error and `Allow`. No CSRF check (the API has no session and changes nothing a form could forge), so a
    POST gets this JSON answer, not the web pages' CSRF refusal."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        if request.method == "OPTIONS":
            r = HttpResponse(status=204)
            r["Allow"] = ALLOW
            return r
        return error("method_not_allowed", 405, method=request.method[:16], allow=ALLOW.split(", "))

    return csrf_exempt(wrapper)


def error(code: str, status: int, **extra):
    ja, en = ERRORS[code]
    headers = {"WWW-Authenticate": 'Bearer realm="jichitai"'} if status == 401 else {}
    if status == 405:
        headers["Allow"] = ALLOW
    return _json({"error": {"code": code, "message": f"{ja} / {en}", "message_ja": ja, "message_en": en,
                            **extra}}, status=status, **headers)


@read_only
def changes(request, code):
    client, reason = authenticate(request)
    if client is None or reason:
        if reason == "revoked":
            record_event(client.municipality, "api.auth.revoked_key", actor=actor_of(client), request=request,
                         object_type="api_client", object_id=client.pk, detail={"client": client.key_prefix})
        return error("unauthorized", 401)
    m = client.municipality
    if code != m.code:
        # another municipality's code (or none): 404 exactly like an unknown code, so nothing about it is revealed
        record_event(m, "api.changes.denied", actor=actor_of(client), request=request, object_type="api_client",
                     object_id=client.pk, detail={"client": client.key_prefix, "system": client.system_name,
                                                  "requested_code": code[:10]})
        return error("not_found", 404)
    parsed, bad = _parse(request)
    if bad:
        return bad
    after, limit = parsed
    with tenant_scope(m):
        page = read_changes(client, after, limit)
        now = timezone.now()
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    record_event(m, "api.changes.read", actor=actor_of(client), request=request, object_type="api_client",
                 object_id=client.pk,
                 detail={"client": client.key_prefix, "system": client.system_name, "after": str(after),
                         "limit": limit, "count": len(page["items"]), "next": page["next"],
                         "has_more": page["has_more"]})
    return _json(page)


@read_only
def openapi(request):
    return _json(document())


@csrf_exempt
def no_such_endpoint(request, rest=""):
    """Any other URL under /api/: a JSON 404 for every method (not the web pages' HTML)."""
    return error("no_such_endpoint", 404)

"""The public verification page (証明書の照合): anyone holding a certificate can check its code, without signing in.

It shows only what the certificate itself says about its issue — municipality, kind, issue date, pages, the PDF's
SHA-256 and the status — never a name, an address, a person id, the 発行番号 or the requester. Every request is
written to `VerificationLog` (platform-level), more than JICHITAI_VERIFY_RATE requests per client within
JICHITAI_VERIFY_WINDOW_SECONDS get HTTP 429 without any lookup, and each authentic lookup (valid or voided) is
appended to the issuing municipality's audit chain.
"""
import base64
import datetime as dt
import functools
import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from jichitai.audit.actions import append
from jichitai.common.wareki import format_wareki
from jichitai.web.middleware import SecurityHeadersMiddleware

from .models import VerificationLog, VerificationResult
from .signing import check_code, normalise

LOG_CODE_LENGTH = 120  # VerificationLog.code
MAX_INPUT = 300
RATE_LIMIT_MESSAGE = "照合の回数が上限を超えました。しばらく（1分ほど）待ってから、もう一度お試しください。"


@functools.cache
def _script():
    """The optional in-browser PDF check, inline, allowed by its hash in this page's Content-Security-Policy."""
    js = render_to_string("certificates/verify_script.html").strip()
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    base = SecurityHeadersMiddleware.CSP
    if "script-src 'self'" not in base:  # the site policy changed shape: leave the optional check out
        return "", None
    return mark_safe(js), base.replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'", 1)


def _client(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown")[:64]


def _printable(text: str, limit: int) -> str:
    """For the log and the page: control characters (a NUL is refused by PostgreSQL) replaced, length capped."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text[:limit])


def _public(response):
    add_never_cache_headers(response)  # a result may change (a certificate can be voided later)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def extract_code(text: str) -> str:
    """What was typed or pasted: a code, or a whole verification URL (its last path segment is the code)."""
    s = (text or "").strip()[:MAX_INPUT]
    if "://" in s:
        try:
            s = urlsplit(s).path
        except ValueError:
            pass
    s = s.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return "".join(ch for ch in s if ch.isprintable() and not ch.isspace())


@require_safe
def verify_form(request):
    error = ""
    typed = request.GET.get("code")
    if typed is not None:
        code = extract_code(typed)
        if code:
            try:
                return redirect(reverse("certificate_verify", kwargs={"code": code}))
            except NoReverseMatch:
                pass
        error = "照合コードを入力してください（証明書に印刷された英数字、またはQRコードのURL）。"
    context = {"typed": (typed or "")[:MAX_INPUT], "error": error}
    return _public(render(request, "certificates/verify_form.html", context, status=400 if error else 200))


def _rate_limited(client: str, now) -> bool:
    window = dt.timedelta(seconds=settings.JICHITAI_VERIFY_WINDOW_SECONDS)
    limit = settings.JICHITAI_VERIFY_RATE
    # counted from the log, so the limit holds across processes and servers
    return VerificationLog.objects.filter(client=client, at__gt=now - window)[:limit].count() >= limit


def facts(check) -> dict:
    """The public facts of an authentic (valid or voided) issuance; nothing about the persons or the requester."""
    i, m = check.issuance, check.municipality
    return {
        "municipality": {"code": m.code, "prefecture": m.prefecture.name, "name": m.name},
        "kind": i.kind,
        "kind_label": i.get_kind_display(),
        "issue_date": i.issue_date.isoformat(),
        "issue_date_wareki": format_wareki(i.issue_date),
        "page_count": i.page_count,
        "pdf_sha256": i.pdf_sha256,
        "status": i.status,
        "status_label": i.get_status_display(),
    }


@require_safe
def verify(request, code):
    code = code[:-1] if code.endswith("/") else code  # a pasted URL's trailing slash
    client = _client(request)
    now = timezone.now()
    as_json = request.GET.get("format") == "json"
    logged = _printable(code, LOG_CODE_LENGTH)

    if _rate_limited(client, now):
        VerificationLog.objects.create(at=now, client=client, code=logged, result=VerificationResult.RATE_LIMITED)
        if as_json:
            response = JsonResponse({"result": "rate_limited", "message": RATE_LIMIT_MESSAGE}, status=429,
                                    json_dumps_params={"ensure_ascii": False})
        else:
            response = render(request, "certificates/verify_limited.html", {"message": RATE_LIMIT_MESSAGE},
                              status=429)
        response["Retry-After"] = str(settings.JICHITAI_VERIFY_WINDOW_SECONDS)
        return _public(response)

    check = check_code(code)
    authentic = check.issuance is not None and check.result in (VerificationResult.VALID, VerificationResult.VOIDED)
    with transaction.atomic():
        VerificationLog.objects.create(at=now, client=client, code=logged, result=check.result,
                                       municipality=check.municipality, issuance=check.issuance)
        if authentic:
            append(check.municipality, "certificate.verify", actor=None, terminal=client, object_type="issuance",
                   object_id=check.issuance.pk, detail={"result": check.result})

    shown = facts(check) if authentic else None
    if as_json:
        body = {"result": "valid" if check.is_valid else "invalid"}
        if shown:
            body.update(shown, voided=check.result == VerificationResult.VOIDED)
        return _public(JsonResponse(body, json_dumps_params={"ensure_ascii": False}))

    script, csp = _script()
    context = {"valid": check.is_valid, "voided": check.result == VerificationResult.VOIDED, "facts": shown,
               "code": _printable(normalise(code[:MAX_INPUT]), LOG_CODE_LENGTH), "script": script}
    response = render(request, "certificates/verify_result.html", context)
    if check.is_valid and csp:
        response["Content-Security-Policy"] = csp
    return _public(response)

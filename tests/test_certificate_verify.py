"""Signed certificate codes, QR codes and the public verification page (/verify/)."""
import base64
import datetime as dt
import hashlib
import itertools
import json
import re
import urllib.parse

import pytest
from conftest import sees_all_tenants
import segno
from django.db import transaction
from django.test import Client
from django.utils import timezone

from jichitai.audit.models import AuditEvent
from jichitai.audit.verify import verify_chain
from jichitai.certificates import qr, signing, verify_views
from jichitai.certificates.models import Issuance, SigningKey, VerificationLog
from jichitai.certificates.signing import check_code, make_code, new_public_id, rotate_key, signing_key, verify_url
from jichitai.tenancy.scope import TenantScopeError, tenant_scope

D = dt.date
_numbers = itertools.count(1)
PERSONAL = ["請求　花子", "年金の手続", "0000000123", "0000000045", "山田", "太郎"]
ISSUE_DATE = D(2025, 4, 1)


def issue(m, user, **kw):
    """An issuance row made directly (as certificates.actions would), and its code."""
    with tenant_scope(m):
        values = dict(issued_by=user, issued_at=timezone.now(), requester_kind="self", kind="resident_copy",
                      issue_date=ISSUE_DATE, page_count=2, pdf_sha256="ab" * 32, public_id=new_public_id(),
                      key_id=signing_key(m).key_id, issue_no=f"R7-{next(_numbers):06d}",
                      requester_name="請求　花子", purpose="年金の手続", person_ids=[98765],
                      subject_atena_nos=["0000000123"], household_no="0000000045")
        values.update(kw)
        iss = Issuance.objects.create(**values)
        return iss, make_code(iss)


@pytest.fixture
def a(munis):
    return munis[0]


@pytest.fixture
def b(munis):
    return munis[1]


def get(client, code, **params):
    return client.get(f"/verify/{urllib.parse.quote(code, safe='')}", params)


def as_json(client, code):
    r = get(client, code, format="json")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    return r.json()


def assert_invalid(client, code, reason=None):
    r = get(client, code)
    assert r.status_code == 200
    body = r.content.decode()
    assert "無効" in body and "有効</strong>" not in body
    assert "発行自治体" not in body
    assert as_json(client, code) == {"result": "invalid"}
    if reason is not None:
        assert check_code(code).reason == reason
    return body


# --- keys and codes ---------------------------------------------------------------------------------------------

@sees_all_tenants
def test_signing_key_is_created_on_first_use_and_reused(a, b):
    with tenant_scope(a):
        assert not SigningKey.objects.exists()
        with transaction.atomic():  # inside the caller's transaction
            k1 = signing_key(a)
        assert (k1.key_id, k1.is_active, len(bytes.fromhex(k1.secret))) == (1, True, 32)
        assert signing_key(a).pk == k1.pk
    assert signing_key(b).key_id == 1  # per municipality
    assert signing_key(b).secret != k1.secret
    k2 = rotate_key(a)
    assert k2.key_id == 2 and signing_key(a).pk == k2.pk
    assert list(SigningKey.all_tenants.filter(municipality=a).order_by("key_id")
                .values_list("key_id", "is_active")) == [(1, False), (2, True)]
    assert rotate_key(a).key_id == 3


def test_signing_for_another_municipality_inside_a_scope_is_refused(a, b):
    with tenant_scope(a), pytest.raises(TenantScopeError):
        signing_key(b)


def test_code_format_is_short_ascii_and_url_safe(a, staff):
    iss, code = issue(a, staff["clerk_a"])
    assert re.fullmatch(r"44204\.[A-Z2-7]{16}\.1\.[A-Z2-7]{26}", code), code
    assert code.isascii() and urllib.parse.quote(code, safe="") == code and len(code) <= 60
    assert code.split(".")[1] == iss.public_id and iss.issue_no not in code
    assert verify_url(code) == f"http://127.0.0.1:8000/verify/{code}"
    ids = {new_public_id() for _ in range(200)}
    assert len(ids) == 200 and all(re.fullmatch(r"[A-Z2-7]{16}", i) for i in ids)
    # the signature is HMAC-SHA256 over the documented message, first 16 bytes, base32
    with tenant_scope(a):
        secret = bytes.fromhex(SigningKey.objects.get(key_id=1).secret)
    import hmac
    mac = hmac.new(secret, f"jichitai-cert-v1|44204|{iss.public_id}|resident_copy|2025-04-01|1".encode(),
                   hashlib.sha256).digest()[:16]
    assert code.split(".")[3] == base64.b32encode(mac).decode().rstrip("=")


# --- the result page --------------------------------------------------------------------------------------------

def test_valid_code_shows_the_issue_facts_and_no_personal_data(a, staff, client):
    iss, code = issue(a, staff["clerk_a"])
    r = get(client, code)
    assert r.status_code == 200
    body = r.content.decode()
    assert "有効" in body and "無効" not in body
    for fact in ("大分県日田市", "住民票の写し", "令和7年4月1日", "2025-04-01", "2枚", "ab" * 32, "発行"):
        assert fact in body, fact
    for secret in PERSONAL + [iss.issue_no, "clerk-a", "98765"]:
        assert secret not in body.replace(code, ""), secret
    assert "no-store" in r["Cache-Control"] and "noindex" in r["X-Robots-Tag"]
    assert "ログアウト" not in body and "住民検索" not in body  # no nav for the public
    data = as_json(client, code)
    assert data == {
        "result": "valid", "voided": False,
        "municipality": {"code": "44204", "prefecture": "大分県", "name": "日田市"},
        "kind": "resident_copy", "kind_label": "住民票の写し", "issue_date": "2025-04-01",
        "issue_date_wareki": "令和7年4月1日", "page_count": 2, "pdf_sha256": "ab" * 32,
        "status": "issued", "status_label": "発行"}
    assert check_code(code).is_valid and check_code(code).issuance.pk == iss.pk


def test_code_is_read_case_insensitively_and_with_spaces(a, staff, client):
    _, code = issue(a, staff["clerk_a"])
    assert check_code(code.lower()).is_valid
    assert check_code(f"  {code[:20]} {code[20:]}\n").is_valid
    assert "有効" in get(client, code.lower()).content.decode()
    assert "有効" in client.get(f"/verify/{code}/").content.decode()  # a pasted URL's trailing slash


def test_inline_pdf_check_script_is_allowed_by_its_hash_only(a, staff, client):
    _, code = issue(a, staff["clerk_a"])
    r = get(client, code)
    body = r.content.decode()
    script = re.search(r"<script>(.*?)</script>", body, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = r["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in csp and "unsafe-inline" not in csp
    assert "default-src 'self'" in csp and "crypto.subtle" in script and "http" not in script
    assert 'id="pdf-check"' in body and "hidden" in body  # shown only when the script runs
    assert "<form" not in body.split('id="pdf-check"')[1].split("</div>")[0]  # nothing is uploaded
    # invalid pages carry no script
    r = get(client, code[:-1] + ("A" if code[-1] != "A" else "B"))
    assert "<script" not in r.content.decode() and "sha256-" not in r["Content-Security-Policy"]


def test_altered_signature_is_invalid(a, staff, client):
    _, code = issue(a, staff["clerk_a"])
    sig = code.rsplit(".", 1)[1]
    flipped = code[:-len(sig)] + ("B" if sig[0] == "A" else "A") + sig[1:]
    assert_invalid(client, flipped, "signature does not match the issuance")
    assert_invalid(client, code[:-1], "malformed")


def test_altered_public_id_is_invalid(a, staff, client):
    iss, code = issue(a, staff["clerk_a"])
    other, _ = issue(a, staff["clerk_a"])
    muni, pid, key_id, sig = code.split(".")
    assert_invalid(client, f"{muni}.{other.public_id}.{key_id}.{sig}", "signature does not match the issuance")
    assert_invalid(client, f"{muni}.{new_public_id()}.{key_id}.{sig}", "unknown issuance")


@pytest.mark.parametrize("change", [{"kind": "removed_copy"}, {"issue_date": D(2025, 4, 2)}, {"key_id": 2}])
def test_signed_field_changed_in_the_database_is_invalid(a, staff, client, change):
    iss, code = issue(a, staff["clerk_a"])
    if "key_id" in change:
        rotate_key(a)
    with tenant_scope(a):
        Issuance.objects.filter(pk=iss.pk).update(**change)
    assert_invalid(client, code)


def test_unsigned_fields_may_change(a, staff, client):
    """page_count and pdf_sha256 are set after rendering (after the code was made): they are shown, not signed."""
    iss, code = issue(a, staff["clerk_a"], page_count=0, pdf_sha256="")
    with tenant_scope(a):
        Issuance.objects.filter(pk=iss.pk).update(page_count=3, pdf_sha256="cd" * 32)
    data = as_json(client, code)
    assert data["result"] == "valid" and data["page_count"] == 3 and data["pdf_sha256"] == "cd" * 32


def test_valid_looking_code_for_an_unknown_issuance_is_invalid(a, staff, client):
    with tenant_scope(a):
        ghost = Issuance(municipality=a, public_id=new_public_id(), kind="resident_copy", issue_date=ISSUE_DATE,
                         key_id=signing_key(a).key_id)
        code = make_code(ghost)  # correctly signed, never stored
    assert_invalid(client, code, "unknown issuance")
    muni, pid, _, sig = code.split(".")
    assert_invalid(client, f"{muni}.{pid}.7.{sig}", "unknown key")
    assert_invalid(client, f"13101.{pid}.1.{sig}", "unknown municipality")


def _sign_as(key_owner, named, public_id, kind="resident_copy", issue_date=ISSUE_DATE, key_id=1):
    with tenant_scope(key_owner):
        key = SigningKey.objects.get(key_id=key_id)
    sig = signing._signature(key.secret, named.code, public_id, kind, issue_date, key_id)
    return f"{named.code}.{public_id}.{key_id}.{sig}"


def test_a_code_signed_with_another_municipalitys_key_is_invalid(a, b, staff, client):
    iss_a, code_a = issue(a, staff["clerk_a"])
    iss_b, code_b = issue(b, staff["clerk_b"])
    assert check_code(code_a).is_valid and check_code(code_b).is_valid
    # signed with B's key, naming A (and A's real issuance)
    assert_invalid(client, _sign_as(b, a, iss_a.public_id), "signature does not match the issuance")
    # signed with A's key, naming B: nothing of B is revealed
    body = assert_invalid(client, _sign_as(a, b, iss_b.public_id), "signature does not match the issuance")
    assert "綾町" not in body and "宮崎" not in body
    # A's genuine code relabelled as B's, and B's issuance id under A
    assert_invalid(client, "45383" + code_a[5:], "unknown issuance")
    assert_invalid(client, "44204." + code_b.split(".", 1)[1], "unknown issuance")


def test_old_key_still_verifies_after_rotation(a, staff, client):
    old, old_code = issue(a, staff["clerk_a"])
    rotate_key(a)
    new, new_code = issue(a, staff["clerk_a"])
    assert old.key_id == 1 and new.key_id == 2 and new_code.split(".")[2] == "2"
    assert as_json(client, old_code)["result"] == "valid"
    assert as_json(client, new_code)["result"] == "valid"


def test_voided_is_invalid_with_a_note(a, staff, client):
    iss, code = issue(a, staff["clerk_a"])
    with tenant_scope(a):
        Issuance.objects.filter(pk=iss.pk).update(status="voided", void_reason="誤交付（山田）",
                                                  voided_at=timezone.now())
    r = get(client, code)
    body = r.content.decode()
    assert "無効" in body and "取り消されています" in body and "取消" in body
    assert "誤交付" not in body and "山田" not in body
    assert "<script" not in body
    data = as_json(client, code)
    assert data["result"] == "invalid" and data["voided"] is True and data["status"] == "voided"
    assert check_code(code).result == "voided"


def test_refused_is_invalid(a, staff, client):
    iss, code = issue(a, staff["clerk_a"], status="refused", refusal_reason="支援措置")
    assert_invalid(client, code, "refused")


@pytest.mark.parametrize("garbage", [
    "x" * 5000, "日本語の照合コード", "44204.ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰ.1.ＡＢＣ", "..", ".", "-", "%00",
    "a\x00b",
    "44204.AAAAAAAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAAAAAA", "44204.AAAAAAAAAAAAAAAA.99999999999999.A",
    "<script>alert(1)</script>", "a/b/c", "44204.AAAAAAAAAAAAAAAA.1.AAAAAAAAAAAAAAAAAAAAAAAAAA/x",
    "44204.AAAAAAAAAAAAAAAA.1.AAAAAAAAAAAAAAAAAAAAAAAAAA", "\U0001F600" * 50,
])
def test_garbage_is_invalid_not_an_error(munis, client, garbage):
    r = get(client, garbage)
    assert r.status_code == 200
    body = r.content.decode()
    assert "無効" in body and "<script>alert" not in body
    assert get(client, garbage, format="json").json() == {"result": "invalid"}
    log = VerificationLog.objects.order_by("-id").first()
    assert log.result == "invalid" and len(log.code) <= 120 and "\x00" not in log.code


def test_check_code_never_raises(munis):
    for value in (None, "", 123, b"44204", "\ud800", "4" * 10**6):
        assert check_code(value).result == "invalid"


# --- the form ---------------------------------------------------------------------------------------------------

def test_form_redirects_to_the_result_and_accepts_a_pasted_url(a, staff):
    _, code = issue(a, staff["clerk_a"])
    c = Client(enforce_csrf_checks=True)
    r = c.get("/verify/")
    assert r.status_code == 200 and 'name="code"' in r.content.decode() and 'method="get"' in r.content.decode()
    assert "csrfmiddlewaretoken" not in r.content.decode()
    for typed in (code, f"  {code} ", verify_url(code), verify_url(code) + "/",
                  f"https://example.jp/verify/{code}?x=1", code.lower()):
        r = c.get("/verify/", {"code": typed})
        assert r.status_code == 302, typed
        assert r["Location"] == f"/verify/{code.lower() if typed == code.lower() else code}"
        assert "有効" in c.get(r["Location"]).content.decode()
    for typed in ("", "   ", "https://example.jp/"):
        r = c.get("/verify/", {"code": typed})
        assert r.status_code == 400 and "照合コードを入力してください" in r.content.decode()
    r = c.get("/verify/", {"code": "日本語/??#"})
    assert r.status_code in (302, 400)
    assert c.post("/verify/", {"code": code}).status_code == 403  # CSRF: no POST here
    assert Client().post("/verify/", {"code": code}).status_code == 405
    assert Client().post(f"/verify/{code}").status_code == 405
    assert VerificationLog.objects.count() == 6  # the result pages only; the form itself looks nothing up


def test_signed_in_staff_of_another_municipality_can_verify(a, b, staff):
    _, code_b = issue(b, staff["clerk_b"])
    c = Client()
    c.force_login(staff["clerk_a"])
    r = get(c, code_b)
    assert r.status_code == 200 and "有効" in r.content.decode() and "宮崎県綾町" in r.content.decode()
    # and the staff member's own tenant scope is back afterwards: A's pages still work
    assert c.get("/").status_code == 200


# --- logging, audit and rate limiting -----------------------------------------------------------------------------

@sees_all_tenants
def test_every_request_is_logged_and_valid_lookups_are_audited(a, b, staff, client):
    iss, code = issue(a, staff["clerk_a"])
    before = AuditEvent.all_chains.filter(action="certificate.verify").count()
    get(client, code)
    get(client, code, format="json")
    get(client, code[:-2] + "AA" if not code.endswith("AA") else code[:-2] + "BB")
    get(client, "nonsense")
    logs = list(VerificationLog.objects.order_by("id"))
    assert [(x.result, x.client, x.municipality_id, x.issuance_id) for x in logs] == [
        ("valid", "127.0.0.1", a.pk, iss.pk), ("valid", "127.0.0.1", a.pk, iss.pk),
        ("invalid", "127.0.0.1", a.pk, None), ("invalid", "127.0.0.1", None, None)]
    assert logs[0].code == code
    events = list(AuditEvent.all_chains.filter(action="certificate.verify").order_by("id"))
    assert len(events) - before == 2
    e = events[-1]
    assert (e.chain_key, e.municipality_id, e.actor_id, e.terminal, e.object_type, e.object_id) == (
        "44204", a.pk, None, "127.0.0.1", "issuance", str(iss.pk))
    assert json.loads(e.detail) == {"result": "valid"}
    assert verify_chain("44204").ok
    assert not AuditEvent.all_chains.filter(municipality=b, action="certificate.verify").exists()
    get(client, "x" * 500)
    assert VerificationLog.objects.order_by("-id").first().code == "x" * 120


def test_rate_limit_answers_429_without_a_lookup(a, staff, settings, monkeypatch):
    settings.JICHITAI_VERIFY_RATE = 3
    _, code = issue(a, staff["clerk_a"])
    c = Client(REMOTE_ADDR="192.0.2.7")
    for _ in range(3):
        assert get(c, code).status_code == 200
    monkeypatch.setattr(verify_views, "check_code", lambda code: pytest.fail("looked up while rate limited"))
    r = get(c, code)
    assert r.status_code == 429 and "上限を超えました" in r.content.decode() and r["Retry-After"] == "60"
    r = get(c, code, format="json")
    assert r.status_code == 429 and r.json()["result"] == "rate_limited"
    assert list(VerificationLog.objects.filter(client="192.0.2.7").order_by("id").values_list("result", flat=True)) \
        == ["valid"] * 3 + ["rate_limited"] * 2
    assert VerificationLog.objects.filter(result="rate_limited", municipality__isnull=True,
                                          issuance__isnull=True).count() == 2
    monkeypatch.undo()
    # another client is not limited
    assert get(Client(REMOTE_ADDR="192.0.2.8"), code).status_code == 200
    # and the window slides: requests older than 60 s no longer count
    VerificationLog.objects.filter(client="192.0.2.7").update(at=timezone.now() - dt.timedelta(seconds=61))
    assert get(c, code).status_code == 200


# --- QR codes ---------------------------------------------------------------------------------------------------

def _svg_modules(svg: str) -> list[list[int]]:
    """Rasterise segno's SVG path (M/m moves and h runs, in module units) back into a module matrix."""
    size = int(re.search(r"width=['\"](\d+)['\"]", svg).group(1))
    scale = int(re.search(r"scale\((\d+)\)", svg).group(1)) if "scale(" in svg else 1
    n = size // scale
    grid = [[0] * n for _ in range(n)]
    d = re.search(r"\sd=['\"]([^'\"]+)['\"]", svg).group(1)
    x = y = 0.0
    for cmd, args in re.findall(r"([A-Za-z])([^A-Za-z]*)", d):
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        elif cmd == "h":
            for i in range(int(nums[0])):
                grid[int(y)][int(x) + i] = 1
            x += nums[0]
        else:
            raise AssertionError(f"unexpected path command {cmd}")
    return grid


def test_qr_data_uri_is_an_svg_of_the_verification_url(a, staff):
    _, code = issue(a, staff["clerk_a"])
    url = verify_url(code)
    uri = qr.qr_data_uri(url)
    assert uri.startswith("data:image/svg+xml")
    svg = urllib.parse.unquote(uri.split(",", 1)[1])
    assert svg.startswith("<svg") and "<path" in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert qr.qr_svg(url).startswith("<svg") and "<path" in qr.qr_svg(url)
    # round trip: the drawn modules are exactly segno's encoding of this URL at level M (4-module quiet zone)
    ref = segno.make(url, error="m", micro=False, boost_error=False)
    assert ref.error == "M" and ref.mode == "byte"
    n = len(ref.matrix) + 8
    expected = [[0] * n for _ in range(4)] + [[0] * 4 + list(row) + [0] * 4 for row in ref.matrix] + \
        [[0] * n for _ in range(4)]
    assert _svg_modules(svg) == expected
    assert _svg_modules(qr.qr_svg(url)) == expected
    other = segno.make(url[:-1] + "X", error="m", micro=False, boost_error=False)
    assert [list(r) for r in other.matrix] != [list(r) for r in ref.matrix]

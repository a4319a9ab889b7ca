"""Two-step sign-in (django-otp TOTP + recovery codes), driven through the real login pages.

(Other tests sign in with `force_login`, which conftest makes pass the second step; here nothing is skipped.)"""
import re
from binascii import unhexlify

import pytest
from conftest import PASSWORD
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from jichitai.audit.models import AuditEvent
from jichitai.tenancy import actions
from jichitai.tenancy.account_views import PENDING_KEY
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope


def code(key_hex, offset=0):
    t = TOTP(unhexlify(key_hex))
    t.time = t.time + offset * 30
    return f"{t.token():06d}"


def password_step(user):
    c = Client()
    r = c.post("/login/", {"username": user.username, "password": PASSWORD})
    assert r.status_code == 302
    return c


def events(m, action):
    with tenant_scope(m):
        return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def unthrottle(user):
    """Forget the throttling delay after a wrong code (as if its seconds had passed)."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)


def enrol(c):
    """Enrol through the setup page; returns (key, recovery codes)."""
    assert c.get("/account/mfa/").status_code == 200
    key = c.session[PENDING_KEY]
    enrol.used_token = code(key)
    r = c.post("/account/mfa/", {"token": enrol.used_token})
    assert r.status_code == 200, r.content.decode()[:500]
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", r.content.decode())
    return key, codes


def test_admin_is_sent_to_enrolment_until_done(staff):
    admin = staff["admin_a"]
    c = password_step(admin)
    for url in ("/", "/residents/", "/staff/", "/audit/", "/account/password/"):
        r = c.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/account/mfa/"), url
    assert c.post("/staff/new/", {"username": "x", "role": "clerk", "step": "commit"}).status_code == 302
    r = c.get("/account/mfa/")
    body = r.content.decode()
    assert "<svg" in body and "QR" in body and "必須" in body and "autofocus" in body
    assert 'href="/staff/"' not in body and 'href="/residents/"' not in body  # no menu until enrolled
    assert "http" not in body.split("<svg")[1].split("</svg>")[0].replace("http://www.w3.org", "")  # drawn here
    key = c.session[PENDING_KEY]
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', body).group(1).replace(" ", "")
    from base64 import b32decode

    assert b32decode(secret) == unhexlify(key)  # the text form of the same secret
    assert not TOTPDevice.objects.filter(user=admin).exists()  # nothing stored before a code confirms it


def test_enrolment_wrong_code_then_right_code(staff):
    admin = staff["admin_a"]
    c = password_step(admin)
    c.get("/account/mfa/")
    key = c.session[PENDING_KEY]
    wrong = f"{(int(code(key)) + 1) % 1000000:06d}"
    for bad in (wrong, "abcdef", "12345"):
        r = c.post("/account/mfa/", {"token": bad})
        assert r.status_code == 200 and "確認コードが正しくありません" in r.content.decode()
    assert not TOTPDevice.objects.filter(user=admin).exists()
    key2, codes = enrol(c)
    assert key2 == key and len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=admin).confirmed
    assert StaticToken.objects.filter(device__user=admin).count() == 10
    assert c.get("/staff/").status_code == 200  # verified in this session
    ev = events(admin.municipality, "staff.mfa_enrolled")
    assert len(ev) == 1 and not any(cd in ev[0].detail for cd in codes)
    # the codes are shown once: the status page does not show them again
    assert not any(cd in c.get("/account/mfa/").content.decode() for cd in codes)


def test_second_step_asks_for_a_code(staff):
    admin = staff["admin_a"]
    key, _ = enrol(password_step(admin))
    c = password_step(admin)
    r = c.get("/audit/")
    assert r.status_code == 302 and r["Location"] == "/login/mfa/?next=%2Faudit%2F"
    page = c.get(r["Location"]).content.decode()
    assert "確認コードの入力" in page and "autofocus" in page
    wrong = f"{(int(code(key)) + 7) % 1000000:06d}"
    r = c.post("/login/mfa/", {"token": wrong, "next": "/audit/"})
    assert r.status_code == 400 and "確認コードが正しくありません" in r.content.decode()
    assert c.get("/audit/").status_code == 302
    assert len(events(admin.municipality, "auth.mfa_failed")) == 1
    # a wrong code makes the next try wait (django-otp throttling: 1 s, then 2, 4 …)
    assert c.post("/login/mfa/", {"token": code(key, 1)}).status_code == 429
    unthrottle(admin)
    # the code used at enrolment cannot be replayed; the next one works
    r = c.post("/login/mfa/", {"token": enrol.used_token, "next": "/audit/"})
    assert r.status_code == 400
    unthrottle(admin)
    r = c.post("/login/mfa/", {"token": code(key, 1), "next": "/audit/"})
    assert r.status_code == 302 and r["Location"] == "/audit/"
    assert c.get("/audit/").status_code == 200
    assert len(events(admin.municipality, "auth.mfa_verified")) == 1


def test_an_outside_next_is_ignored(staff):
    admin = staff["admin_a"]
    key, _ = enrol(password_step(admin))
    c = password_step(admin)
    r = c.post("/login/mfa/", {"token": code(key, 1), "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == "/"


def test_recovery_code_works_once(staff):
    admin = staff["admin_a"]
    _, codes = enrol(password_step(admin))
    c = password_step(admin)
    r = c.post("/login/mfa/", {"token": codes[0].upper()})
    assert r.status_code == 302
    assert "残り 9 個" in c.get("/staff/").content.decode()
    ev = events(admin.municipality, "auth.mfa_recovery_used")
    assert len(ev) == 1 and '"remaining":9' in ev[0].detail
    c2 = password_step(admin)
    r = c2.post("/login/mfa/", {"token": codes[0]})
    assert r.status_code == 400 and "確認コードが正しくありません" in r.content.decode()
    assert c2.get("/staff/").status_code == 302
    assert StaticToken.objects.filter(device__user=admin).count() == 9


def test_repeated_wrong_codes_are_throttled(staff):
    admin = staff["admin_a"]
    key, _ = enrol(password_step(admin))
    c = password_step(admin)
    for _ in range(3):
        c.post("/login/mfa/", {"token": "000000" if code(key, 1) != "000000" else "111111"})
    r = c.post("/login/mfa/", {"token": code(key, 1)})
    assert r.status_code == 429 and "しばらく受け付けません" in r.content.decode()
    assert c.get("/staff/").status_code == 302


def test_clerk_needs_no_second_step_unless_the_municipality_requires_it(staff):
    clerk = staff["clerk_a"]
    c = password_step(clerk)
    assert c.get("/residents/").status_code == 200
    actions.set_mfa_policy(staff["admin_a"], "t", clerk.municipality, True)
    c = password_step(clerk)
    r = c.get("/residents/")
    assert r.status_code == 302 and r["Location"].startswith("/account/mfa/")
    # another municipality's clerk is not affected
    assert password_step(staff["clerk_b"]).get("/residents/").status_code == 200
    assert not Municipality.objects.get(pk=staff["clerk_b"].municipality_id).mfa_required_for_all_staff


def test_clerk_may_enrol_voluntarily_and_is_then_asked(staff):
    clerk = staff["clerk_a"]
    enrol(password_step(clerk))
    r = password_step(clerk).get("/residents/")
    assert r["Location"].startswith("/login/mfa/")


def test_operator_must_enrol(staff):
    c = password_step(staff["operator"])
    assert c.get("/platform/")["Location"].startswith("/account/mfa/")


def test_admin_resets_a_staff_members_mfa(staff):
    clerk = staff["clerk_a"]
    enrol(password_step(clerk))
    admin = Client()
    admin.force_login(staff["admin_a"])
    page = admin.get(f"/staff/{clerk.pk}/").content.decode()
    assert "登録済み" in page and "2段階認証を解除" in page
    assert admin.post(f"/staff/{clerk.pk}/reset-mfa/", {"step": "commit"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=clerk).exists()
    assert not StaticToken.objects.filter(device__user=clerk).exists()
    assert len(events(clerk.municipality, "staff.mfa_reset")) == 1
    assert password_step(clerk).get("/residents/").status_code == 200  # not required for a clerk: straight in
    r = admin.post(f"/staff/{clerk.pk}/reset-mfa/", {"step": "commit"})
    assert r.status_code == 400 and "登録していません" in r.content.decode()


def test_renew_recovery_codes(staff):
    admin = staff["admin_a"]
    c = password_step(admin)
    _, old = enrol(c)
    r = c.post("/account/mfa/", {"step": "renew"})
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", r.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=admin).values_list("token", flat=True)) == set(new)
    assert len(events(admin.municipality, "staff.recovery_codes_renewed")) == 1


@pytest.mark.parametrize("path", ["/login/mfa/", "/account/mfa/", "/account/password/"])
def test_account_pages_need_a_sign_in(db, path):
    r = Client().get(path)
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_demo_admins_sign_in_with_the_printed_demo_secret(staff):
    """`make demo` prints DEMO_TOTP_SECRET; the demo's admins and operator are enrolled with it."""
    from base64 import b32decode

    from jichitai.demo.seed import DEMO_TOTP_SECRET, ensure_demo_mfa, logins_table

    admin = staff["admin_a"]
    ensure_demo_mfa([admin.username, staff["operator"].username])
    ensure_demo_mfa([admin.username])  # idempotent
    assert TOTPDevice.objects.filter(user=admin).count() == 1
    assert not TOTPDevice.objects.filter(user=staff["clerk_a"]).exists()
    c = password_step(admin)
    assert c.get("/")["Location"].startswith("/login/mfa/")
    assert c.post("/login/mfa/", {"token": code(b32decode(DEMO_TOTP_SECRET).hex())}).status_code == 302
    assert c.get("/staff/").status_code == 200
    assert DEMO_TOTP_SECRET in logins_table([(admin.username, Role.ADMIN, admin.municipality, True, "")])

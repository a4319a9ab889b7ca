"""A certificate voided (or reprinted) on an offline kit is VOID on the platform after the sync, and /verify/ says so;
the reprint keeps its link to the original."""
import os
import subprocess
import sys

from test_offline_kit import PASS, kit, kit_shell  # noqa: F401 (the kit fixture)

from jichitai.certificates import signing
from jichitai.certificates.models import Issuance, IssuanceStatus, VerificationResult
from jichitai.continuity import offline
from jichitai.tenancy.scope import tenant_scope

WORK = """
from jichitai.tenancy.models import Municipality, StaffUser
from jichitai.tenancy.scope import tenant_scope
from jichitai.residents.models import Person
from jichitai.certificates.actions import CertificateRequest, issue_certificate, void_issuance, reprint
m = Municipality.objects.get(code='44204')
u = StaffUser.objects.get(username='admin-a')
with tenant_scope(m):
    head = Person.objects.get(atena_no='{atena}')
    req = lambda: CertificateRequest(person_ids=[head.pk], kind='resident_copy', layout='individual',
                                     requester_kind='self', copies=1, options={{}})
    a = issue_certificate(u, req()).issuance
    void_issuance(u, a, reason='記載誤り')
    b = issue_certificate(u, req()).issuance
    c = reprint(u, b, reason='用紙詰まり').issuance
    print('NOS', a.issue_no, b.issue_no, c.issue_no)
"""


def test_a_certificate_voided_on_a_kit_is_void_on_the_platform_after_sync(kit, staff, client):  # noqa: F811
    a, tmp = kit["m"], kit["tmp"]
    dest = tmp / "laptop"
    offline.open_kit(kit["path"], PASS, dest)
    voided, original, reprinted = kit_shell(dest, WORK.format(atena=kit["head"].atena_no)).split("NOS ", 1)[1].split()
    sync = tmp / "s.jcsync"
    r = subprocess.run([sys.executable, "-m", "jichitai.cli", "offline", "export", "--dir", str(dest), "--out",
                        str(sync)], env=dict(os.environ), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with tenant_scope(a):
        res = offline.sync_file(staff["admin_a"], sync)
        assert res["conflict"] == 0, res
        v, o, n = (Issuance.objects.get(issue_no=x) for x in (voided, original, reprinted))
        assert v.status == o.status == IssuanceStatus.VOIDED and v.void_reason == "記載誤り"
        assert o.void_reason.startswith("再発行のため取消") and n.status == IssuanceStatus.ISSUED
        assert n.reprint_of == o
        assert signing.check_code(signing.make_code(v)).result == VerificationResult.VOIDED
        assert signing.check_code(signing.make_code(n)).is_valid


def _online_certificate(town, user):
    from jichitai.certificates.actions import CertificateRequest, issue_certificate

    head = town.family()[0]
    with tenant_scope(town.m):
        req = CertificateRequest(person_ids=[head.pk], kind="resident_copy", layout="individual",
                                 requester_kind="self", copies=1, options={})
        return issue_certificate(user, req).issuance


def test_a_kit_voids_only_certificates_it_could_know_and_only_at_a_believable_time(town_a, staff, signed_certificates):
    """A sync file names a certificate issued online after the kit was built (the kit cannot have seen it), or gives a
    void time before the issue, before the kit existed, malformed, without a time zone or in the future: refused with
    the reason, the certificate stays valid. (The kit in the first case is its issuer: allowed.)"""
    import datetime as dt

    import pytest
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from jichitai.certificates.actions import record_offline_void

    u = staff["admin_a"]
    iss = _online_certificate(town_a, u)
    p = {"public_id": iss.public_id, "issue_no": iss.issue_no, "reason": "記載誤り"}
    now = timezone.now()
    with tenant_scope(town_a.m):
        with pytest.raises(ValidationError, match="端末の作成後にオンラインで発行"):
            record_offline_void({**p, "voided_at": now.isoformat()}, device="kit-1", username="admin-a",
                                kit_built_at=iss.issued_at - dt.timedelta(hours=1))
        for bad in ((iss.issued_at - dt.timedelta(minutes=5)).isoformat(), (now + dt.timedelta(days=2)).isoformat(),
                    "2026-13-40T00:00:00+09:00", "2026-12-07T10:00:00", ""):
            with pytest.raises(ValidationError, match="取消日時"):
                record_offline_void({**p, "voided_at": bad}, device="kit-1", username="admin-a",
                                    kit_built_at=iss.issued_at + dt.timedelta(seconds=1))
        iss.refresh_from_db()
        assert iss.status == IssuanceStatus.ISSUED
        assert signing.check_code(signing.make_code(iss)).is_valid
        # a kit built after the certificate was issued carries it: its void at a time after building is applied
        built = iss.issued_at + dt.timedelta(seconds=1)
        with pytest.raises(ValidationError, match="取消日時"):  # before the kit existed
            record_offline_void({**p, "voided_at": iss.issued_at.isoformat()}, device="kit-1", username="admin-a",
                                kit_built_at=built)
        v = record_offline_void({**p, "voided_at": (built + dt.timedelta(seconds=1)).isoformat()}, device="kit-1",
                                username="admin-a", kit_built_at=built)
        assert v.status == IssuanceStatus.VOIDED and v.voided_at == built + dt.timedelta(seconds=1)
        assert signing.check_code(signing.make_code(v)).result == VerificationResult.VOIDED

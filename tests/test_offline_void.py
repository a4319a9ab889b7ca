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

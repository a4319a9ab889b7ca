"""Provider security evidence from live data: MFA coverage, the backup seam (未実施 without the continuity app),
the audit chain verified now, the stored dependency audit (never run at render time), open incidents, SLA."""
import json
import stat
import sys

import pytest
from django.core.management import call_command

from conftest import client_for
from jichitai.platform import actions, evidence
from jichitai.platform.models import DependencyAudit


def test_report_from_live_evidence(munis, staff, town_a):
    a, b = munis
    town_a.family()
    rep = evidence.report(a)
    assert rep["mfa"]["staff"] == 4
    # conftest gives no device until sign-in: the admin (always required) is listed as missing
    assert "admin-a" in rep["mfa"]["required_missing"]
    assert rep["backup"]["backup"] is None and rep["backup"]["drill"] is None
    assert rep["audit_chain"]["ok"] and rep["audit_chain"]["entries"] >= 3
    assert rep["dependency_audit"] is None
    inc = actions.open_incident(staff["operator"], title="回線断", category="wan", affected=[a.code], notify=False)
    assert [i["id"] for i in evidence.open_incidents(a)["register"]] == [inc.pk]
    assert evidence.open_incidents(b)["register"] == []


def test_dependency_audit_command_stores_the_result_and_a_failure_is_not_a_pass(munis, settings, tmp_path):
    fake = tmp_path / "pip-audit"
    report = {"dependencies": [{"name": "django", "version": "5.2.1", "vulns": [
        {"id": "PYSEC-2099-1", "fix_versions": ["5.2.9"]}]}, {"name": "segno", "version": "1.6", "vulns": []}]}
    fake.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({report!r}))\nraise SystemExit(1)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    settings.JICHITAI_PIP_AUDIT = str(fake)
    call_command("platform_dependency_audit")
    d = DependencyAudit.objects.get()
    assert not d.ok and d.vulnerabilities == [{"package": "django", "version": "5.2.1", "id": "PYSEC-2099-1",
                                               "fix_versions": ["5.2.9"]}]
    settings.JICHITAI_PIP_AUDIT = str(tmp_path / "missing")
    call_command("platform_dependency_audit")
    latest = DependencyAudit.objects.first()
    assert not latest.ok and latest.error
    assert evidence.dependency_audit()["error"]


def test_evidence_page_and_download(munis, staff):
    a, b = munis
    c = client_for(staff["admin_a"])
    body = c.get("/platform/evidence/").content.decode()
    assert "未実施" in body and "監査ログ" in body and "日田市" in body
    r = c.get("/platform/evidence/?format=json&code=" + b.code)  # an admin sees only his own municipality
    doc = json.loads(r.content)
    assert doc["municipality"]["code"] == a.code and "audit_chain" in doc
    op = client_for(staff["operator"])
    assert b.name in op.get(f"/platform/evidence/?code={b.code}").content.decode()
    assert client_for(staff["clerk_a"]).get("/platform/evidence/").status_code == 403

"""Bad input that used to end in an error page (500) is refused with a clear message: a PFIF record id longer than
the column, a CSV the csv module cannot read, a non-numeric advisory id on the CEPTOAR screen."""
from pathlib import Path

import pytest
from conftest import client_for
from django.core.exceptions import ValidationError

from jichitai.disaster import actions
from jichitai.disaster.models import PfifRecord, SafetyNote
from jichitai.disaster.evacuee_rows import parse_csv
from jichitai.tenancy.scope import tenant_scope

PEERS = Path("/work/shared/peers/personfinder-pfif")


def test_a_pfif_record_id_over_500_characters_is_reported_not_stored(munis, staff):
    a, _ = munis
    data = (PEERS / "test.pfif-1.4.xml").read_text(encoding="utf-8")
    long_id = "test.google.com/person." + "9" * 600
    assert "test.google.com/person.21009" in data
    data = data.replace("test.google.com/person.21009", long_id)
    with tenant_scope(a):
        rep = actions.import_pfif(staff["admin_a"], data.encode(), source_domain="test.google.com")
        assert any("長すぎます" in p["reason"] for p in rep["problems"])
        assert not PfifRecord.objects.filter(record_id=long_id).exists()
        assert not SafetyNote.objects.filter(note_record_id__startswith="test.google.com/note." + "9" * 100).exists()


def test_a_csv_the_csv_module_cannot_read_is_refused_with_its_line():
    import csv

    limit = csv.field_size_limit(131072)  # the default (another reader in the process may have raised it)
    try:
        _refused_whole()
    finally:
        csv.field_size_limit(limit)


def _refused_whole():
    header = "氏名,フリガナ,生年月日,性別,住所,国籍,負傷・疾病,居所,連絡先,家族への開示,知人への開示,公表,世帯グループ\n"
    data = header + "山田太郎," + "ア" * 140000 + ",,,,,,S01,,,,,\n"
    with pytest.raises(ValidationError, match="2行目: CSVとして読めません"):
        parse_csv(data, {})


def test_a_non_numeric_advisory_id_is_a_message_not_an_error_page(munis, staff):
    adm = client_for(staff["admin_a"])
    r = adm.post("/platform/advisories/", {"step": "ack", "advisory": "abc"})
    assert r.status_code == 400 and "確認する注意喚起を指定してください" in r.content.decode()

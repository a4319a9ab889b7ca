"""Where the disaster app's parts meet the rest: the district of an address comes from the 町字 master (one
function for the board, the lists and the 名簿), and 「要支援者のみ」 lists the persons on the 避難行動要支援者名簿."""
import datetime as dt

from jichitai.chouaza import actions as chouaza_actions
from jichitai.disaster import support_actions, support_queries
from jichitai.disaster.districts import district_of
from jichitai.disaster.vulnerability import vulnerable_person_ids
from jichitai.tenancy.scope import tenant_scope


def test_district_comes_from_the_chouaza_master_whatever_the_numerals(munis, staff):
    a, _ = munis
    with tenant_scope(a):
        assert district_of("岩井2丁目3番") == "岩井"          # no master yet: the text before the first digit
        chouaza_actions.save_chouaza(staff["admin_a"], {"code": "101", "name": "岩井", "kana": "イワイ",
                                                        "chome_from": "1", "chome_to": "3"})
    with tenant_scope(a) as m:
        for written in ("岩井2丁目3番", "岩井二丁目3番5号", "岩井２丁目"):
            assert district_of(written) == "岩井二丁目", written
        assert district_of("大字上野3番") == "大字上野"     # not in the master: the text
        assert support_queries.district_of("") == "（町字不明）"
        assert m._chouaza_master  # read once per municipality object


def test_the_vulnerable_filter_reads_the_roster(town_a, staff, munis):
    head, wife, child = town_a.family()
    with tenant_scope(munis[0]):
        assert vulnerable_person_ids(munis[0]) == set()
        support_actions.save_vulnerable_person(staff["admin_a"], wife.pk, {"care_level": "care3", "consent": "agreed", "consent_date": dt.date(2026, 4, 1)})
        assert vulnerable_person_ids(munis[0]) == {wife.pk}

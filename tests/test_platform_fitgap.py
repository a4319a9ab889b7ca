"""Requirements and the fit-gap table: entry, CSV upload (bad rows refused with their line numbers), the working
group's classification, and the seed's Oita / Miyazaki figures reproduced from the demo data."""
import pytest

from conftest import audit_events, client_for, make_user
from jichitai.platform import actions, demo, engine, queries
from jichitai.platform.engine import Tier
from jichitai.platform.models import Requirement
from jichitai.tenancy.models import Municipality, Prefecture
from jichitai.tenancy.roles import Role
from jichitai.tenancy.scope import tenant_scope


@pytest.fixture
def pilots(db):
    from jichitai.demo.data import PILOT_MUNICIPALITIES

    oita = Prefecture.objects.create(code="44", name="大分県")
    miyazaki = Prefecture.objects.create(code="45", name="宮崎県")
    return [Municipality.objects.create(code=p.code, name=p.name, prefecture=oita if p.code[:2] == "44"
                                        else miyazaki) for p in PILOT_MUNICIPALITIES]


def test_demo_data_reproduce_the_seed_figures_for_oita_and_miyazaki(pilots):
    assert demo.seed_requirements(pilots) == 8134
    cols = {c.label: c.counts for c in queries.fitgap_table()}
    # the seed, p.7: 大分 / 宮崎 / 合計
    expected = {
        "total": (3590, 4544, 8134), "out_of_scope": (215, 210, 425), "in_scope": (3375, 4334, 7709),
        "standard": (3132, 3964, 7096), "standard_added": (102, 212, 314), "prefecture": (3, 14, 17),
        "individual": (138, 144, 282),
    }
    for row, (oita, miyazaki, total) in expected.items():
        assert (cols["大分"][row], cols["宮崎"][row], cols["合計"][row]) == (oita, miyazaki, total), row
    # every municipality of each prefecture brought requirements; the drill-down lists the cell's rows
    per = queries.fitgap_by_municipality(pilots[0].prefecture)
    assert len(per) == 5 and sum(c["individual"] for _, c in per) == 138
    rows, total = queries.fitgap_drill(pilots[5].prefecture, "prefecture")
    assert total == 14 and {r.classification for r in rows} == {"prefecture"}


def test_fitgap_screen_shows_the_table_and_drills_down(pilots):
    demo.seed_requirements(pilots)
    op = make_user("operator", Role.OPERATOR, None)
    c = client_for(op)
    body = c.get("/platform/fitgap/").content.decode()
    assert "7,709" in body and "7,096" in body and "<svg" in body and "個別機能" in body
    r = c.get("/platform/fitgap/individual/?prefecture=44")
    assert r.status_code == 200 and "138件" in r.content.decode()


def test_csv_upload_refuses_bad_rows_with_their_line_numbers_and_writes_nothing(munis, staff):
    a, _ = munis
    admin = staff["admin_a"]
    bad = "業務,要求事項\n住民情報,転入時に前住所を確認できること\n水道,料金を計算できること\n税,\n福祉,児童手当を管理\n"
    with pytest.raises(actions.PlatformError) as e:
        actions.import_requirements_csv(admin, a, bad.encode("cp932"))
    assert sorted(e.value.lines) == [3, 4]
    assert "水道" in e.value.lines[3][0] and "空" in e.value.lines[4][0]
    with tenant_scope(a):
        assert not Requirement.objects.exists()
    good = "業務,要求事項,要求番号\n住民情報,転入時に前住所を確認できること,HITA-1\n税,課税台帳を地区で検索できること,\n"
    assert actions.import_requirements_csv(admin, a, good.encode()) == 2
    with tenant_scope(a):
        assert sorted(Requirement.objects.values_list("code", flat=True)) == ["HITA-1", "R-44204-00001"]
    with pytest.raises(actions.PlatformError) as e:  # a duplicate code in a later upload
        actions.import_requirements_csv(admin, a, good.encode())
    assert 2 in e.value.lines
    with pytest.raises(actions.PlatformError, match="見出し"):
        actions.import_requirements_csv(admin, a, "a,b\n1,2\n")
    assert [ev.action for ev in audit_events(a, action__startswith="requirement.")] == ["requirement.imported"]


def test_upload_screen_lists_the_bad_lines(munis, staff):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = client_for(staff["admin_a"])
    f = SimpleUploadedFile("r.csv", "業務,要求事項\n水道,x\n".encode(), content_type="text/csv")
    r = c.post("/platform/requirements/", {"csv": f})
    assert r.status_code == 400 and "2行目" in r.content.decode()
    r = c.post("/platform/requirements/", {"area": "residents", "text": "住民票に通称名を併記できること"})
    assert r.status_code == 302
    assert "R-44204-00001" in c.get("/platform/requirements/").content.decode()


def test_classification_by_the_working_group_links_settings_and_is_audited(munis, staff):
    a, b = munis
    r = actions.submit_requirement(staff["admin_a"], a, area="住民情報", text="手数料を条例で定める額にすること")
    with pytest.raises(Exception):  # a municipal admin is not the working group
        actions.classify_requirement(staff["admin_a"], a, r.pk, classification="individual")
    with pytest.raises(actions.PlatformError, match="登録されていない設定"):
        actions.classify_requirement(staff["operator"], a, r.pk, classification="individual",
                                     setting_keys=["certificates.no_such"])
    actions.classify_requirement(staff["operator"], a, r.pk, classification="individual",
                                 setting_keys=["certificates.fee_resident_copy"], note="条例による")
    with tenant_scope(a):
        got = Requirement.objects.get(pk=r.pk)
    assert (got.classification, got.setting_keys, got.classified_by) == ("individual", [
        "certificates.fee_resident_copy"], "operator")
    # the prefecture's coordinator (a setting) may classify his prefecture's requirements, not another's
    coord = make_user("coord", Role.ADMIN, a)
    engine.set_value(staff["operator"], "platform.prefecture_coordinator", "coord", tier=Tier.PREFECTURE,
                     prefecture=a.prefecture)
    assert actions.may_classify(coord, a) and not actions.may_classify(coord, b)
    ev = audit_events(a, action="requirement.classified")
    assert len(ev) == 1 and '"new":"individual"' in ev[0].detail

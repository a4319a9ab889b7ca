"""The standard layout (データの可搬性): export, import into an empty municipality, round trip byte for byte,
refusals that write nothing, tenant isolation, the admin's download."""
import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import struct
import zipfile
import zlib

import pytest
from conftest import person_values, sees_all_tenants
from django.core.management import CommandError, call_command

from jichitai import moji
from jichitai.audit.models import AuditEvent
from jichitai.gaiji import actions as gaiji_actions
from jichitai.gaiji.models import GaijiMapping, GaijiMappingEvent
from jichitai.interchange.errors import InterchangeError
from jichitai.interchange.export import export_municipality
from jichitai.privacy import policy
from jichitai.interchange.importer import import_directory
from jichitai.interchange.layout import LAYOUT_VERSION, RESOURCES
from jichitai.residents import actions
from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.models import Municipality, NumberSequence
from jichitai.tenancy.scope import tenant_scope

D = dt.date
T0 = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
T1 = dt.datetime(2026, 2, 6, 10, 45, tzinfo=dt.timezone.utc)
IVS_NAME = "葛\U000E0102西"
DATA_FILES = [r.path for r in RESOURCES] + [r.schema_path for r in RESOURCES]


def tiny_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff")) + chunk(b"IEND", b""))


def build_town_a(town_a):
    """A varied register made through the actions: IVS names, foreign residents with 通称, 除票 (death, 転出予定,
    転出確定), DV等支援措置, multi-step histories, a split household, 外字 mappings with events and a glyph."""
    head, wife, child = town_a.family()
    with tenant_scope(town_a.m):
        actor = town_a.actor()
        ivs = actions.register_move_in(actor, values=person_values(
            family_name=IVS_NAME, given_name="辻\U000E0103子", family_name_kana="カツシカ", given_name_kana="ツジコ",
            sex="2", address="隈二丁目5番", postal_code="877-0044"),
            change_date=D(2019, 3, 1), notification_date=D(2019, 3, 2))
        foreign = actions.register_move_in(actor, values=person_values(
            family_name="SILVA", given_name="ANA MARIA", family_name_kana="シルバ", given_name_kana="アナマリア",
            sex="2", address="豆田町1番1号", is_foreign=True, nationality="ブラジル", foreign_category="中長期在留者",
            residence_status="定住者", period_of_stay="5年", stay_expiry=D(2028, 6, 30),
            residence_card_no="AB12345678CD", alias_name="山本\u3000花", alias_name_kana="ヤマモト\u3000ハナ",
            honseki="", hittosha=""),
            change_date=D(2021, 7, 1), notification_date=D(2021, 7, 1))
        dv = actions.register_move_in(actor, values=person_values(
            family_name="保護", given_name="された人", family_name_kana="ホゴ", given_name_kana="サレタヒト",
            address="秘密町9番9号", dv_protected=True),
            change_date=D(2022, 1, 10), notification_date=D(2022, 1, 10))
        dead = actions.register_move_in(actor, values=person_values(family_name="故人", family_name_kana="コジン",
                                                                    address="丸山一丁目1番"),
                                        change_date=D(2018, 1, 1), notification_date=D(2018, 1, 1))
        actions.register_death(actor, dead, expected_version=1, death_date=D(2023, 5, 1),
                               notification_date=D(2023, 5, 2))
        planned = actions.register_move_in(actor, values=person_values(family_name="予定", family_name_kana="ヨテイ",
                                                                       address="中城町1番"),
                                           change_date=D(2019, 1, 1), notification_date=D(2019, 1, 1))
        planned = actions.register_move_out(actor, planned, expected_version=1,
                                            destination="福岡県福岡市中央区天神二丁目2番",
                                            planned_date=D(2024, 3, 31), notification_date=D(2024, 3, 20))
        confirmed = actions.register_move_in(actor, values=person_values(family_name="確定", family_name_kana="カクテイ",
                                                                         address="中央一丁目2番"),
                                             change_date=D(2019, 1, 1), notification_date=D(2019, 1, 1))
        confirmed = actions.register_move_out(actor, confirmed, expected_version=1, destination="大分県大分市府内町1番",
                                              planned_date=D(2024, 4, 1), notification_date=D(2024, 3, 25))
        actions.confirm_move_out(actor, confirmed, expected_version=confirmed.version,
                                 destination="大分県大分市府内町一丁目1番1号", notice_date=D(2024, 4, 10))
        # a multi-step history: 転居 of the household, a correction, a split, a head change
        head = Person.objects.select_related("household").get(pk=head.pk)
        actions.register_move_within(actor, head, expected_version=head.version, address="豆田町5番1号",
                                     change_date=D(2024, 6, 1), notification_date=D(2024, 6, 3),
                                     with_household=True)
        wife = Person.objects.select_related("household").get(pk=wife.pk)
        actions.correct_person(actor, wife, expected_version=wife.version,
                               changes={"former_family_name": "佐藤", "former_family_name_kana": "サトウ"},
                               change_date=D(2024, 7, 1), note="旧氏の併記")
        child = Person.objects.get(pk=child.pk)
        actions.split_household(actor, head.household, members=[Person.objects.get(pk=wife.pk), child],
                                new_head=Person.objects.get(pk=wife.pk),
                                relationships={child.pk: "子"}, change_date=D(2024, 8, 1),
                                notification_date=D(2024, 8, 1))
        # 外字: auto-approved, manually approved (with a glyph), unmappable, reopened, proposed; decided by a second
        # admin (who proposed a mapping never decides it)
        reviewer = actions.Actor(intake=actions.IntakeInput.in_person(), terminal="test", municipality=actor.municipality,
                                 user=__import__("conftest").make_user("admin-a-review", "admin", actor.municipality))
        gaiji_actions.register_code(actor, code="F040", vendor="A社", vendor_juki_code="J+9AD9")
        g = gaiji_actions.register_code(actor, code="F041", vendor="A社", glyph_png=tiny_png(), vendor_note="はしご高")
        gaiji_actions.approve_manually(reviewer, g, mj_name=moji.by_ucs("髙").mj, expected_version=g.version,
                                       note="比較")
        g = gaiji_actions.register_code(actor, code="F042", vendor="A社")
        gaiji_actions.mark_unmappable(reviewer, g, expected_version=g.version, note="該当なし")
        g = gaiji_actions.register_code(actor, code="F043", vendor="B社")
        g = gaiji_actions.approve_manually(reviewer, g, mj_name=moji.by_ucs("髙").mj, expected_version=g.version)
        gaiji_actions.reopen(actor, g, expected_version=g.version, note="誤り")
        gaiji_actions.register_code(actor, code="U+E100", vendor="")
    return {"ivs": ivs, "foreign": foreign, "dv": dv, "dead": dead, "planned": planned}


@sees_all_tenants
def counts():
    return (Person.all_tenants.count(), Household.all_tenants.count(), PersonHistory.all_tenants.count(),
            GaijiMapping.all_tenants.count(), GaijiMappingEvent.all_tenants.count(), AuditEvent.all_chains.count(),
            Municipality.objects.count(), NumberSequence.all_tenants.count())


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


FULL = policy.for_export(None, include_protected_addresses=True, system=True)


def export(m, path, when=T0, reader=FULL):
    """A complete export (protected addresses included: the migration case) unless another reader is given."""
    with tenant_scope(m):
        return export_municipality(path, reader=reader, created_at=when)


@pytest.fixture
def town_c(munis):
    a, _ = munis
    return Municipality.objects.create(code="44206", name="臼杵市", prefecture=a.prefecture)


@pytest.fixture
def exported_a(town_a, tmp_path):
    people = build_town_a(town_a)
    manifest = export(town_a.m, tmp_path / "a")
    return tmp_path / "a", manifest, people


# ---------------------------------------------------------------- the layout itself

def test_export_writes_the_documented_layout(exported_a, town_a):
    out, manifest, people = exported_a
    assert sorted(p.name for p in out.iterdir()) == sorted(DATA_FILES + ["manifest.json"])
    assert manifest["layout_version"] == LAYOUT_VERSION == "1.1"
    assert manifest["municipality"]["code"] == "44204" and manifest["municipality"]["code6"] == "442046"
    assert manifest["created_at"] == "2026-01-05T09:30:00.000000Z"
    with tenant_scope(town_a.m):
        expected = {"persons": Person.objects.count(), "households": Household.objects.count(),
                    "history": PersonHistory.objects.count(), "gaiji_mappings": GaijiMapping.objects.count(),
                    "gaiji_events": GaijiMappingEvent.objects.count(), "person_extras": 0}
    assert {r["name"]: r["rows"] for r in manifest["resources"]} == expected
    for r in manifest["resources"]:
        data = (out / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"] and len(data) == r["bytes"]
        assert b"\r\n" not in data and data.endswith(b"\n")
        schema = json.loads((out / r["schema"]).read_text(encoding="utf-8"))
        header = data.decode("utf-8").split("\n", 1)[0].split(",")
        assert [f["name"] for f in schema["fields"]] == header
        assert all(f["title"] for f in schema["fields"])
    persons = read_csv(out / "persons.csv")
    assert [p["atena_no"] for p in persons] == sorted(p["atena_no"] for p in persons)
    by_name = {p["family_name"]: p for p in persons}
    assert by_name[IVS_NAME]["given_name"] == "辻\U000E0103子"  # IVS kept as registered, never normalised
    assert by_name["SILVA"]["alias_name"] == "山本\u3000花" and by_name["SILVA"]["is_foreign"] == "true"
    assert by_name["SILVA"]["stay_expiry"] == "2028-06-30"
    assert by_name["保護"]["dv_protected"] == "true" and by_name["保護"]["address"] == "秘密町9番9号"
    assert by_name["故人"]["status"] == "removed" and by_name["故人"]["removal_reason"] == "死亡"
    assert by_name["予定"]["move_out_state"] == "予定" and by_name["確定"]["move_out_state"] == "確定"
    assert by_name["確定"]["move_in_notice_date"] == "2024-04-10"
    # no internal database id anywhere: the keys are atena_no / household_no / history_no
    assert "id" not in persons[0] and "household_id" not in persons[0] and "person_id" not in persons[0]
    history = read_csv(out / "history.csv")
    keys = [(h["atena_no"], int(h["history_no"])) for h in history]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    head_rows = [h for h in history if h["atena_no"] == persons[0]["atena_no"]]
    assert [h["change_kind"] for h in head_rows] == ["move_in", "move_within"]
    wife_rows = [h for h in history if h["atena_no"] == persons[1]["atena_no"]]
    assert [h["change_kind"] for h in wife_rows] == ["move_in", "move_within", "ex_officio_correction",
                                                      "household_split"]
    assert wife_rows[2]["former_family_name"] == "佐藤" and wife_rows[1]["former_family_name"] == ""
    assert wife_rows[3]["is_head"] == "true" and wife_rows[2]["is_head"] == "false"
    assert wife_rows[3]["household_no"] != wife_rows[2]["household_no"]
    assert head_rows[0]["address"] == "三本松二丁目3番5号" and head_rows[1]["address"] == "豆田町5番1号"
    assert head_rows[0]["processed_at"].endswith("Z")
    households = read_csv(out / "households.csv")
    assert {h["household_no"] for h in households} == {p["household_no"] for p in persons}
    gaiji = read_csv(out / "gaiji_mappings.csv")
    assert [(g["vendor"], g["pua_code"]) for g in gaiji] == [("", "U+E100"), ("A社", "U+E000"), ("A社", "U+E001"),
                                                             ("A社", "U+E002"), ("B社", "U+E003")]
    assert gaiji[2]["glyph_png_base64"] and gaiji[1]["status"] == "approved" and gaiji[1]["reviewer"] == "admin-a"
    assert gaiji[4]["status"] == "proposed" and gaiji[4]["reviewer"] == ""
    events = read_csv(out / "gaiji_events.csv")
    assert [e["action"] for e in events if e["pua_code"] == "U+E003"] == ["registered", "approved", "reopened"]
    # one audit event for the export, with counts
    with tenant_scope(town_a.m):
        ev = AuditEvent.objects.filter(action="interchange.export").get()
    assert json.loads(ev.detail)["counts"]["persons"] == len(persons)


@sees_all_tenants
def test_round_trip_gives_byte_identical_files(exported_a, town_a, town_c, tmp_path):
    out_a, manifest_a, _ = exported_a
    result = import_directory(out_a, municipality_code=town_c.code)
    assert not result["created"] and result["counts"]["persons"] == manifest_a["resources"][0]["rows"]
    manifest_c = export(town_c, tmp_path / "c")
    for name in DATA_FILES:
        assert (out_a / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name
    # the manifest: identical except the municipality (and created_at when the export time differs)
    assert manifest_c.pop("municipality")["code"] == "44206"
    manifest_a = dict(manifest_a)
    manifest_a.pop("municipality")
    assert manifest_c == manifest_a
    manifest_c2 = export(town_c, tmp_path / "c2", when=T1)
    assert manifest_c2["created_at"] != manifest_a["created_at"]
    manifest_c2.pop("municipality"), manifest_c2.pop("created_at"), manifest_a.pop("created_at")
    assert manifest_c2 == manifest_a
    # the imported register works: search keys computed, numbering continues, a change can be recorded
    with tenant_scope(town_c):
        ivs = Person.objects.get(family_name=IVS_NAME)
        assert ivs.name_key and ivs.kana_key and ivs.version == PersonHistory.objects.filter(person=ivs).count()
        seq = NumberSequence.all_tenants.get(municipality=town_c, name="atena").last_value
        assert seq == manifest_a["number_sequences"]["atena"] == max(int(p.atena_no) for p in Person.objects.all())
        admin_c = __import__("conftest").make_user("admin-c", "admin", town_c)
        actor = actions.Actor(intake=actions.IntakeInput.in_person(), user=admin_c, terminal="test", municipality=town_c)
        new = actions.register_move_in(actor, values=person_values(address="臼杵1番"), change_date=D(2025, 1, 1),
                                       notification_date=D(2025, 1, 1))
        assert int(new.atena_no) == seq + 1
        ivs = Person.objects.select_related("household").get(pk=ivs.pk)
        actions.register_move_within(actor, ivs, expected_version=ivs.version, address="臼杵2番",
                                     change_date=D(2025, 2, 1), notification_date=D(2025, 2, 1))
        assert PersonHistory.objects.filter(person=ivs).count() == Person.objects.get(pk=ivs.pk).version == 2
        ev = AuditEvent.objects.filter(action="interchange.import").get()
        assert json.loads(ev.detail)["source_municipality"] == "44204"
    # A is untouched by the import into C
    with tenant_scope(town_a.m):
        assert Person.objects.count() == manifest_a["resources"][0]["rows"]


def test_import_creates_the_municipality_from_the_manifest(exported_a, tmp_path):
    out, manifest, _ = exported_a
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    m["municipality"].update(code="44211", code6="442119", name="宇佐市", name_kana="ウサシ")
    (out / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")
    call_command("import", str(out))
    usa = Municipality.objects.get(code="44211")
    assert usa.name == "宇佐市" and usa.prefecture.code == "44"
    with tenant_scope(usa):
        assert Person.objects.count() == manifest["resources"][0]["rows"]


def test_commands_round_trip(town_a, town_c, tmp_path):
    build_town_a(town_a)
    call_command("export", "--municipality", "44204", str(tmp_path / "a"), "--include-protected-addresses")
    call_command("import", str(tmp_path / "a"), "--municipality", "44206")
    call_command("export", "--municipality", "44206", str(tmp_path / "c"), "--include-protected-addresses")
    for name in DATA_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name
    with pytest.raises(CommandError, match="空ではありません"):
        call_command("export", "--municipality", "44204", str(tmp_path / "a"))
    with pytest.raises(CommandError, match="99999"):
        call_command("export", "--municipality", "99999", str(tmp_path / "x"))


# ---------------------------------------------------------------- refusals: a clear error, nothing written

def _rewrite_manifest(out, fn):
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    fn(m)
    (out / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


def _set_sha(out, name):
    def fn(m):
        for r in m["resources"]:
            if r["path"] == name:
                r["sha256"] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    _rewrite_manifest(out, fn)


def _tamper(out):
    p = out / "persons.csv"
    p.write_bytes(p.read_bytes().replace("三本松".encode(), "五本松".encode(), 1))


def _missing(out):
    (out / "gaiji_events.csv").unlink()


def _version(out):
    _rewrite_manifest(out, lambda m: m.update(layout_version="2.0"))


def _truncated_mid_row(out):
    p = out / "history.csv"
    text = p.read_text(encoding="utf-8")
    p.write_text(text[: len(text) - 200], encoding="utf-8")
    _set_sha(out, "history.csv")


def _truncated_rows(out):
    p = out / "history.csv"
    lines = p.read_bytes().split(b"\n")
    p.write_bytes(b"\n".join(lines[:-3]) + b"\n")
    _set_sha(out, "history.csv")


def _cut_in_a_character(out):
    p = out / "persons.csv"
    data = p.read_bytes()
    p.write_bytes(data[: data.rindex("三".encode()) + 1])
    _set_sha(out, "persons.csv")


def _no_manifest(out):
    (out / "manifest.json").unlink()


def _bad_date(out):
    p = out / "persons.csv"
    p.write_bytes(p.read_bytes().replace(b"1975-04-01", b"1975-13-01", 1))
    _set_sha(out, "persons.csv")


@pytest.mark.parametrize("damage,ja,en", [
    (_tamper, "SHA-256 が manifest.json と一致しません", "sha256 does not match"),
    (_missing, "ファイル gaiji_events.csv がありません", "file gaiji_events.csv is missing"),
    (_version, "レイアウトの版 '2.0' には対応していません", "layout version '2.0' is not supported"),
    (_truncated_mid_row, "途中で切れているか壊れています", "truncated or corrupt"),
    (_truncated_rows, "ファイルが欠けています", "incomplete file"),
    (_no_manifest, "manifest.json がありません", "manifest.json is missing"),
    (_bad_date, "型 date として読めません", "is not a valid date"),
    (_cut_in_a_character, "途中で切れているか壊れています", "not UTF-8"),
])
def test_a_damaged_layout_is_refused_and_nothing_is_written(exported_a, town_c, damage, ja, en):
    out, _, _ = exported_a
    damage(out)
    before = counts()
    with pytest.raises(InterchangeError) as e:
        import_directory(out, municipality_code=town_c.code)
    assert ja in e.value.ja and en in e.value.en, (e.value.ja, e.value.en)
    assert counts() == before
    # also through the command, and also when the municipality would be created from the manifest
    with pytest.raises(CommandError, match="何も書き込んでいません"):
        call_command("import", str(out), "--municipality", town_c.code)
    assert counts() == before


def test_a_database_error_rolls_everything_back(exported_a, tmp_path):
    """A failure after writing began (here: duplicate history keys, caught by the database) leaves nothing,
    not even the municipality the import created."""
    out, _, _ = exported_a
    p = out / "history.csv"
    lines = p.read_bytes().split(b"\n")
    lines[2] = lines[1]
    p.write_bytes(b"\n".join(lines))
    _set_sha(out, "history.csv")
    _rewrite_manifest(out, lambda m: m["municipality"].update(code="44211", name="宇佐市"))
    before = counts()
    with pytest.raises(InterchangeError) as e:
        import_directory(out)
    assert "何も書き込んでいません" in e.value.ja and "nothing was written" in e.value.en
    assert counts() == before and not Municipality.objects.filter(code="44211").exists()


def test_import_into_a_municipality_with_data_is_refused(exported_a, town_a, town_b, town_c, tmp_path):
    out, _, _ = exported_a
    before = counts()
    with pytest.raises(InterchangeError) as e:
        import_directory(out)  # the manifest's own municipality, A, has data
    assert "空の団体にのみ" in e.value.ja and "empty" in e.value.en
    with tenant_scope(town_c):  # C with only a 外字 mapping is not empty either
        gaiji_actions.register_code(actions.Actor(intake=actions.IntakeInput.in_person(), user=__import__("conftest").make_user("admin-c", "admin", town_c),
                                                  municipality=town_c), code="F040")
    before = counts()
    with pytest.raises(InterchangeError):
        import_directory(out, municipality_code=town_c.code)
    assert counts() == before


# ---------------------------------------------------------------- isolation

B_SECRETS = ["綾町", "綾野", "アヤノ", "南俣", "綾瀬川", "綾小路", "綾ベンダー", "admin-b"]


def test_another_municipality_never_appears_in_an_export(town_a, town_b, tmp_path):
    build_town_a(town_a)
    town_b.family(family_name="綾野", kana="アヤノ", address="大字南俣999番地")
    town_b.family(family_name="綾瀬川", kana="アヤセガワ", address="大字北俣777番地")
    with tenant_scope(town_b.m):
        actor = town_b.actor()
        lone = actions.register_move_in(actor, values=person_values(family_name="綾小路", family_name_kana="アヤノコウジ",
                                                                    address="大字入野1番"),
                                        change_date=D(2020, 5, 1), notification_date=D(2020, 5, 1))
        actions.register_death(actor, lone, expected_version=1, death_date=D(2023, 1, 1),
                               notification_date=D(2023, 1, 2))
        gaiji_actions.register_code(actor, code="F050", vendor="綾ベンダー", glyph_png=tiny_png())
        b_codes = list(Person.objects.values_list("resident_code", flat=True))
    export(town_a.m, tmp_path / "a")
    blob = b"".join((tmp_path / "a" / n).read_bytes() for n in DATA_FILES + ["manifest.json"]).decode("utf-8")
    for secret in B_SECRETS + b_codes:
        assert secret not in blob, secret
    # and the other way round: B's export has B's persons only
    export(town_b.m, tmp_path / "b")
    b_persons = read_csv(tmp_path / "b" / "persons.csv")
    assert {p["family_name"] for p in b_persons} == {"綾野", "綾瀬川", "綾小路"}
    blob_b = (tmp_path / "b" / "persons.csv").read_text(encoding="utf-8")
    assert IVS_NAME not in blob_b and "SILVA" not in blob_b and "保護" not in blob_b
    assert len(read_csv(tmp_path / "b" / "gaiji_mappings.csv")) == 1


# ---------------------------------------------------------------- the admin's screen

def test_admin_downloads_the_zip_and_a_clerk_gets_403(town_a, staff, login):
    build_town_a(town_a)
    c = login(staff["admin_a"])
    r = c.get("/interchange/export/")
    assert r.status_code == 200 and "標準レイアウト" in r.content.decode() and "csrfmiddlewaretoken" in r.content.decode()
    with tenant_scope(town_a.m):
        before = AuditEvent.objects.filter(action="interchange.export").count()
    r = c.post("/interchange/export/", {"confirm": "1"})
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert "attachment" in r["Content-Disposition"] and "44204" in r["Content-Disposition"]
    z = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    assert sorted(z.namelist()) == sorted(DATA_FILES + ["manifest.json"])
    manifest = json.loads(z.read("manifest.json"))
    for res in manifest["resources"]:
        assert hashlib.sha256(z.read(res["path"])).hexdigest() == res["sha256"]
    assert IVS_NAME in z.read("persons.csv").decode("utf-8")
    with tenant_scope(town_a.m):
        ev = AuditEvent.objects.filter(action="interchange.export").order_by("-seq").first()
        assert AuditEvent.objects.filter(action="interchange.export").count() == before + 1
    assert ev.actor_username == "admin-a"
    # without the confirmation nothing is exported
    r = c.post("/interchange/export/", {})
    assert r.status_code == 400
    for who in ("clerk_a", "viewer_a", "operator"):
        c = login(staff[who])
        assert c.get("/interchange/export/").status_code == 403, who
        assert c.post("/interchange/export/", {"confirm": "1"}).status_code == 403, who
    with tenant_scope(town_a.m):
        assert AuditEvent.objects.filter(action="interchange.export").count() == before + 1


def test_export_then_copy_keeps_verifying(exported_a, tmp_path):
    """A copied directory (e.g. handed to the next vendor) imports: nothing depends on the path."""
    out, _, _ = exported_a
    shutil.copytree(out, tmp_path / "copy")
    from jichitai.interchange.importer import validate

    checked = validate(tmp_path / "copy")["_checked"]
    assert checked["counts"]["persons"] == 9


def test_parallel_export_writes_the_same_bytes_as_one_process(tmp_path):
    """The parallel export (worker processes, each in its own connection, reading the parent's snapshot) against a
    committed scratch database of the suite's engine: its files equal a one-process export's, byte for byte."""
    from test_migration import Scratch

    s = Scratch(tmp_path, "parallel")
    s.create(setup=False)  # seed_demo refuses a database holding a municipality not created as a demo tenant
    try:
        s.sh("seed_demo", "--scale", "0.01", "--municipalities", "44204", "--quiet")
        one, two = tmp_path / "one", tmp_path / "two"
        s.sh("export", "--municipality", "44204", str(one), "--workers", "1")
        r = s.sh("export", "--municipality", "44204", str(two), "--workers", "2")
        assert "exported" in r.stdout
        m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (one, two))
        assert [x["rows"] for x in m1["resources"]] == [x["rows"] for x in m2["resources"]]
        assert m1["resources"][0]["rows"] > 500
        for res in m1["resources"]:
            a, b = (one / res["path"]).read_bytes(), (two / res["path"]).read_bytes()
            assert a == b, res["path"]
            assert hashlib.sha256(b).hexdigest() == res["sha256"]
        assert not (two / ".parts").exists()
    finally:
        s.drop()


def test_a_failed_export_leaves_the_directory_empty(town_a, tmp_path, monkeypatch):
    from jichitai.interchange import export as E

    build_town_a(town_a)

    def boom(m):
        raise OSError("disk full")

    monkeypatch.setattr(E, "_gaiji_rows", boom)
    with pytest.raises(OSError):
        export(town_a.m, tmp_path / "x")
    assert list((tmp_path / "x").iterdir()) == []
    monkeypatch.undo()
    manifest = export(town_a.m, tmp_path / "x")  # and the same directory can be used again
    assert manifest["resources"][0]["rows"] > 0


def test_interchange_errors_survive_pickling():
    import pickle

    e = pickle.loads(pickle.dumps(InterchangeError("日本語", "English")))
    assert (e.ja, e.en, str(e)) == ("日本語", "English", "日本語 / English")

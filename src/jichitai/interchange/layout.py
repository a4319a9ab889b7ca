"""The standard layout (標準レイアウト), version 1.1 (1.0 without person_extras.csv): which files, which columns, in which order, of which type.

Everything about the layout is declared here once; the exporter, the importer, the Frictionless Table Schemas
written next to each CSV and docs/standard-layout.md all follow these lists. Column order is part of the layout:
adding, removing, renaming or reordering a column, or changing its meaning or type, is a new layout version
(docs/standard-layout.md, "Versioning").
"""
from dataclasses import dataclass

from jichitai.residents.models import SNAPSHOT_FIELDS, Person

LAYOUT_VERSION = "1.1"
# versions this code can import (major version must match: a minor version only adds optional things)
IMPORTABLE_VERSIONS = {"1.0", "1.1"}
GENERATOR = "jichitai-cloud"
SCHEMA_PROFILE = "tableschema"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Frictionless type: string, integer, boolean, date, datetime
    title: str  # the Japanese item name (docs/glossary.md, 住民記録システム標準仕様書)
    description: str = ""
    required: bool = False


# Japanese item names for the register's items (Person fields), from docs/glossary.md; the model's verbose_name
# where the glossary has no better one.
_JA = {
    "atena_no": "宛名番号", "resident_code": "住民票コード", "individual_number": "個人番号",
    "family_name": "氏", "given_name": "名", "family_name_kana": "氏フリガナ", "given_name_kana": "名フリガナ",
    "former_family_name": "旧氏", "former_family_name_kana": "旧氏フリガナ", "birth_date": "生年月日",
    "sex": "性別", "household_no": "世帯番号", "relationship": "続柄（世帯主との続柄）", "is_head": "世帯主",
    "honseki": "本籍", "hittosha": "筆頭者", "became_resident_date": "住民となった年月日",
    "address": "住所（町字・番地）", "address_katagaki": "方書", "postal_code": "郵便番号",
    "address_date": "住所を定めた年月日", "notification_date": "届出日", "previous_address": "前住所（転入前住所）",
    "elector": "選挙人名簿", "nhi": "国民健康保険", "late_elderly_medical": "後期高齢者医療",
    "care_insurance": "介護保険", "national_pension": "国民年金", "child_allowance": "児童手当",
    "adult_ward": "成年被後見人", "dv_protected": "DV等支援措置（住基閲覧制限）",
    "is_foreign": "外国人住民", "nationality": "国籍・地域", "foreign_category": "30条の45に規定する区分",
    "residence_status": "在留資格", "period_of_stay": "在留期間", "stay_expiry": "在留期間の満了日",
    "residence_card_no": "在留カード等の番号", "alias_name": "通称", "alias_name_kana": "通称フリガナ",
    "status": "住民／除票の別", "removal_reason": "消除事由", "removal_date": "消除日",
    "move_out_state": "転出先の状態（予定・確定）", "move_out_destination": "転出先",
    "move_in_notice_date": "転入通知受理日", "last_change_date": "最終異動日",
}
_NOTES = {
    "atena_no": "key of the person in this layout (per municipality)",
    "individual_number": "12 digits with check digit; restricted by law (番号法)",
    "sex": "1 = 男, 2 = 女",
    "family_name": "exactly as registered: UCS with IVS (variation selectors) kept, never NFC/NFKC-normalised",
    "given_name": "exactly as registered: UCS with IVS kept, never normalised",
    "household_no": "→ households.csv household_no",
    "address": "without the prefecture and municipality name",
    "dv_protected": "true: DV等支援措置 applies. The receiving system must keep restricting third-party access "
                    "and the address (docs/standard-layout.md)",
    "status": "resident = 住民, removed = 除票",
    "move_out_state": "予定 or 確定 (転出); empty otherwise",
}


def _type_of(field_name: str) -> str:
    if field_name == "household_no":
        return "string"
    internal = Person._meta.get_field(field_name).get_internal_type()
    return {"DateField": "date", "BooleanField": "boolean"}.get(internal, "string")


def _person_column(name: str) -> Column:
    return Column(name, _type_of(name), _JA[name], _NOTES.get(name, ""),
                  required=name in ("atena_no", "family_name", "birth_date", "sex", "household_no", "status"))


PERSON_COLUMNS = [_person_column(f) for f in SNAPSHOT_FIELDS] + [_person_column("last_change_date")]

HOUSEHOLD_COLUMNS = [
    Column("household_no", "string", "世帯番号", "key of the household in this layout", required=True),
    Column("head_atena_no", "string", "世帯主の宛名番号", "→ persons.csv atena_no; empty when the household has "
                                                     "no current head (no longer exists)"),
    Column("is_active", "boolean", "現存", "false: the household no longer exists (all members left)",
           required=True),
    Column("created_at", "datetime", "世帯の作成日時", "UTC"),
]

HISTORY_META_COLUMNS = [
    Column("atena_no", "string", "宛名番号", "→ persons.csv atena_no", required=True),
    Column("history_no", "integer", "履歴番号", "1..n per person; (atena_no, history_no) is the key", required=True),
    Column("change_kind", "string", "異動事由", "code: birth 出生, move_in 転入, move_within 転居, "
           "move_out_planned 転出（予定）, move_out_confirmed 転出（確定）, death 死亡, head_change 世帯主変更, "
           "household_split 世帯分離, household_merge 世帯合併, ex_officio_entry 職権記載, "
           "ex_officio_correction 職権修正, ex_officio_removal 職権消除", required=True),
    Column("change_date", "date", "異動日", required=True),
    Column("change_notification_date", "date", "届出日（異動の届出）", "the 届出日 of this change"),
    Column("processed_at", "datetime", "処理日", "UTC", required=True),
    Column("operator", "string", "処理者", "user name in the system that recorded the change"),
    Column("terminal", "string", "入力端末"),
    Column("note", "string", "備考"),
]
# the snapshot: every register item as recorded by this change, in SNAPSHOT_FIELDS order (atena_no is the key
# column above, so it is not repeated)
HISTORY_SNAPSHOT_FIELDS = [f for f in SNAPSHOT_FIELDS if f != "atena_no"]
HISTORY_COLUMNS = HISTORY_META_COLUMNS + [
    Column(c.name, c.type, c.title + "（記載内容）", c.description) for c in PERSON_COLUMNS
    if c.name in HISTORY_SNAPSHOT_FIELDS
]
# the history file's column names, in order (the snapshot's own notification_date keeps its name)
assert [c.name for c in HISTORY_COLUMNS[len(HISTORY_META_COLUMNS):]] == HISTORY_SNAPSHOT_FIELDS

GAIJI_COLUMNS = [
    Column("vendor", "string", "ベンダー・システム", "(vendor, pua_code) is the key", required=False),
    Column("pua_code", "string", "私用領域の文字コード", "U+E000 … U+F8FF (or planes 15/16)", required=True),
    Column("sjis_code", "string", "Shift_JIS 利用者定義領域のコード", "F040–F9FC"),
    Column("vendor_juki_code", "string", "ベンダー提示の住基ネット統一文字コード"),
    Column("vendor_koseki_no", "string", "ベンダー提示の戸籍統一文字番号"),
    Column("vendor_note", "string", "ベンダーの説明"),
    Column("mj_name", "string", "MJ文字図形名", "MJ000001 …"),
    Column("mapped_text", "string", "対応する文字（UCS+IVS）"),
    Column("status", "string", "状態", "proposed 確認待ち, approved 承認済み, unmappable 対応なし", required=True),
    Column("evidence", "string", "根拠", "juki 住基ネット統一文字コード一致, koseki 戸籍統一文字番号一致, "
                                      "mj_table ベンダー対応表のMJ図形名とUCSが一致, manual 目視確認（字形を比較）, "
                                      "manual_ng 手動承認（字形画像なし）, empty"),
    Column("reviewer", "string", "確認者", "user name (as recorded in the mapping's history)"),
    Column("reviewed_at", "datetime", "確認日時", "UTC"),
    Column("version", "integer", "版", "number of changes of the mapping", required=True),
    Column("glyph_png_base64", "string", "ベンダーの字形画像", "PNG, base64 (RFC 4648), empty when none"),
]

GAIJI_EVENT_COLUMNS = [
    Column("vendor", "string", "ベンダー・システム", "→ gaiji_mappings.csv"),
    Column("pua_code", "string", "私用領域の文字コード", "→ gaiji_mappings.csv", required=True),
    Column("event_no", "integer", "履歴番号", "1..n per mapping, in time order", required=True),
    Column("action", "string", "操作", "registered 登録, auto_approved 自動承認, approved 承認, unmappable 対応なし, "
                                     "reopened 差し戻し, conflict コード表が不一致", required=True),
    Column("at", "datetime", "日時", "UTC", required=True),
    Column("actor", "string", "操作者", "user name"),
    Column("note", "string", "備考"),
    Column("snapshot_json", "string", "記録内容", "the mapping's state after the event, as JSON (keys sorted)"),
]


PERSON_EXTRA_COLUMNS = [
    Column("atena_no", "string", "宛名番号", "→ persons.csv atena_no", required=True),
    Column("name", "string", "項目名", "the legacy layout's field name (町字コード town_code, 最終更新日 last_updated …)",
           required=True),
    Column("value", "string", "値", "as the legacy system wrote it (dates as ISO text)"),
    Column("source", "string", "出典", "the vendor (migration) the value came from"),
]


@dataclass(frozen=True)
class Resource:
    name: str
    path: str
    title: str
    columns: list
    primary_key: tuple
    foreign_keys: tuple = ()
    since: str = "1.0"  # the layout version that added the file (absent from older exports)

    @property
    def schema_path(self):
        return self.path.replace(".csv", ".schema.json")

    @property
    def header(self):
        return [c.name for c in self.columns]


RESOURCES = [
    Resource("persons", "persons.csv", "住民票（現在の記載内容・除票を含む）", PERSON_COLUMNS, ("atena_no",),
             ({"fields": ["household_no"], "reference": {"resource": "households", "fields": ["household_no"]}},)),
    Resource("households", "households.csv", "世帯", HOUSEHOLD_COLUMNS, ("household_no",),
             ({"fields": ["head_atena_no"], "reference": {"resource": "persons", "fields": ["atena_no"]}},)),
    Resource("history", "history.csv", "異動履歴（記載内容の全項目を含む）", HISTORY_COLUMNS,
             ("atena_no", "history_no"),
             ({"fields": ["atena_no"], "reference": {"resource": "persons", "fields": ["atena_no"]}},)),
    Resource("gaiji_mappings", "gaiji_mappings.csv", "外字対応（外字同定）", GAIJI_COLUMNS, ("vendor", "pua_code")),
    Resource("gaiji_events", "gaiji_events.csv", "外字対応の履歴", GAIJI_EVENT_COLUMNS,
             ("vendor", "pua_code", "event_no"),
             ({"fields": ["vendor", "pua_code"],
               "reference": {"resource": "gaiji_mappings", "fields": ["vendor", "pua_code"]}},)),
]
RESOURCES.append(
    Resource("person_extras", "person_extras.csv", "人ごとの追加属性（移行元の、取込先のない項目）", PERSON_EXTRA_COLUMNS,
             ("atena_no", "name"),
             ({"fields": ["atena_no"], "reference": {"resource": "persons", "fields": ["atena_no"]}},), since="1.1"))
RESOURCE_BY_NAME = {r.name: r for r in RESOURCES}


def resources_of(version: str) -> list:
    """The files an export of this layout version has (a minor version only adds files)."""
    v = tuple(int(x) for x in str(version).split("."))
    return [r for r in RESOURCES if tuple(int(x) for x in r.since.split(".")) <= v]


def table_schema(res: Resource) -> dict:
    """The Frictionless Table Schema (https://specs.frictionlessdata.io/table-schema/) of one file."""
    fields = []
    for c in res.columns:
        f = {"name": c.name, "type": c.type, "title": c.title}
        if c.description:
            f["description"] = c.description
        if c.type == "boolean":
            f["trueValues"], f["falseValues"] = ["true"], ["false"]
        if c.type == "datetime":
            f["format"] = "%Y-%m-%dT%H:%M:%S.%fZ"
        if c.required:
            f["constraints"] = {"required": True}
        fields.append(f)
    schema = {"title": res.title, "fields": fields, "missingValues": [""], "primaryKey": list(res.primary_key)}
    if res.foreign_keys:
        schema["foreignKeys"] = list(res.foreign_keys)
    return schema

"""Field scopes of the change feed: which snapshot fields a subscribing system may receive.

A client's scopes are a list of names, each either a named set below or a single snapshot field name
(`SNAPSHOT_FIELDS`). What a client receives is the union. Nothing is granted by default except the identifying
`atena_no` (宛名番号) and the change itself.

- 個人番号 (`individual_number`) and 住民票コード (`resident_code`) are in no named set: they are sent only to a
  client granted them by name.
- 本籍・筆頭者 are only in the `koseki` set (never in a system preset such as `kokuho` or `zei`).
- `dv_address` is not a field: it lets the client receive the address fields of a DV等支援措置 person. Without it
  those fields are withheld (sent as null, with `address_withheld: true`).
"""
from jichitai.residents.models import SNAPSHOT_FIELDS
from jichitai.privacy.policy import ADDRESS_FIELDS

DV_ADDRESS = "dv_address"

BASIC = ["family_name", "given_name", "family_name_kana", "given_name_kana", "former_family_name",
         "former_family_name_kana", "birth_date", "sex", "household_no", "relationship", "is_head",
         "became_resident_date", "is_foreign", "alias_name", "alias_name_kana", "dv_protected", "status",
         "removal_reason", "removal_date"]
ADDRESS = ["address", "address_katagaki", "postal_code", "address_date", "previous_address", "move_out_state",
           "move_out_destination", "move_in_notice_date"]
INSURANCE = ["nhi", "late_elderly_medical", "care_insurance", "national_pension"]
WELFARE = ["child_allowance", "adult_ward", "care_insurance", "late_elderly_medical"]
FOREIGN = ["nationality", "foreign_category", "residence_status", "period_of_stay", "stay_expiry",
           "residence_card_no"]

# name → (fields, Japanese description)
SCOPE_SETS = {
    "basic": (BASIC, "基本（氏名・生年月日・性別・世帯・続柄・住民となった年月日・消除）"),
    "address": (ADDRESS, "住所（住所・方書・郵便番号・前住所・転出先）"),
    "foreign": (FOREIGN, "外国人住民（国籍・在留資格・在留期間・在留カード等の番号）"),
    "koseki": (["honseki", "hittosha"], "本籍・筆頭者"),
    "senkyo": (["elector"], "選挙人名簿"),
    "insurance": (INSURANCE, "国保・後期高齢・介護・国民年金の資格"),
    "welfare": (WELFARE, "児童手当・成年被後見人・介護・後期高齢"),
    # presets per subscribing system (they include basic; none includes 本籍・筆頭者・個人番号)
    "kokuho": (BASIC + ADDRESS + INSURANCE, "国保システム向け（basic + address + insurance）"),
    "zei": (BASIC + ADDRESS, "税システム向け（basic + address）"),
    "fukushi": (BASIC + ADDRESS + WELFARE, "福祉システム向け（basic + address + welfare）"),
}

# never in a named set: granted only by name
EXPLICIT_ONLY = {"individual_number", "resident_code", DV_ADDRESS}

# the register's own fields that are always in an item (outside the scoped `person` object)
ALWAYS = ["atena_no"]

assert set(ADDRESS_FIELDS) <= set(ADDRESS), "every withheld address field must be in the address set"
for _name, (_fields, _) in SCOPE_SETS.items():
    assert set(_fields) <= set(SNAPSHOT_FIELDS), _name
    assert not set(_fields) & EXPLICIT_ONLY, _name


class ScopeError(ValueError):
    pass


def known_scope(name: str) -> bool:
    return name in SCOPE_SETS or name in SNAPSHOT_FIELDS or name == DV_ADDRESS


def parse_scopes(text) -> list[str]:
    """'basic,kokuho' (or a list) → a validated, de-duplicated list; unknown names raise ScopeError."""
    names = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for n in (x.strip() for x in names):
        if not n:
            continue
        if not known_scope(n):
            raise ScopeError(f"unknown scope {n!r} / 不明なスコープです: {n}")
        if n not in out:
            out.append(n)
    if not out:
        raise ScopeError("at least one scope is required / スコープを1つ以上指定してください")
    return out


def allowed_fields(scopes) -> list[str]:
    """The snapshot fields (in register order) a client with these scopes receives."""
    granted = set()
    for n in scopes:
        if n in SCOPE_SETS:
            granted |= set(SCOPE_SETS[n][0])
        elif n in SNAPSHOT_FIELDS:
            granted.add(n)
    return [f for f in SNAPSHOT_FIELDS if f in granted and f not in ALWAYS]


def sees_dv_addresses(scopes) -> bool:
    return DV_ADDRESS in scopes

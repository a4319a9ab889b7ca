"""Search queries drawn from the real data: each one is built from an existing person, typed the way a clerk would
type it (kanji name prefixes, kana as hiragana / katakana / half-width, 和暦 and 西暦 dates, address prefixes,
住民票コード, 宛名番号, name + birth date)."""
import unicodedata

from jichitai.common.wareki import era_of, format_wareki
from jichitai.moji.kana import kana_key, name_key

KINDS = ["name", "kana_hiragana", "kana_katakana", "kana_halfwidth", "birth_wareki", "birth_seireki", "address",
         "resident_code", "atena_no", "name_birth"]
PERSON_FIELDS = ["id", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "address",
                 "resident_code", "atena_no"]

# full-width katakana → half-width (single char, or base + ﾞ / ﾟ)
_HALF = {}
for _c in range(0xFF61, 0xFFA0):
    _full = unicodedata.normalize("NFKC", chr(_c))
    if len(_full) == 1:
        _HALF.setdefault(_full, chr(_c))
for _base, _full in list(_HALF.items()):
    for _mark in ("\uff9e", "\uff9f"):
        _comb = unicodedata.normalize("NFKC", _full + _mark)
        if len(_comb) == 1 and _comb not in _HALF:
            _HALF[_comb] = _full + _mark


def to_hiragana(s: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in s)


def to_halfwidth(s: str) -> str:
    return "".join(_HALF.get(c, c) for c in s)


def wareki_forms(d):
    era = era_of(d)
    y = d.year - era[3].year + 1
    return [format_wareki(d), f"{era[1]}{y}.{d.month}.{d.day}", f"{era[0][0]}{y}/{d.month}/{d.day}",
            f"{era[2]}{y:02d}{d.month:02d}{d.day:02d}"]


def seireki_forms(d):
    return [d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y%m%d")]


def _full_width_digits(s):
    return s.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


def build(kind: str, p: dict, rng, municipality_name: str) -> dict:
    """Search form input (the SearchCriteria fields) for one query of `kind` aimed at person `p`."""
    name = name_key(p["family_name"] + p["given_name"])
    kana = kana_key(p["family_name_kana"] + p["given_name_kana"])
    if kind == "name":
        return {"name": name[:rng.randint(1, 4)]}
    if kind.startswith("kana_"):
        prefix = kana[:rng.randint(2, 5)]
        typed = {"kana_hiragana": to_hiragana, "kana_katakana": str, "kana_halfwidth": to_halfwidth}[kind](prefix)
        return {"kana": typed}
    if kind == "birth_wareki":
        return {"birth_date": rng.choice(wareki_forms(p["birth_date"]))}
    if kind == "birth_seireki":
        return {"birth_date": rng.choice(seireki_forms(p["birth_date"]))}
    if kind == "address":
        addr = p["address"]
        cut = rng.randint(min(3, len(addr)), len(addr))
        text = addr[:cut]
        if rng.random() < 0.2:
            text = municipality_name + text
        return {"address": text}
    if kind == "resident_code":
        code = p["resident_code"]
        return {"resident_code": _full_width_digits(code) if rng.random() < 0.2 else code}
    if kind == "atena_no":
        no = p["atena_no"]
        return {"atena_no": no.lstrip("0") if rng.random() < 0.5 else no}
    if kind == "name_birth":
        d = p["birth_date"]
        date = rng.choice(wareki_forms(d) + seireki_forms(d))
        return {"name": name[:rng.randint(1, 3)], "birth_date": date}
    raise ValueError(kind)


def usable(kind: str, p: dict) -> bool:
    kana = kana_key(p["family_name_kana"] + p["given_name_kana"])
    if kind.startswith("kana_"):
        return len(kana) >= 2 and all(0x30A0 <= ord(c) <= 0x30FF for c in kana)
    return True


def random_persons(municipality, count: int, rng) -> list[dict]:
    """`count` random existing persons of `municipality` (除票 included: a clerk searches those too)."""
    from django.db.models import Max, Min

    from jichitai.residents.models import Person

    qs = Person.all_tenants.filter(municipality=municipality)
    bounds = qs.aggregate(lo=Min("id"), hi=Max("id"))
    out, seen = [], set()
    while len(out) < count:
        ids = {rng.randint(bounds["lo"], bounds["hi"]) for _ in range(count - len(out) + 50)} - seen
        seen |= ids
        out += list(qs.filter(id__in=ids).values(*PERSON_FIELDS))
    rng.shuffle(out)
    return out[:count]


def make_queries(municipality, per_kind: int, rng) -> list[tuple[str, dict, int]]:
    """(kind, criteria dict, target person id), `per_kind` of each kind, shuffled."""
    persons = random_persons(municipality, per_kind * len(KINDS) * 2, rng)
    queries = []
    for kind in KINDS:
        pool = [p for p in persons if usable(kind, p)]
        for p in rng.sample(pool, per_kind):
            queries.append((kind, build(kind, p, rng, municipality.name), p["id"]))
    rng.shuffle(queries)
    return queries

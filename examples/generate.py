"""Generate the synthetic legacy files of the two fictional vendors (examples/vendor_a.toml, vendor_b.toml).

    .venv/bin/python examples/generate.py                      # regenerate the samples and their manifests
    .venv/bin/python examples/generate.py --vendor a --rows 1000000 --clean --out var/bench/legacy_a.dat

Everything is synthetic (names from a short list, random numbers). The samples mix in, on purpose: 外字 in the
Shift_JIS user-defined area (F040–F9FC) — some that the tests approve in the 外字 registry, some left unapproved
(held rows) — and bad rows of every kind the importer reports (truncated, bad dates, unknown codes, duplicate
住民票コード, members without a household, binary garbage, UTF-8 / EUC-JP rows, an empty line). The manifest
(<name>.expected.json) says what the importer should find when the "approved" 外字 below are approved.
"""
import argparse
import datetime as dt
import json
import random
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent

FAMILY = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("渡辺", "ワタナベ"),
          ("伊藤", "イトウ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
          ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("松本", "マツモト"), ("井上", "イノウエ")]
MALE = [("太郎", "タロウ"), ("一郎", "イチロウ"), ("健太", "ケンタ"), ("翔", "ショウ"), ("大輔", "ダイスケ"),
        ("誠", "マコト")]
FEMALE = [("花子", "ハナコ"), ("美咲", "ミサキ"), ("陽子", "ヨウコ"), ("結衣", "ユイ"), ("恵子", "ケイコ"),
          ("直美", "ナオミ")]
# 外字 per vendor: private-use character (cp932 user-defined area), used in family names.
GAIJI = {
    "a": {"approved": [("\ue000橋", "タカハシ", "F040"), ("\ue001田", "ヨシダ", "F041")],
          "pending": [("渡\ue002", "ワタナベ", "F042")]},
    "b": {"approved": [("\ue0bc橋", "タカハシ", "F140")],
          "pending": [("\ue0bd崎", "ヤマザキ", "F141")]},
}
# what the tests approve: (vendor code, sjis, MJ text, evidence)
APPROVALS = {"a": [("F040", "髙", "juki"), ("F041", "𠮷", "koseki")], "b": [("F140", "髙", "manual")]}
TOWNS = {"a": ["中央町", "本町", "城南町", "緑ケ丘", "旭町"], "b": ["桜木町", "港町", "新町", "東区若葉", "西原"]}
ERAS = [(dt.date(2019, 5, 1), 5, "R"), (dt.date(1989, 1, 8), 4, "H"), (dt.date(1926, 12, 25), 3, "S"),
        (dt.date(1912, 7, 30), 2, "T"), (dt.date(1868, 1, 25), 1, "M")]
HW = str.maketrans({})


def to_halfwidth(kana: str) -> str:
    import unicodedata

    out = []
    for ch in kana:
        # decompose voiced marks, then map to half-width forms via NFKC's inverse table
        d = unicodedata.normalize("NFD", ch)
        base, marks = d[0], d[1:]
        out.append(_HALF.get(base, base) + "".join({"\u3099": "ﾞ", "\u309a": "ﾟ"}.get(m, m) for m in marks))
    return "".join(out)


_FULL = "ァアィイゥウェエォオカキクケコサシスセソタチッツテトナニヌネノハヒフヘホマミムメモャヤュユョヨラリルレロワヲンー　"
_HALFS = "ｧｱｨｲｩｳｪｴｫｵｶｷｸｹｺｻｼｽｾｿﾀﾁｯﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜｦﾝｰ "
_HALF = dict(zip(_FULL, _HALFS))


def wareki_compact(d):
    for first, digit, _ in ERAS:
        if d >= first:
            return f"{digit}{d.year - first.year + 1:02d}{d.month:02d}{d.day:02d}"


def wareki_letter(d):
    for first, _, letter in ERAS:
        if d >= first:
            return f"{letter}{d.year - first.year + 1:02d}.{d.month:02d}.{d.day:02d}"


def check_digit(first11):
    total = sum(int(first11[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def load(vendor):
    lay = tomllib.loads((HERE / f"vendor_{vendor}.toml").read_text("utf-8"))
    return lay


def encode(lay, values: dict, encoding="cp932") -> bytes:
    rec = bytearray(b" " * lay["record_length"])
    for f in lay["fields"]:
        v = values.get(f["name"])
        if v is None:
            continue
        b = str(v).encode(encoding)[:f["length"]]
        rec[f["offset"]:f["offset"] + len(b)] = b
    return bytes(rec)


class Gen:
    def __init__(self, vendor, seed, gaiji_rate=0.02, removed_rate=0.03):
        self.vendor = vendor
        self.rng = random.Random(seed)
        self.lay = load(vendor)
        self.codes = {k: {v: c for c, v in m.items()} for k, m in self.lay["codes"].items()}  # ours -> vendor
        self.gaiji_rate = gaiji_rate
        self.removed_rate = removed_rate
        self.person_no = 0
        self.household_no = 0
        self.today = dt.date(2026, 1, 15)

    def date(self, d):
        if d is None:
            return ""
        if self.vendor == "a":
            return wareki_compact(d)
        return d.strftime("%Y%m%d")

    def birth(self, d):
        return wareki_compact(d) if self.vendor == "a" else wareki_letter(d)

    def rand_date(self, y0, y1):
        start = dt.date(y0, 1, 1).toordinal()
        return dt.date.fromordinal(self.rng.randint(start, dt.date(y1, 12, 28).toordinal()))

    def person(self, hh, rel, family, sex, born, *, kind="move_in", change=None, address, gaiji_name=None):
        r = self.rng
        self.person_no += 1
        given = r.choice(MALE if sex == "1" else FEMALE)
        fam, fam_kana = gaiji_name[:2] if gaiji_name else family
        change = change or self.rand_date(max(born.year, 1995), 2024)
        if change < born:
            change = born
        code = f"{(self.person_no * 7_919_861 + 31_337) % 10**11:011d}"
        first11 = f"{r.randrange(10**11):011d}"
        v = {"household_no": f"{hh:08d}" if self.vendor == "b" else f"{hh:010d}",
             "atena_no": f"{self.person_no:012d}" if self.vendor == "b" else f"{self.person_no:010d}",
             "resident_code": code, "relationship": self.codes["relationship"][rel],
             "sex": self.codes["sex"][sex], "birth_date": self.birth(born),
             "address": address, "change_kind": self.codes["change_kind"][kind], "change_date": self.date(change),
             "notification_date": self.date(change)}
        if self.vendor == "a":
            v.update(family_name=fam, given_name=given[0], family_name_kana=to_halfwidth(fam_kana),
                     given_name_kana=to_halfwidth(given[1]), postal_code="8770001",
                     honseki="大分県日田市" + address[:20], became_resident_date=self.date(change),
                     individual_number=first11 + check_digit(first11), elector="1" if born.year < 2005 else "0",
                     previous_address="福岡県福岡市中央区天神一丁目1番1号" if kind == "move_in" else "")
        else:
            v.update(full_name=f"{fam}　{given[0]}", full_name_kana=to_halfwidth(f"{fam_kana} {given[1]}"),
                     postal_code="880-0001", is_foreign="N", nhi="Y" if r.random() < 0.2 else "N")
        return v

    def household(self, *, gaiji=None, head_only=False):
        """Members' field values; the first is the head."""
        r = self.rng
        self.household_no += 1
        hh = self.household_no
        family = r.choice(FAMILY)
        address = f"{r.choice(TOWNS[self.vendor])}{r.randint(1, 5)}丁目{r.randint(1, 30)}番{r.randint(1, 20)}号"
        head_sex = "1" if r.random() < 0.8 else "2"
        head_birth = self.rand_date(1940, 1995)
        use_gaiji = gaiji or (r.random() < self.gaiji_rate and r.choice(GAIJI[self.vendor]["approved"]))
        members = [self.person(hh, "世帯主", family, head_sex, head_birth, address=address,
                               gaiji_name=use_gaiji or None)]
        if head_only:
            return members
        n = r.choice([0, 1, 1, 2, 2, 3])
        if r.random() < 0.7:
            members.append(self.person(hh, "妻" if head_sex == "1" else "夫", family, "2" if head_sex == "1" else "1",
                                       self.rand_date(head_birth.year - 3, min(head_birth.year + 5, 2000)),
                                       address=address, gaiji_name=use_gaiji or None))
        for _ in range(n):
            born = self.rand_date(max(head_birth.year + 20, 1965), 2023)
            kind = "birth"
            m = self.person(hh, "子", family, r.choice("12"), born, kind=kind, change=born, address=address,
                            gaiji_name=use_gaiji or None)
            if r.random() < self.removed_rate:
                m["change_kind"] = self.codes["change_kind"]["move_out_confirmed" if r.random() < .7 else "death"]
                m["change_date"] = self.date(self.rand_date(max(born.year + 1, 2000), 2024))
                m["notification_date"] = m["change_date"]
            members.append(m)
        return members

    def encode(self, v, encoding="cp932"):
        return encode(self.lay, v, encoding)


def term(vendor):
    return b"\r\n" if vendor == "a" else b"\n"


def generate_sample(vendor, n_households=25, seed=2026):
    """A small sample with every kind of row. Returns (bytes, manifest)."""
    g = Gen(vendor, seed, gaiji_rate=0.0)
    t = term(vendor)
    lines = []
    expect = {"imported": 0, "rejected": {}, "held": 0}

    def ok(members):
        for m in members:
            lines.append(g.encode(m))
        expect["imported"] += len(members)

    def rej(reason, n=1):
        expect["rejected"][reason] = expect["rejected"].get(reason, 0) + n

    approved = GAIJI[vendor]["approved"]
    for i in range(n_households):
        ok(g.household(gaiji=approved[(i // 6) % len(approved)] if i % 6 == 1 else None))
    # held: a household whose head has an unapproved 外字 (members held with it) and a lone member in an ok household
    pend = GAIJI[vendor]["pending"][0]
    hh = g.household(gaiji=pend)
    for m in hh:
        lines.append(g.encode(m))
    expect["held"] += len(hh)
    hh = g.household()
    hh = hh[:1] + [g.person(g.household_no, "子", pend[:2], "1", dt.date(2010, 5, 5), kind="birth",
                            change=dt.date(2010, 5, 5), address=hh[0]["address"])]
    lines.append(g.encode(hh[0]))
    lines.append(g.encode(hh[1]))
    expect["imported"] += 1
    expect["held"] += 1
    # bad rows
    hh = g.household(head_only=True)
    v = dict(hh[0], birth_date="4310231" if vendor == "a" else "H31.05.01")  # 2月31日 / outside 平成
    lines.append(g.encode(v))
    rej("date")
    v = g.household(head_only=True)[0]
    v["relationship"] = "77" if vendor == "a" else "999"
    lines.append(g.encode(v))
    rej("code")
    if vendor == "b":
        v = g.household(head_only=True)[0]
        v["sex"] = "X"
        lines.append(g.encode(v))
        rej("code")
    # a member whose household has no head row
    g.household_no += 1
    v = g.person(g.household_no, "子", FAMILY[0], "2", dt.date(2001, 3, 3), kind="birth", change=dt.date(2001, 3, 3),
                 address="本町1丁目1番1号")
    lines.append(g.encode(v))
    rej("no_head")
    # duplicate 住民票コード: two children of two ok households
    a = g.household(head_only=True)
    b = g.household(head_only=True)
    ca = g.person(a[0]["household_no"] and g.household_no - 1, "子", FAMILY[1], "1", dt.date(2005, 1, 1),
                  kind="birth", change=dt.date(2005, 1, 1), address=a[0]["address"])
    cb = g.person(g.household_no, "子", FAMILY[2], "2", dt.date(2006, 1, 1), kind="birth",
                  change=dt.date(2006, 1, 1), address=b[0]["address"])
    cb["resident_code"] = ca["resident_code"]
    for m in (a[0], ca, b[0], cb):
        lines.append(g.encode(m))
    expect["imported"] += 3  # the first holder of the code is kept (reported with a warning), the second rejected
    rej("duplicate_resident_code", 1)
    # a head with a future birth date: its household is rejected with it
    hh = g.household()
    while len(hh) < 2:
        hh = g.household()
    hh[0]["birth_date"] = "5500101" if vendor == "a" else "R50.01.01"
    for m in hh:
        lines.append(g.encode(m))
    rej("rule")
    rej("head_rejected", len(hh) - 1)
    # truncated record
    lines.append(g.encode(g.household(head_only=True)[0])[:-37])
    rej("length")
    # binary garbage (no newline byte inside)
    rng = random.Random(seed + 1)
    lines.append(bytes(rng.choice([b for b in range(256) if b != 0x0A]) for _ in range(g.lay["record_length"])))
    rej("encoding")  # a right-length garbage row fails decoding (or another field check)
    # the same person written in UTF-8 and in EUC-JP (padded to the record length)
    v = g.household(head_only=True)[0]
    lines.append(g.encode(v, "utf-8"))
    rej("wrong_encoding_utf8")
    v = g.household(head_only=True)[0]
    lines.append(g.encode(v, "euc_jp"))
    rej("wrong_encoding_eucjp")
    # an empty line
    lines.append(b"")
    rej("empty")
    data = t.join(lines) + t
    n = len(lines)
    manifest = {"vendor": vendor, "rows": n, "imported": expect["imported"], "held": expect["held"],
                "rejected": sum(expect["rejected"].values()), "rejected_kinds": expect["rejected"],
                "approvals": APPROVALS[vendor],
                "note": "counts assume the approvals listed are in the 外字 registry; the garbage, UTF-8 and EUC-JP "
                        "rows are rejected for whichever check fails first"}
    return data, manifest


def generate_bulk(vendor, n_rows, seed=7, out=None, gaiji_rate=0.02):
    """n_rows valid rows (households cut to size), with approved 外字 in about gaiji_rate of households and
    about 3% 除票 members. Streams to `out` (a path)."""
    g = Gen(vendor, seed, gaiji_rate=gaiji_rate)
    t = term(vendor)
    written = 0
    with open(out, "wb") as f:
        buf = []
        while written < n_rows:
            members = g.household()[:n_rows - written]
            for m in members:
                buf.append(g.encode(m))
                buf.append(t)
            written += len(members)
            if len(buf) > 20000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return written


# ---------------------------------------------------------------------- vendor C (format 2: record types, generations)

def resident_code(first10: str) -> str:
    """A synthetic 住民票コード with its check digit (jichitai.common.checkdigits.resident_code_check_digit)."""
    total = sum(int(first10[9 - i]) * (2 + i % 6) for i in range(10))
    r = total % 11
    return first10 + str(0 if r <= 1 else 11 - r)


# the vendor's 外字対応表: (vendor code, PUA char, MJ文字図形名, UCS with IVS, note, glyph?) — F040–F042 agree with the
# MJ table (approved on import), F043 has no information (確認待ち, 字形画像なし: its rows are held), F044 claims an
# MJ name whose UCS is another character (確認待ち, with the vendor's glyph to compare)
GAIJI_C = [("F040", "\ue000", "MJ028902", "U+9AD9", "はしごだか", False),
           ("F041", "\ue001", "MJ032129", "U+20BB7", "つちよし", False),
           ("F042", "\ue002", "MJ026190", "U+9089 U+E010F", "異体字セレクタ付き", False),
           ("F043", "\ue003", "", "", "対応不明（字形を確認してください）", False),
           ("F044", "\ue004", "MJ028902", "U+9AD8", "ベンダー表記の誤りの例", True)]
APPROVALS["c"] = [("F040", "髙", "mj_table"), ("F041", "𠮷", "mj_table"), ("F042", "邉\U000E010F", "mj_table")]


def tiny_png():
    """A 1×1 grey PNG (a stand-in for a vendor's glyph image)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


class GenC:
    """Vendor C records: header, one record per person per generation (住民 1 / 除票 2), trailer."""

    def __init__(self, seed=2026):
        self.lay = load("c")
        self.rng = random.Random(seed)
        self.types = {r["code"]: r for r in self.lay["records"]}
        self.codes = {k: {v: c for c, v in m.items()} for k, m in self.lay["codes"].items()}
        self.lines, self.expect = [], []
        self.person_no, self.household_no = 0, 0

    def rec(self, code, values, encoding="cp932"):
        r = self.types[code]
        b = bytearray(b" " * self.lay["record_length"])
        b[0:1] = code.encode()
        for f in r["fields"]:
            v = values.get(f["name"])
            if v is None:
                continue
            e = str(v).encode(encoding)[:f["length"]]
            b[f["offset"]:f["offset"] + len(e)] = e
        return bytes(b)

    def add(self, rec, outcome):
        self.lines.append(rec)
        self.expect.append(outcome)

    def person(self, hh, rel, family, sex, born, **kw):
        self.person_no += 1
        given = self.rng.choice(MALE if sex == "1" else FEMALE)
        v = {"household_no": f"{hh:010d}", "atena_no": f"{self.person_no:010d}",
             "resident_code": resident_code(f"{(self.person_no * 7_919_861 + 31_337) % 10**10:010d}"),
             "family_name": family[0], "given_name": given[0], "family_name_kana": to_halfwidth(family[1]),
             "given_name_kana": to_halfwidth(given[1]), "sex": sex, "birth_date": wareki_compact(born),
             "relationship": self.codes["relationship"][rel], "town_code": f"{self.rng.randint(1, 9999):04d}001",
             "last_updated": "20251201"}
        v.update(kw)
        return v

    def generations(self, v, gens, outcome_last="current"):
        """gens: [(vendor change code, change date text, address, overrides)] oldest first; the last is current."""
        for i, (code, when, address, extra) in enumerate(gens, start=1):
            g = dict(v, generation=f"{i:02d}", change_kind=code, change_date=when, notification_date=when,
                     address=address, **extra)
            rtype = "2" if code.startswith("X") else "1"
            self.add(self.rec(rtype, g), outcome_last if i == len(gens) else "history")

    def household(self, gens_head=None, members=1):
        self.household_no += 1
        hh = self.household_no
        family = self.rng.choice(FAMILY)
        addr = f"{self.rng.choice(TOWNS['a'])}{self.rng.randint(1, 5)}丁目{self.rng.randint(1, 30)}番"
        head = self.person(hh, "世帯主", family, "1", self.rand_date(1940, 1990))
        self.generations(head, gens_head or [("A1", "4220401", addr, {})])
        out = [head]
        for _ in range(members):
            m = self.person(hh, "子", family, self.rng.choice("12"), self.rand_date(1991, 2015))
            self.generations(m, [("B1", m["birth_date"], addr, {})])
            out.append(m)
        return hh, family, addr, out

    def rand_date(self, y0, y1):
        start = dt.date(y0, 1, 1).toordinal()
        return dt.date.fromordinal(self.rng.randint(start, dt.date(y1, 12, 28).toordinal()))


def generate_vendor_c(seed=2026):
    """The vendor C sample: every trait of format 2 (see examples/vendor_c.toml). Returns (bytes, manifest, gaiji
    table CSV text)."""
    g = GenC(seed)
    g.add(g.rec("H", {"created": "20260115", "municipality": "442046"}), "control")
    for _ in range(6):
        g.household(members=g.rng.choice([0, 1, 2]))
    # a person with four generations, each with its own 異動事由 (転入 → 転居 → 世帯主変更 → 職権修正), the later
    # ones written with the era overflow the vendor's manual documents (平成31年5月, 平成32年)
    g.household_no += 1
    hh = g.household_no
    four = g.person(hh, "世帯主", FAMILY[3], "2", dt.date(1961, 6, 1))
    g.generations(four, [("A2", "4100401", "本町1丁目1番", {}), ("C1", "4310510", "本町2丁目2番", {}),
                         ("D1", "4320301", "本町2丁目2番", {}), ("E2", "5030701", "本町2丁目2番", {})])
    # transition days written in the older era: 大正15年12月25日 = 昭和元年12月25日, 明治45年7月30日 = 大正元年7月30日
    hh2, fam, addr, _ = g.household(members=0)
    g.add(g.rec("1", g.person(hh2, "父", fam, "1", dt.date(1926, 12, 25), birth_date="2151225", generation="01",
                              change_kind="E1", change_date="4220401", address=addr)), "current")
    g.add(g.rec("1", g.person(hh2, "母", fam, "2", dt.date(1926, 12, 25), birth_date="3011225", generation="01",
                              change_kind="E1", change_date="4220401", address=addr)), "current")
    g.add(g.rec("1", g.person(hh2, "同居人", fam, "2", dt.date(1912, 7, 30), birth_date="1450730", generation="01",
                              change_kind="E1", change_date="4220401", address=addr)), "current")
    # household fallback: the head's newest generation is broken (令和元年4月 is before 令和 began); its earlier
    # generation is the current state, so the household is imported
    g.household_no += 1
    hh3 = g.household_no
    head = g.person(hh3, "世帯主", FAMILY[5], "1", dt.date(1970, 3, 3))
    g.generations(head, [("A1", "4050401", "緑ケ丘3丁目3番", {}), ("C1", "5010410", "緑ケ丘4丁目4番", {})],
                  outcome_last="rejected:date")
    g.expect[-2] = "current"
    child = g.person(hh3, "子", FAMILY[5], "2", dt.date(2004, 8, 8))
    g.generations(child, [("B1", "4160808", "緑ケ丘3丁目3番", {})])
    # 除票 as its own record type: the newest generation of a member is a 死亡 record
    hh4, fam, addr, members = g.household(members=1)
    gone = g.person(hh4, "母", fam, "2", dt.date(1935, 2, 2))
    g.generations(gone, [("E1", "4220401", addr, {}), ("X2", "5050105", addr, {})])
    # duplicates: an identical repeat (kept once) and a conflicting one (the first kept, both reported)
    g.add(g.lines[-1], "duplicate")
    hh5, fam, addr, members = g.household(members=1)
    last = g.lines[-1]
    conflict = last[:124] + "本町9丁目9番".encode("cp932").ljust(40) + last[164:]
    g.add(conflict, "rejected:duplicate_person_key")
    # full-width kana in a half-width field; a wrong 住民票コード check digit; an unknown record type
    hh6 = g.household_no = g.household_no + 1
    v = g.person(hh6, "世帯主", FAMILY[0], "1", dt.date(1980, 1, 1), family_name_kana="サトウ")
    g.generations(v, [("A1", "4220401", "旭町1丁目1番", {})], outcome_last="rejected:fullwidth")
    g.household_no += 1
    v = g.person(g.household_no, "世帯主", FAMILY[1], "1", dt.date(1981, 1, 1))
    v["resident_code"] = v["resident_code"][:10] + str((int(v["resident_code"][10]) + 1) % 10)
    g.generations(v, [("A1", "4220401", "旭町2丁目2番", {})], outcome_last="rejected:rule")
    g.add(b"5" + g.lines[-1][1:], "rejected:record_type")
    # 外字 from the vendor's 外字対応表 (F040 髙, F041 𠮷, F042 邉 with IVS; F043 unknown: held)
    for sjis, pua, *_ in GAIJI_C[:3]:
        g.household_no += 1
        v = g.person(g.household_no, "世帯主", (pua + "田", "タカダ"), "1", dt.date(1975, 5, 5))
        g.generations(v, [("A1", "4220401", "城南町1丁目1番", {})])
    g.household_no += 1
    v = g.person(g.household_no, "世帯主", ("\ue003野", "ワタノ"), "2", dt.date(1977, 7, 7))
    g.generations(v, [("A1", "4220401", "城南町2丁目2番", {}), ("C2", "4300101", "城南町2丁目3番", {})],
                  outcome_last="held")
    g.expect[-2] = "held"
    # trailer: data record count, hash total of the 住民票コード, byte sum of the data records
    data = g.lines[1:]
    total = sum(int(r[23:34]) for r in data if r[:1] in (b"1", b"2") and r[23:34].isdigit())
    g.add(g.rec("9", {"record_count": f"{len(data):08d}", "resident_code_total": f"{total % 10**15:015d}",
                      "byte_sum": f"{sum(sum(r) for r in data) % 10**12:012d}"}), "control")
    out = b"".join(r + b"\r\n" for r in g.lines)
    kinds = {}
    for e in g.expect:
        if e.startswith("rejected:"):
            kinds[e[9:]] = kinds.get(e[9:], 0) + 1
    count = {k: sum(1 for e in g.expect if e == k) for k in ("current", "history", "duplicate", "control", "held")}
    manifest = {"vendor": "c", "rows": len(g.lines), "imported": count["current"], "history_lines": count["history"],
                "duplicates": count["duplicate"], "control_records": count["control"], "held": count["held"],
                "rejected": sum(kinds.values()), "rejected_kinds": kinds, "approvals": APPROVALS["c"],
                "era_overflow_warnings": 4, "four_generations_person_key": four["atena_no"],
                "gaiji_table": {"approved": ["F040", "F041", "F042"], "proposed": ["F043", "F044"]},
                "note": "counts assume the approvals listed are in the 外字 registry: importing the 外字対応表 "
                        "vendor_c_gaiji.csv (jichitai gaiji import-table) approves F040–F042 on code-table evidence; "
                        "F043 and F044 stay 確認待ち, the rows with F043 are held"}
    import base64

    def char(ucs):
        return "".join(chr(int(u[2:], 16)) for u in ucs.split()) if ucs else ""
    table = "vendor_code,mj_name,ucs,char,note,glyph_png_base64\n" + "".join(
        f"{sjis},{mj},{ucs},{char(ucs)},{note},{base64.b64encode(tiny_png()).decode() if glyph else ''}\n"
        for sjis, _pua, mj, ucs, note, glyph in GAIJI_C)
    return out, manifest, table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vendor", choices=["a", "b", "c"])
    ap.add_argument("--rows", type=int, help="generate N clean rows (benchmark) instead of the sample")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.rows:
        vendor = args.vendor or "a"
        out = args.out or f"legacy_{vendor}_{args.rows}.dat"
        n = generate_bulk(vendor, args.rows, seed=args.seed, out=out)
        print(f"wrote {n:,} rows to {out}")
        return
    if args.vendor in (None, "c"):
        data, manifest, table = generate_vendor_c()
        (HERE / "vendor_c_sample.dat").write_bytes(data)
        (HERE / "vendor_c_sample.expected.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                                            "utf-8")
        (HERE / "vendor_c_gaiji.csv").write_text(table, "utf-8")
        print(f"vendor c: {manifest['rows']} rows → examples/vendor_c_sample.dat (+ vendor_c_gaiji.csv)")
        if args.vendor == "c":
            return
    for vendor in ([args.vendor] if args.vendor else ["a", "b"]):
        data, manifest = generate_sample(vendor)
        (HERE / f"vendor_{vendor}_sample.dat").write_bytes(data)
        (HERE / f"vendor_{vendor}_sample.expected.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", "utf-8")
        print(f"vendor {vendor}: {manifest['rows']} rows → examples/vendor_{vendor}_sample.dat")


if __name__ == "__main__":
    sys.exit(main())

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vendor", choices=["a", "b"])
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
    for vendor in ([args.vendor] if args.vendor else ["a", "b"]):
        data, manifest = generate_sample(vendor)
        (HERE / f"vendor_{vendor}_sample.dat").write_bytes(data)
        (HERE / f"vendor_{vendor}_sample.expected.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", "utf-8")
        print(f"vendor {vendor}: {manifest['rows']} rows → examples/vendor_{vendor}_sample.dat")


if __name__ == "__main__":
    sys.exit(main())

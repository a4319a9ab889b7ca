#!/usr/bin/env python3
"""Build the compact character tables of `jichitai.moji` from the npm package @mandel59/mojidata.

    .venv/bin/python scripts/build_moji_tables.py            # npm pack, verify sha256, extract, build
    .venv/bin/python scripts/build_moji_tables.py --db PATH  # use an already extracted dist/moji.db
    .venv/bin/python scripts/build_moji_tables.py --inspect  # only print the schema summary of moji.db

Only this script needs npm (and network access to the npm registry). The application and the tests read the
derived files under src/jichitai/moji/data/ (see docs/moji.md for what they contain and why).

Outputs (all UTF-8, tab-separated, gzip'd with mtime 0 so that a rebuild from the same input is byte-identical):
  mji.tsv.gz     one row per MJ character (MJ文字情報一覧表 + readings + radicals + trusted MJ縮退 targets)
  ivs.tsv.gz     every IVD-registered ideographic variation sequence (all collections) and SVS of CJK compat ideographs
  keys.tsv.gz    per text unit (a character, or base + variation selector): selector / degenerate / variant keys
  legacy.tsv.gz  per unit not in JIS X 0208: the trusted replacement for JIS X 0208 and for JIS X 0213 output
  PROVENANCE.md  package, version, tarball sha256, tables used, date and licences / attribution
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path

PACKAGE = "@mandel59/mojidata"
VERSION = "1.8.1"
# sha256 of the tarball produced by `npm pack @mandel59/mojidata@1.8.1` (computed once, pinned here).
TARBALL_SHA256 = "d51b41cc0164211090757eb2f5e74cd343a1cae82061b14082c4f436891b87b4"
LICENCE = "MIT AND BSD-3-Clause AND CC-BY-SA-2.1-JP AND Unicode-3.0"

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "jichitai" / "moji" / "data"

# --- MJ縮退マップ: evidence kinds, in priority order (the first trusted target of a character wins). -----------
# Trusted: official mappings of the Ministry of Justice and the JIS / UCS unification rules.
TRUSTED_MJSM = [
    ("戸籍統一文字情報_親字正字", "戸籍統一文字情報 親字・正字"),
    ("法務省告示582号別表第四_一", "法務省告示582号別表第四 一"),
    ("民一2842号通達別表_誤字俗字正字一覧表_無印", "民一2842号通達 誤字俗字・正字一覧表"),
    ("民一2842号通達別表_誤字俗字正字一覧表_俗字", "民一2842号通達 誤字俗字・正字一覧表 (俗字)"),
    ("民二5202号通知別表_正字俗字等対照表", "民二5202号通知 正字・俗字等対照表"),
    ("法務省告示582号別表第四_二", "法務省告示582号別表第四 二"),
    ("JIS包摂規準UCS統合規則", "JIS包摂規準・UCS統合規則"),
]
# Not used for keys (weak or misleading evidence; see docs/moji.md):
#   辞書類等による関連字, 読み字形による類推 — weak evidence (related characters, guesses from reading/shape);
#   民一2842号通達 … _別字 — the written form is itself ANOTHER existing character (亍 → 干, 㐲 → 伏): merging
#   it would merge two different characters.
EXCLUDED_MJSM = ["辞書類等による関連字", "読み字形による類推", "民一2842号通達別表_誤字俗字正字一覧表_別字"]

# --- cjkvi variant tables (kdpv_*) used for the variant families (union-find), with a label for reasons. ------
TRUSTED_KDPV = [
    ("jp/old-style", "旧字体・新字体"),
    ("jp/old-style/compat", "旧字体 (互換漢字)・新字体"),
    ("joyo/variant", "常用漢字表 康熙字典体"),
    ("jinmei1/variant", "人名用漢字 別表第二 一 (許容字体)"),
    ("jinmei2/variant", "人名用漢字 別表第二 二 (旧字体)"),
    ("hyogai/variant", "表外漢字字体表 簡易慣用字体"),
    ("jisx0213/variant", "JIS X 0213 関連字"),
    ("koseki/variant", "戸籍統一文字 異体字"),
]
# Independent sources (for corroboration): koseki/variant and the 戸籍統一文字情報 縮退 are one source.
SOURCE_OF = {
    "koseki/variant": "koseki", "戸籍統一文字情報_親字正字": "koseki",
    "jp/old-style": "jp/old-style", "jp/old-style/compat": "jp/old-style",
    "法務省告示582号別表第四_一": "582", "法務省告示582号別表第四_二": "582",
    "民一2842号通達別表_誤字俗字正字一覧表_無印": "2842", "民一2842号通達別表_誤字俗字正字一覧表_俗字": "2842",
    "民二5202号通知別表_正字俗字等対照表": "5202", "JIS包摂規準UCS統合規則": "jis",
}
# Official character lists: one of them alone is enough to merge two JIS X 0208 characters.
OFFICIAL_LISTS = {"joyo/variant", "jinmei1/variant", "jinmei2/variant", "hyogai/variant"}
CHARSET_TABLES = {"jp/old-style", "jisx0213/variant"}
# Well-known name variants between two JIS X 0208 characters that the corroboration rule would refuse
# (only 戸籍統一文字 + 2842号 attest them) but that are the same character in names: allowed by hand.
ALLOWED_LINKS = {frozenset("愽博"), frozenset("袮祢")}
# Links of the trusted tables that are NOT used (they would merge characters that must stay apart in names).
# Each entry: (a, b, why). Checked at build time: the build fails if a must-not pair still meets.
EXCLUDED_LINKS: list[tuple[str, str, str]] = []
# Pairs that must never share a key at any layer (the build verifies this; the tests check it again).
MUST_NOT_MEET = [
    "土士", "末未", "己已", "己巳", "已巳", "大太", "大犬", "太犬", "王玉", "日曰", "千干", "刀力", "人入",
    "斉斎", "齊齋", "斉齋", "齊斎", "未末", "天夭", "矢失", "戊戌", "戌戍", "鳥烏", "崇祟", "微徴", "券劵",
    "功切", "易陽", "介个", "伝傅", "栃担", "娼倡", "燗爛", "舛升", "擱閣", "夂終",
]

VS_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
TARGETS = ("jisx0208", "jisx0213")


def log(*a):
    print(*a, flush=True)


def is_vs(ch: str) -> bool:
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in VS_RANGES)


# ---------------------------------------------------------------------------------------------------------------
# Fetch
# ---------------------------------------------------------------------------------------------------------------
def fetch(tmp: Path) -> Path:
    npm = shutil.which("npm")
    if not npm:
        sys.exit("npm not found: install Node.js/npm or pass --db PATH to an extracted dist/moji.db")
    log(f"npm pack {PACKAGE}@{VERSION} …")
    subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = next(tmp.glob("*.tgz"))
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        sys.exit(f"sha256 mismatch for {tgz.name}: got {digest}, pinned {TARBALL_SHA256}")
    log(f"sha256 ok: {digest}")
    with tarfile.open(tgz) as tf:
        member = tf.getmember("package/dist/moji.db")
        tf.extractall(tmp, members=[member, tf.getmember("package/LICENSE.md")], filter="data")
    return tmp / "package" / "dist" / "moji.db"


# ---------------------------------------------------------------------------------------------------------------
# Inspect
# ---------------------------------------------------------------------------------------------------------------
def inspect(db: sqlite3.Connection) -> None:
    for name, typ in db.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table','view') ORDER BY name"):
        if name.startswith("unihan_each_"):
            continue
        cols = [r[1] for r in db.execute(f'PRAGMA table_info("{name}")')]
        n = db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        log(f"{typ:5} {name} ({n:,} rows): {', '.join(cols)}")
    for name in ("mji", "mji_reading", "mji_rsindex", "ivs_Moji_Joho", "svs_cjkci", "kdpv_koseki/variant"):
        log(f"-- sample {name}:", db.execute(f'SELECT * FROM "{name}" LIMIT 2').fetchall())


# ---------------------------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------------------------
class UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        p = self.parent.setdefault(x, x)
        if p != x:
            root = x
            while self.parent[root] != root:
                root = self.parent[root]
            while self.parent[x] != root:
                self.parent[x], x = root, self.parent[x]
            return root
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def encodable(ch: str, target: str) -> bool:
    """True if the single unit `ch` can be written in the target legacy set (ASCII included)."""
    if len(ch) != 1:
        return False
    try:
        if target == "jisx0208":
            ch.encode("iso2022_jp")
        else:
            b = ch.encode("euc_jis_2004")
            if b[:1] == b"\x8e":  # half-width katakana (JIS X 0201): not JIS X 0213
                return False
        return True
    except UnicodeEncodeError:
        return False


def write_tsv(path: Path, header: list[str], rows) -> int:
    buf = io.StringIO()
    buf.write("\t".join(header) + "\n")
    n = 0
    for row in rows:
        buf.write("\t".join("" if v is None else str(v) for v in row) + "\n")
        n += 1
    raw = buf.getvalue().encode("utf-8")
    with open(path, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
    log(f"wrote {path.relative_to(ROOT)}: {n:,} rows, {path.stat().st_size:,} bytes")
    return n


def build(db: sqlite3.Connection, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}

    # --- MJ records -----------------------------------------------------------------------------------------
    cols = ["MJ文字図形名", "対応するUCS", "実装したUCS", "実装したMoji_JohoコレクションIVS", "実装したSVS",
            "戸籍統一文字番号", "住基ネット統一文字コード", "入管正字コード", "入管外字コード", "対応する互換漢字",
            "X0213", "X0213_包摂区分", "総画数", "漢字施策", "登記統一文字番号", "大漢和"]
    mji = {r[0]: r for r in db.execute(f'SELECT {", ".join(cols)} FROM mji ORDER BY MJ文字図形名')}
    readings: dict[str, list[str]] = defaultdict(list)
    for mj, yomi in db.execute("SELECT MJ文字図形名, 読み FROM mji_reading ORDER BY rowid"):
        readings[mj].append(yomi)
    rs: dict[str, list[str]] = defaultdict(list)
    for mj, rad, inner in db.execute("SELECT MJ文字図形名, 部首, 内画数 FROM mji_rsindex ORDER BY rowid"):
        rs[mj].append(f"{rad}.{inner}")

    # unit (exact text) → MJ name: Moji_Joho IVS first, bare 実装したUCS, then 実装したSVS
    unit_mj: dict[str, str] = {}
    for mj, r in mji.items():
        if r[3]:
            unit_mj[r[3]] = mj
    for mj, r in mji.items():
        if r[2]:
            unit_mj.setdefault(r[2], mj)
        if r[4]:
            unit_mj.setdefault(r[4], mj)
    for ivs, mj in db.execute("SELECT 重複実装したMoji_JohoコレクションIVS, MJ文字図形名 FROM mji_duplicated_ivs"):
        unit_mj.setdefault(ivs, mj)

    # --- MJ縮退マップ (trusted kinds only) ------------------------------------------------------------------
    mjsm: dict[str, list[tuple[int, str, str]]] = defaultdict(list)   # mj → [(priority, target, table)]
    for prio, (table, _label) in enumerate(TRUSTED_MJSM):
        cols_t = [r[1] for r in db.execute(f'PRAGMA table_info("mjsm_{table}")')]
        order = "ホップ数" if "ホップ数" in cols_t else ("順位" if "順位" in cols_t else "rowid")
        where = "WHERE 順位 = 1" if "順位" in cols_t else ""
        if "ホップ数" in cols_t:  # keep only the nearest 親字 (smallest hop count)
            where = ('WHERE ホップ数 = (SELECT min(ホップ数) FROM "mjsm_%s" t2 '
                     'WHERE t2.MJ文字図形名 = t1.MJ文字図形名)' % table)
        for mj, tgt in db.execute(f'SELECT MJ文字図形名, 縮退UCS FROM "mjsm_{table}" t1 {where} '
                                  f'ORDER BY MJ文字図形名, {order}, rowid'):
            if tgt and all(t != tgt for _p, t, _tb in mjsm[mj]):
                mjsm[mj].append((prio, tgt, table))
    stats["mjsm_excluded_rows"] = {t: db.execute(f'SELECT count(*) FROM "mjsm_{t}"').fetchone()[0]
                                   for t in EXCLUDED_MJSM}

    # --- registered variation sequences -----------------------------------------------------------------------
    ivs_rows: dict[str, list[str]] = defaultdict(list)
    for seq, coll, code in db.execute("SELECT IVS, collection, code FROM ivs ORDER BY IVS, collection"):
        ivs_rows[seq].append(f"{coll}:{code}")
    svs_cjkci = {svs: ci for svs, ci in db.execute("SELECT SVS, CJKCI FROM svs_cjkci")}

    def compat_to_unified(ch: str) -> str:
        if len(ch) == 1 and (0xF900 <= ord(ch) <= 0xFAFF or 0x2F800 <= ord(ch) <= 0x2FA1F):
            n = unicodedata.normalize("NFC", ch)
            if n != ch and len(n) == 1:
                return n
        return ch

    def sel(unit: str) -> str:
        """Selector layer of one unit: registered selector dropped, compatibility ideograph → unified."""
        if len(unit) == 2 and is_vs(unit[1]):
            if unit in svs_cjkci:
                return compat_to_unified(svs_cjkci[unit])
            if unit in ivs_rows:
                return compat_to_unified(unit[0])
            return unit  # unregistered sequence: kept as typed
        return compat_to_unified(unit)

    def is_common(c: str) -> bool:
        """A JIS X 0208 ideograph: the characters everybody's systems have, which must not be merged lightly."""
        return len(c) == 1 and unicodedata.category(c) == "Lo" and encodable(c, "jisx0208")

    # --- evidence per unordered pair of characters ------------------------------------------------------------
    # koseki/variant and 戸籍統一文字情報 come from the same source (戸籍統一文字) and count as ONE source.
    kdpv_edges: list[tuple[str, str, str]] = []
    for table, _label in TRUSTED_KDPV:
        for a, b in db.execute(f'SELECT subject, object FROM "kdpv_{table}"'):
            if a and b:
                kdpv_edges.append((a, b, table))
    evidence: dict[frozenset, set[str]] = defaultdict(set)
    for a, b, table in kdpv_edges:
        evidence[frozenset((sel(a), sel(b)))].add(SOURCE_OF.get(table, table))
    for mj, lst in mjsm.items():
        r = mji[mj]
        for u in (r[2], r[3] and sel(r[3])):
            if u:
                for _p, tgt, table in lst:
                    evidence[frozenset((sel(u), tgt))].add(SOURCE_OF.get(table, table))

    def corroborated(a: str, b: str) -> bool:
        """May two JIS X 0208 characters be merged? Only on an official list, or on two independent sources of
        which one is a character-set table (jp/old-style, JIS X 0213) and not only Ministry-of-Justice practice
        (戸籍統一文字, 582号, 2842号 list 功 as a 誤字 of 切: 功 is an ordinary 常用 kanji and must stay apart)."""
        if frozenset((a, b)) in ALLOWED_LINKS:
            return True
        ev = evidence.get(frozenset((a, b)), set())
        return bool(ev & OFFICIAL_LISTS) or (len(ev) >= 2 and bool(ev & CHARSET_TABLES))

    # --- degenerate layer: fixed point of the trusted MJ縮退 target --------------------------------------------
    refused_deg: list[tuple[str, str, str]] = []

    def first_target(unit: str) -> str | None:
        mj = unit_mj.get(unit)
        if mj is None and unit != sel(unit):
            mj = unit_mj.get(sel(unit))
        if mj is None:
            return None
        for _p, tgt, table in sorted(mjsm.get(mj, ())):
            if tgt != unit and is_common(unit) and is_common(tgt) and not corroborated(unit, tgt):
                refused_deg.append((unit, tgt, table))
                continue
            return tgt
        return None

    deg_cache: dict[str, str] = {}

    def deg(unit: str) -> str:
        """Degenerate layer of one unit, computed on the selector layer (so selector-equal ⇒ degenerate-equal)."""
        return deg_exact(sel(unit))

    def deg_exact(unit: str) -> str:
        if unit in deg_cache:
            return deg_cache[unit]
        seen = [unit]
        cur = unit
        while True:
            nxt = first_target(cur)
            if nxt is None or nxt == cur:
                break
            if nxt in seen:  # a cycle: settle on the smallest member
                cyc = seen[seen.index(nxt):]
                cur = min(cyc)
                break
            seen.append(nxt)
            cur = nxt
            if cur in deg_cache:
                cur = deg_cache[cur]
                break
        res = sel(cur)
        for u in seen:
            deg_cache.setdefault(u, res)
        return res

    # --- the units we know about ------------------------------------------------------------------------------
    units: set[str] = set(unit_mj) | set(ivs_rows) | set(svs_cjkci)
    for cp in list(range(0xF900, 0xFB00)) + list(range(0x2F800, 0x2FA20)):
        ch = chr(cp)
        if compat_to_unified(ch) != ch:
            units.add(ch)
    for _mj, lst in mjsm.items():
        for _p, tgt, _t in lst:
            units.add(tgt)
    for a, b, _table in kdpv_edges:
        units.add(a)
        units.add(b)
    units = {u for u in units if u and (len(u) == 1 or (len(u) == 2 and is_vs(u[1])))}

    # --- variant families (union-find over sel-normalised units) ----------------------------------------------
    # 1. the degenerate classes (so that degenerate-equal ⇒ variant-equal), unconstrained;
    # 2. the trusted kdpv links in table order, CONSTRAINED: a link may merge two families that both already
    #    contain a JIS X 0208 character only if it links two JIS X 0208 characters directly (an explicit
    #    statement of the table). Transitive merges through rare characters (同–𡶩–岡, 売–…–穀, 霊–…–梁) are
    #    refused and counted; see docs/moji.md.
    excluded = {frozenset((a, b)) for a, b, _why in EXCLUDED_LINKS}
    uf = UnionFind()
    common: dict[str, set[str]] = {}

    def node(x: str) -> str:
        r = uf.find(x)
        if r not in common:
            common[r] = {x} if is_common(x) else set()
        return r

    def link(a: str, b: str, constrained: bool) -> bool:
        ra, rb = node(a), node(b)
        if ra == rb:
            return True
        if constrained and common[ra] and common[rb] and not (is_common(a) and is_common(b)
                                                               and corroborated(a, b)):
            return False
        uf.union(ra, rb)
        r = uf.find(ra)
        common[r] = common.pop(ra, set()) | common.pop(rb, set()) if r == ra else \
            common.pop(rb, set()) | common.pop(ra, set())
        return True

    for u in sorted(units):
        link(sel(u), deg(sel(u)), constrained=False)
    skipped_links = []
    refused_links = []
    used_links: list[tuple[str, str, str]] = []
    for a, b, table in kdpv_edges:
        sa, sb = sel(a), sel(b)
        if frozenset((sa, sb)) in excluded or frozenset((a, b)) in excluded:
            skipped_links.append((a, b, table))
            continue
        if link(sa, sb, constrained=True):
            used_links.append((sa, sb, table))
        else:
            refused_links.append((a, b, table))
    stats["refused_variant_links"] = len(refused_links)
    stats["refused_degenerate_links"] = sorted({f"{u}→{t}" for u, t, _tb in refused_deg})
    joyo = {r[0] for r in db.execute("SELECT 漢字 FROM joyo")}
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(uf.parent):
        members[uf.find(x)].append(x)

    def rep_rank(c: str):
        return (c not in joyo, not encodable(c, "jisx0208"), not encodable(c, "jisx0213"), len(c), ord(c[0]))

    rep = {}
    for root, mem in members.items():
        r = min(mem, key=rep_rank)
        for m in mem:
            rep[m] = r
    sizes = sorted((len(m) for m in members.values()), reverse=True)
    stats["families"] = len(members)
    stats["largest_families"] = sizes[:5]

    def var(unit: str) -> str:
        s = sel(unit)
        return rep.get(s, s)

    # --- verify must-not pairs before writing anything --------------------------------------------------------
    bad = []
    for pair in MUST_NOT_MEET:
        a, b = pair[0], pair[1]
        for layer, fn in (("selector", sel), ("degenerate", deg), ("variant", var)):
            if fn(a) == fn(b):
                bad.append((a, b, layer, fn(a)))
    if bad:
        for a, b, layer, k in bad:
            fam = members[uf.find(sel(a))]
            log(f"MUST-NOT pair meets: {a}/{b} at {layer} (key {k}); family size {len(fam)}")
        sys.exit("fix EXCLUDED_LINKS / TRUSTED_* and rebuild")

    # nestedness: selector-equal ⇒ degenerate-equal (report only)
    bydeg = sum(1 for u in units if deg(u) != deg(sel(u)))
    stats["units_deg_differs_from_deg_of_selector"] = bydeg

    # --- keys.tsv.gz ---------------------------------------------------------------------------------------------
    key_rows = []
    for u in sorted(units):
        s, d, v = sel(u), deg(u), var(u)
        if s == u and d == u and v == u:
            continue
        key_rows.append((u, "" if s == u else s, "" if d == u else d, "" if v == u else v))
    stats["keys_rows"] = write_tsv(out / "keys.tsv.gz", ["unit", "selector", "degenerate", "variant"], key_rows)

    # --- ivs.tsv.gz ---------------------------------------------------------------------------------------------
    ivs_out = [(seq, ",".join(v)) for seq, v in sorted(ivs_rows.items())]
    ivs_out += [(svs, f"SVS:{ci}") for svs, ci in sorted(svs_cjkci.items())]
    stats["ivs_rows"] = write_tsv(out / "ivs.tsv.gz", ["sequence", "collections"], ivs_out)

    # --- mji.tsv.gz ---------------------------------------------------------------------------------------------
    def mji_rows():
        for mj, r in mji.items():
            degen = ";".join(f"{t}:{tgt}" for _p, tgt, t in sorted(mjsm.get(mj, ())))
            yield (mj, r[2], r[3], r[4], r[1], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                   r[14], r[15], ";".join(rs.get(mj, ())), ";".join(readings.get(mj, ())), degen)

    stats["mji_rows"] = write_tsv(out / "mji.tsv.gz", [
        "mj", "ucs", "ivs", "svs", "corresponding_ucs", "koseki", "juki", "nyukan_seiji", "nyukan_gaiji",
        "compat", "x0213", "x0213_inclusion", "strokes", "kanji_policy", "touki", "daikanwa", "radicals",
        "readings", "degenerate"], mji_rows())

    # --- legacy.tsv.gz ------------------------------------------------------------------------------------------
    neighbours: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sa, sb, table in used_links:
        neighbours[sa].append((sb, table))
        neighbours[sb].append((sa, table))
    kdpv_label = dict(TRUSTED_KDPV)
    mjsm_label = dict(TRUSTED_MJSM)

    def legacy(unit: str, target: str) -> tuple[str, str]:
        cands: list[tuple[str, str]] = []
        s = sel(unit)
        if s != unit:
            cands.append((s, "variation selector dropped (registered sequence)" if len(unit) == 2
                          else "compatibility ideograph → unified ideograph"))
        elif len(unit) == 2:
            cands.append((unit[0], "variation selector dropped (unregistered sequence)"))
        # trusted MJ縮退 targets, every kind in priority order, following the chain
        todo, seen = [unit, s], set()
        while todo:
            u = todo.pop(0)
            if u in seen:
                continue
            seen.add(u)
            mj = unit_mj.get(u) or unit_mj.get(sel(u))
            for _p, tgt, table in sorted(mjsm.get(mj, ())) if mj else ():
                cands.append((tgt, f"MJ縮退マップ: {mjsm_label[table]}"))
                todo.append(tgt)
        for nb, table in neighbours.get(s, ()):
            cands.append((nb, f"variant: {kdpv_label[table]}"))
        r = var(unit)
        if r != s:
            cands.append((r, "variant family representative"))
        for c, why in cands:
            if encodable(c, target):
                return c, why
        return "〓", "no trusted equivalent in " + ("JIS X 0208" if target == "jisx0208" else "JIS X 0213")

    leg_rows = []
    for u in sorted(units):
        if encodable(u, "jisx0208"):
            continue
        r8, why8 = legacy(u, "jisx0208")
        if encodable(u, "jisx0213"):
            r13, why13 = "", ""
        else:
            r13, why13 = legacy(u, "jisx0213")
        if len(u) == 1 and r8 == "〓" and r13 in ("", "〓"):
            continue  # nothing trusted: the module writes 〓 (or keeps a JIS X 0213 character) by itself
        leg_rows.append((u, r8, why8, r13, why13))
    stats["legacy_rows"] = write_tsv(out / "legacy.tsv.gz",
                                     ["unit", "jisx0208", "jisx0208_reason", "jisx0213", "jisx0213_reason"], leg_rows)
    stats["legacy_geta_0208"] = sum(1 for r in leg_rows if r[1] == "〓")
    stats["legacy_geta_0213"] = sum(1 for r in leg_rows if r[3] == "〓")
    stats["skipped_links"] = skipped_links
    multi = sorted((m for m in members.values() if sum(1 for x in m if is_common(x)) >= 3), key=len, reverse=True)
    stats["families_with_3plus_jisx0208"] = len(multi)
    log("families with >= 3 JIS X 0208 members:", " ".join("".join(sorted(x for x in m if is_common(x)))
                                                           for m in multi))
    return stats


PROVENANCE = """# Provenance of the character tables in this directory

Generated by `scripts/build_moji_tables.py` on {date} — do not edit by hand; rebuild with
`.venv/bin/python scripts/build_moji_tables.py` (needs npm; running and testing the application does not).

- Source package: npm `{package}@{version}` (<https://www.npmjs.com/package/@mandel59/mojidata>,
  <https://github.com/mandel59/mojidata>), file `dist/moji.db` (SQLite).
- Tarball (`npm pack {package}@{version}`) sha256: `{sha}`
- Package licence: `{licence}`

## Tables of moji.db used

| derived file | rows | from moji.db |
|---|---:|---|
| `mji.tsv.gz` | {mji_rows:,} | `mji` (MJ文字情報一覧表 Ver.006.02), `mji_reading`, `mji_rsindex`, `mji_duplicated_ivs`, trusted `mjsm_*` |
| `ivs.tsv.gz` | {ivs_rows:,} | `ivs` view (`ivs_Moji_Joho`, `ivs_Hanyo-Denshi`, `ivs_Adobe-Japan1`, `ivs_MSARG`, `ivs_KRName`; IVD 2022-09-13), `svs_cjkci` |
| `keys.tsv.gz` | {keys_rows:,} | derived: `ivs`, `svs_cjkci`, `mjsm_*` (trusted kinds), `kdpv_*` (trusted tables), `joyo` |
| `legacy.tsv.gz` | {legacy_rows:,} | derived from the same tables + Python codecs `iso2022_jp` / `euc_jis_2004` |

Trusted MJ縮退マップ kinds (priority order): {trusted_mjsm}.
Not used: {excluded_mjsm}.
Variant tables (cjkvi-variants via `kdpv_*`): {trusted_kdpv}.

## Licences and attribution

- **MJ文字情報一覧表 / MJ縮退マップ** — © 独立行政法人情報処理推進機構 (IPA, Information-technology Promotion
  Agency, Japan), 文字情報基盤 (<https://moji.or.jp/mojikiban/>), now maintained by 一般社団法人 文字情報技術促進協議会.
  Licensed under Creative Commons Attribution-ShareAlike 2.1 Japan (CC BY-SA 2.1 JP,
  <https://creativecommons.org/licenses/by-sa/2.1/jp/legalcode>). `mji.tsv.gz`, `keys.tsv.gz` and `legacy.tsv.gz`
  are adaptations of these works and are distributed under the same licence (CC BY-SA 2.1 JP).
- **Mojidata** (the packaging and the SQLite database schema) — © 2020 Ryusei Yamaguchi, MIT License.
- **Ideographic Variation Database, StandardizedVariants.txt, Unihan** — © Unicode, Inc., Unicode License v3
  (Unicode-3.0).
- **cjkvi-variants** (漢字データベースプロジェクト, CJKVI Database, © 2014-2018) — variant data under the MIT License.
- **Adobe CMap resources** (Adobe-Japan1 IVS collection) — © 1990-2019 Adobe, BSD-3-Clause.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="path to an extracted dist/moji.db (skips npm pack; sha256 not checked)")
    ap.add_argument("--inspect", action="store_true", help="print the schema summary and exit")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mojidata-"))
    try:
        db_path = Path(args.db) if args.db else fetch(tmp)
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        if args.inspect:
            inspect(db)
            return
        stats = build(db, Path(args.out))
        (Path(args.out) / "PROVENANCE.md").write_text(PROVENANCE.format(
            date=_dt.date.today().isoformat(), package=PACKAGE, version=VERSION, sha=TARBALL_SHA256,
            licence=LICENCE, trusted_mjsm=", ".join(t for t, _ in TRUSTED_MJSM),
            excluded_mjsm=", ".join(EXCLUDED_MJSM), trusted_kdpv=", ".join(f"`kdpv_{t}`" for t, _ in TRUSTED_KDPV),
            **{k: stats[k] for k in ("mji_rows", "ivs_rows", "keys_rows", "legacy_rows")}), encoding="utf-8")
        for k, v in stats.items():
            log(f"{k}: {v}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

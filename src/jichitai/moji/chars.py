"""Characters of names: MJ records, layered search keys and legacy output (domain.md §7). Pure Python, no Django.

The tables under ./data/ are derived from the npm package @mandel59/mojidata (MJ文字情報一覧表, MJ縮退マップ,
IVD, cjkvi-variants) by scripts/build_moji_tables.py; see data/PROVENANCE.md and docs/moji.md. They are loaded
lazily, on first use, in well under half a second.

Stored names are NEVER normalised (no NFC/NFKC): every function here derives a key or an output copy and leaves
the registered text alone.

Search keys of a name, from strict to loose (each layer is coarser than the previous one):
  exact_key       the text as stored (IVS kept), spaces removed
  selector_key    registered variation selectors dropped (IVD: Moji_Joho, Hanyo-Denshi, Adobe-Japan1, …; SVS),
                  CJK compatibility ideographs → unified ideograph (U+FA19 神 → 神); unregistered sequences kept
  degenerate_key  MJ縮退マップ (trusted evidence kinds only) applied to a fixed point per character (髙 → 高, 﨑 → 崎)
  variant_key     each character → the representative of its trusted variant family (邊 → 辺, 澤 → 沢)
"""
from __future__ import annotations

import gzip
import threading
import unicodedata
from pathlib import Path
from typing import NamedTuple

DATA_DIR = Path(__file__).resolve().parent / "data"
GETA = "〓"
TARGETS = ("jisx0208", "jisx0213")

_VS = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)))
_SPACES = {0x20: None, 0x3000: None}
_lock = threading.Lock()


def _is_vs(ch: str) -> bool:
    return ch in _VS


def _read_tsv(name: str):
    with gzip.open(DATA_DIR / name, "rt", encoding="utf-8", newline="\n") as fh:
        data = fh.read()
    lines = data.split("\n")
    return [line.split("\t") for line in lines[1:] if line]


# ---------------------------------------------------------------------------------------------------------------
# Key tables (loaded on first use)
# ---------------------------------------------------------------------------------------------------------------
class _Keys:
    __slots__ = ("sel_t", "deg_t", "var_t", "sel_s", "deg_s", "var_s")

    def __init__(self):
        sel_t, deg_t, var_t = {}, {}, {}
        sel_s, deg_s, var_s = {}, {}, {}
        for unit, s, d, v in _read_tsv("keys.tsv.gz"):
            s = s or unit
            d = d or s
            v = v or d
            if len(unit) == 1:
                o = ord(unit)
                if s != unit:
                    sel_t[o] = s
                if d != unit:
                    deg_t[o] = d
                if v != unit:
                    var_t[o] = v
            else:  # base + variation selector (a registered sequence)
                sel_s[unit], deg_s[unit], var_s[unit] = s, d, v
        self.sel_t, self.deg_t, self.var_t = sel_t, deg_t, var_t
        self.sel_s, self.deg_s, self.var_s = sel_s, deg_s, var_s


_keys: _Keys | None = None


def _k() -> _Keys:
    global _keys
    if _keys is None:
        with _lock:
            if _keys is None:
                _keys = _Keys()
    return _keys


def units(s: str) -> list[str]:
    """Split text into units: a character, or a character followed by its variation selector."""
    out: list[str] = []
    for ch in s:
        if ch in _VS and out and len(out[-1]) == 1 and out[-1] not in _VS:
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _slow_keys(e: str, k: _Keys) -> tuple[str, str, str]:
    sel, deg, var = [], [], []
    sel_t, deg_t, var_t = k.sel_t, k.deg_t, k.var_t
    for u in units(e):
        if len(u) == 2:
            s = k.sel_s.get(u)
            if s is None:  # unregistered sequence: kept as typed at every layer
                sel.append(u), deg.append(u), var.append(u)
                continue
            sel.append(s), deg.append(k.deg_s[u]), var.append(k.var_s[u])
        else:
            o = ord(u)
            sel.append(sel_t.get(o, u)), deg.append(deg_t.get(o, u)), var.append(var_t.get(o, u))
    return "".join(sel), "".join(deg), "".join(var)


def name_keys(s: str) -> tuple[str, str, str, str]:
    """All four search keys of a written name at once: (exact, selector, degenerate, variant)."""
    if not s:
        return ("", "", "", "")
    k = _keys or _k()
    e = s.translate(_SPACES)
    if _VS.isdisjoint(e):
        return (e, e.translate(k.sel_t), e.translate(k.deg_t), e.translate(k.var_t))
    return (e, *_slow_keys(e, k))


def exact_key(s: str) -> str:
    """The text as stored (variation selectors and compatibility ideographs kept), spaces removed."""
    return (s or "").translate(_SPACES)


def selector_key(s: str) -> str:
    return name_keys(s)[1]


def degenerate_key(s: str) -> str:
    return name_keys(s)[2]


def variant_key(s: str) -> str:
    return name_keys(s)[3]


LAYERS = ("exact", "selector", "degenerate", "variant")


def match_layer(a: str, b: str) -> str | None:
    """The strictest layer at which two names meet ('exact', 'selector', 'degenerate', 'variant'), or None."""
    ka, kb = name_keys(a), name_keys(b)
    for layer, x, y in zip(LAYERS, ka, kb):
        if x == y:
            return layer
    return None


# ---------------------------------------------------------------------------------------------------------------
# MJ records
# ---------------------------------------------------------------------------------------------------------------
class MJRecord(NamedTuple):
    mj: str                      # MJ文字図形名, e.g. "MJ022336"
    ucs: str | None              # 実装したUCS (the bare code point a font shows this glyph for), as text
    ivs: str | None              # 実装したMoji_JohoコレクションIVS (base + selector), as text
    svs: str | None              # 実装したSVS
    corresponding_ucs: str | None  # 対応するUCS
    koseki: str | None           # 戸籍統一文字番号 (6 digits)
    juki: str | None             # 住基ネット統一文字コード, e.g. "J+845B"
    nyukan_seiji: str | None     # 入管正字コード
    nyukan_gaiji: str | None     # 入管外字コード
    compat: str | None           # 対応する互換漢字
    x0213: str | None            # JIS X 0213 面区点, e.g. "1-19-75"
    x0213_inclusion: int | None  # X0213_包摂区分 (0: the glyph itself, 1/2: by 包摂)
    strokes: int | None          # 総画数
    kanji_policy: str | None     # 漢字施策 (常用漢字, 人名用漢字 …)
    touki: str | None            # 登記統一文字番号
    daikanwa: str | None         # 大漢和 number
    radicals: tuple              # ((部首番号, 内画数 or None), …)
    readings: tuple              # 読み (音訓), as in the MJ table
    degenerate: tuple            # trusted MJ縮退 targets: ((evidence kind, character), …), priority order

    @property
    def text(self) -> str | None:
        """The text to store for this glyph: the Moji_Joho IVS if it has one, else the bare code point."""
        return self.ivs or self.ucs or self.svs


def _make_record(row: list[str]) -> MJRecord:
    (mj, ucs, ivs, svs, cucs, kos, jk, ns, ng, comp, x13, x13i, strokes, pol, touki, dkw, rads, yomi,
     degen) = [c or None for c in row]
    return MJRecord(
        mj, ucs, ivs, svs, cucs, kos, jk, ns, ng, comp, x13, int(x13i) if x13i else None,
        int(strokes) if strokes else None, pol, touki, dkw,
        tuple(tuple(int(x) if x.lstrip("-").isdigit() else None for x in r.split(".", 1))
              for r in rads.split(";")) if rads else (),
        tuple(yomi.split(";")) if yomi else (),
        tuple(tuple(d.split(":", 1)) for d in degen.split(";")) if degen else ())


class _Records:
    """The MJ table, indexed by raw rows; MJRecord objects are made on lookup (keeps loading fast)."""

    def __init__(self):
        with gzip.open(DATA_DIR / "mji.tsv.gz", "rt", encoding="utf-8", newline="\n") as fh:
            lines = fh.read().split("\n")[1:]
        # rows are kept as their text line (small); split again when a record is made
        recs: dict[str, str] = {}
        unit: dict[str, str] = {}
        juki: dict[str, str] = {}
        koseki: dict[str, str] = {}
        x0213: dict[str, list] = {}
        bare = []
        for line in lines:
            if not line:
                continue
            mj, ucs, ivs, svs, _c, kos, jk, _n1, _n2, _cp, x13, _rest = line.split("\t", 11)
            recs[mj] = line
            if ivs:
                unit[ivs] = line
            if ucs or svs:
                bare.append((ucs, svs, line))
            if jk:
                juki.setdefault(jk, line)
            if kos:
                koseki.setdefault(kos, line)
            if x13:
                x0213.setdefault(x13, []).append(line)
        for ucs, svs, line in bare:  # bare code points after the IVS, so that a bare 葛 is 実装したUCS 葛
            if ucs:
                unit.setdefault(ucs, line)
            if svs:
                unit.setdefault(svs, line)
        self.by_mj, self.by_unit, self.by_juki, self.by_koseki, self.by_x0213 = recs, unit, juki, koseki, x0213
        self._made: dict[str, MJRecord] = {}
        self._reading_index = None

    def rec(self, line) -> MJRecord | None:
        if line is None:
            return None
        mj = line[:line.index("\t")]
        r = self._made.get(mj)
        if r is None:
            r = self._made[mj] = _make_record(line.split("\t"))
        return r

    def reading_index(self):
        if self._reading_index is None:
            from .kana import kana_key

            idx: dict[str, list] = {}
            for line in self.by_mj.values():
                yomi = line.split("\t")[17]
                if yomi:
                    for y in yomi.split(";"):
                        idx.setdefault(kana_key(y), []).append(line)
            self._reading_index = idx
        return self._reading_index


_records: _Records | None = None


def _r() -> _Records:
    global _records
    if _records is None:
        with _lock:
            if _records is None:
                _records = _Records()
    return _records


def by_mj(name: str) -> MJRecord | None:
    """MJ文字図形名 ("MJ022336" or 22336) → record."""
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        name = f"MJ{int(name):06d}"
    r = _r()
    return r.rec(r.by_mj.get(str(name).strip().upper()))


def by_ucs(text: str) -> MJRecord | None:
    """A character or an IVS/SVS sequence → its MJ record (bare code points are keyed by 実装したUCS).
    Also accepts "U+845B" notation. Sequences not implemented in MJ (e.g. Adobe-Japan1 葛󠄀) → None."""
    if not text:
        return None
    if text[:2].upper() == "U+":
        text = "".join(chr(int(p.strip()[2:] if p.strip().upper().startswith("U+") else p, 16))
                       for p in text.replace("_", " ").split())
    r = _r()
    return r.rec(r.by_unit.get(text))


def by_juki(code: str | int) -> MJRecord | None:
    """住基ネット統一文字コード ("J+845B", "845B" or 0x845B) → record."""
    if isinstance(code, int):
        code = f"J+{code:04X}"
    code = str(code).strip().upper()
    if not code.startswith("J+"):
        code = "J+" + code
    r = _r()
    return r.rec(r.by_juki.get(code))


def by_koseki(number: str | int) -> MJRecord | None:
    """戸籍統一文字番号 ("352760" or 352760) → record."""
    s = str(number).strip()
    r = _r()
    return r.rec(r.by_koseki.get(s.zfill(6) if s.isdigit() else s))


def by_jisx0213(code: str) -> list[MJRecord]:
    """JIS X 0213 面区点 ("1-19-75"; also "1-19-75" with any separators) → the MJ records mapped to it
    (the glyph itself first, then the glyphs included by 包摂)."""
    parts = [p for p in str(code).replace("_", "-").replace(" ", "-").split("-") if p]
    if len(parts) != 3:
        return []
    key = f"{int(parts[0])}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    r = _r()
    return sorted((r.rec(row) for row in r.by_x0213.get(key, ())), key=lambda x: (x.x0213_inclusion or 0, x.mj))


def find_mj(reading: str | None = None, radical: int | None = None, strokes: int | None = None,
            inner_strokes: int | None = None, limit: int = 100) -> list[MJRecord]:
    """Search MJ characters for the 外字 review: by reading (音訓, any kana), radical number (康熙 1–214),
    total strokes and strokes besides the radical. All given criteria must hold."""
    r = _r()
    if reading:
        from .kana import kana_key

        cands = r.reading_index().get(kana_key(reading), [])
    else:
        cands = r.by_mj.values()
    out = []
    for row in cands:
        rec = r.rec(row)
        if strokes is not None and rec.strokes != strokes:
            continue
        if radical is not None or inner_strokes is not None:
            if not any((radical is None or rad == radical) and (inner_strokes is None or inner == inner_strokes)
                       for rad, inner in rec.radicals):
                continue
        out.append(rec)
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------------------------
# Output to legacy systems
# ---------------------------------------------------------------------------------------------------------------
class Change(NamedTuple):
    position: int      # index of the unit in the input string (code points)
    original: str      # the unit as given (with its variation selector, if any)
    replacement: str   # what was written instead ('〓' when nothing trusted exists)
    reason: str


_legacy: dict[str, tuple[str, str, str, str]] | None = None
_enc_cache: dict[str, dict[str, bool]] = {"jisx0208": {}, "jisx0213": {}}


def _l() -> dict:
    global _legacy
    if _legacy is None:
        with _lock:
            if _legacy is None:
                _legacy = {row[0]: tuple(row[1:5]) for row in _read_tsv("legacy.tsv.gz")}
    return _legacy


def encodable(ch: str, target: str = "jisx0208") -> bool:
    """Can the single character be written in JIS X 0208 (ISO-2022-JP repertoire) / JIS X 0213?"""
    cache = _enc_cache[target]
    r = cache.get(ch)
    if r is None:
        r = False
        if len(ch) == 1:
            try:
                if target == "jisx0208":
                    ch.encode("iso2022_jp")
                    r = True
                else:
                    r = ch.encode("euc_jis_2004")[:1] != b"\x8e"
            except UnicodeEncodeError:
                r = False
        cache[ch] = r
    return r


def degrade_for_legacy(s: str, target: str = "jisx0208") -> tuple[str, list[Change]]:
    """Text for a legacy system limited to JIS X 0208 or JIS X 0213, and every change made.

    Per unit: kept if the target has it; else the trusted replacement (registered selector dropped,
    compatibility ideograph → unified, MJ縮退マップ trusted kinds, trusted variant family), else NFKC for
    compatibility characters (half-width kana …), else '〓'. The stored name is not touched."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    if not s:
        return "", []
    table = None
    out: list[str] = []
    changes: list[Change] = []
    pos = 0
    col = 0 if target == "jisx0208" else 2
    for u in units(s):
        if len(u) == 1 and encodable(u, target):
            out.append(u)
            pos += 1
            continue
        table = table or _l()
        row = table.get(u)
        repl = why = None
        if row is not None and row[col]:
            repl, why = row[col], row[col + 1]
        elif row is not None and len(u) == 1:  # in JIS X 0213 but not X 0208: nothing to do for X 0213
            repl = u
        if repl is None and len(u) == 2:
            base = u[0]
            sub, _ = degrade_for_legacy(base, target)
            repl, why = sub, ("variation selector dropped (unregistered sequence)" if sub == base
                              else "variation selector dropped; base character replaced")
        if repl is None:
            n = unicodedata.normalize("NFKC", u)
            if n != u and all(encodable(c, target) for c in n):
                repl, why = n, "compatibility character → NFKC form"
            else:
                cat = unicodedata.category(u[0])
                repl = GETA
                why = ("private-use character (外字): no trusted mapping" if cat == "Co"
                       else "not in " + ("JIS X 0208" if target == "jisx0208" else "JIS X 0213")
                       + ": no trusted equivalent")
        out.append(repl)
        if repl != u:
            changes.append(Change(pos, u, repl, why))
        pos += len(u)
    return "".join(out), changes


_ivs: dict[str, tuple[str, ...]] | None = None


def ivs_collections(seq: str) -> tuple[str, ...]:
    """Where a variation sequence is registered: ("Moji_Joho:MJ022335", "Hanyo-Denshi:JA1975", …) for the IVD,
    ("SVS:<compatibility ideograph>",) for a standardized variant; () if unregistered."""
    global _ivs
    if _ivs is None:
        with _lock:
            if _ivs is None:
                _ivs = {row[0]: tuple(row[1].split(",")) for row in _read_tsv("ivs.tsv.gz")}
    return _ivs.get(seq, ())


def preload() -> None:
    """Load the key tables now (e.g. at process start) instead of on first use."""
    _k()

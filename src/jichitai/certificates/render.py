"""Certificates as PDF: plain data → Django template → WeasyPrint.

Names (and addresses, which carry 外字 too) are set in IPAmj明朝 so that IVS sequences print the registered glyph;
everything else in IPAex明朝. Fonts come from Debian's packages by file path, never from the internet.

Speed: WeasyPrint's font loading dominates a cold render, so the stylesheet and the FontConfiguration are built
once per process and reused (WeasyPrint caches the parsed faces in the FontConfiguration). WeasyPrint is not
documented as thread-safe, so renders in one process are serialised by a lock; throughput across cores comes from
worker processes (gunicorn), not threads.
"""
import atexit
import base64
import datetime as dt
import functools
import gc
import io
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.template.loader import render_to_string

from jichitai.common.fonts import font_path
from jichitai.common.wareki import format_wareki

from .models import Kind, Layout

_LOCK = threading.Lock()
_ENGINE = {}
atexit.register(_ENGINE.clear)  # drop WeasyPrint's font objects before interpreter teardown


class FontsMissing(RuntimeError):
    """IPAmj明朝 or IPAex明朝 is not installed: certificates would print names with the wrong glyphs."""


_BIG_FACE = 8 * 1024 * 1024


def _install_face_data_cache():
    """WeasyPrint copies each font's whole file out of HarfBuzz for every document (`Font.__init__`), before
    subsetting it: 46 MB for IPAmj明朝, ≈ 35 ms per certificate. Faces are immutable and, with one
    FontConfiguration per process, the same face objects serve every document; so the copy of a big face is kept,
    with a HarfBuzz reference held on the face so that its address cannot be reused by another face while cached.
    Small faces (IPAex, and the subsets WeasyPrint makes, which are new objects each time) are not cached."""
    from weasyprint.pdf import fonts as pdf_fonts
    from weasyprint.text.ffi import ffi, harfbuzz

    original = pdf_fonts.get_hb_object_data
    if getattr(original, "jichitai_cached", False):
        return
    cache = {}

    def get_hb_object_data(hb_object, ot_color=None, glyph=None):
        if ot_color is not None or glyph is not None:
            return original(hb_object, ot_color, glyph)
        key = int(ffi.cast("uintptr_t", hb_object))
        hit = cache.get(key)
        if hit is not None:
            return hit[0]
        data = original(hb_object)
        if data is not None and len(data) >= _BIG_FACE:
            cache[key] = (data, harfbuzz.hb_face_reference(hb_object))
        return data

    get_hb_object_data.jichitai_cached = True
    pdf_fonts.get_hb_object_data = get_hb_object_data


MJ_FAMILY = "IPAmjMincho"
_SUBSET_SOURCES = {}  # family → (hb_face of the cmap-less copy, glyph count, keep-alive objects)


def _cmapless_copy(src: Path) -> Path:
    """IPAmj明朝 without its 'cmap' table, made once per machine under var/fonts/ (≈ 2 s, 45 MB).

    Why: HarfBuzz subsets a font given glyph ids by walking the whole cmap to map them back to code points; IPAmj's
    cmap (60,000 characters plus the IVS table) makes that ≈ 30 ms of every certificate. The PDF does not need a cmap
    in an embedded CIDFontType2 font (glyphs are addressed by id; the text layer comes from the ToUnicode map), so
    the subset is cut from this copy, whose glyph ids and outlines are the original's. Shaping still uses the
    original font."""
    from django.conf import settings
    from fontTools.ttLib import TTFont

    st = src.stat()
    cache = Path(settings.VAR_DIR) / "fonts"
    dst = cache / f"{src.stem}-nocmap-{st.st_size}-{int(st.st_mtime)}.ttf"
    if not dst.exists():
        cache.mkdir(parents=True, exist_ok=True)
        font = TTFont(str(src), lazy=True)
        del font["cmap"]
        tmp = dst.with_suffix(f".tmp{os.getpid()}")
        font.save(str(tmp))
        os.replace(tmp, dst)
    return dst


def _install_subset_source(mj: Path):
    """Make WeasyPrint cut IPAmj subsets from the cmap-less copy (see `_cmapless_copy`). Any failure leaves
    WeasyPrint's own subsetting in place."""
    import cffi
    from weasyprint.pdf import fonts as pdf_fonts
    from weasyprint.text.ffi import ffi as wffi
    from weasyprint.text.ffi import harfbuzz

    try:
        path = _cmapless_copy(mj)
        own = cffi.FFI()
        own.cdef("typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t;"
                 "hb_blob_t *hb_blob_create_from_file(const char *file_name);"
                 "hb_face_t *hb_face_create(hb_blob_t *blob, unsigned int index);")
        lib = own.dlopen("libharfbuzz.so.0")
        blob = lib.hb_blob_create_from_file(str(path).encode())
        face = wffi.cast("hb_face_t *", int(own.cast("uintptr_t", lib.hb_face_create(blob, 0))))
        _SUBSET_SOURCES[MJ_FAMILY] = (face, harfbuzz.hb_face_get_glyph_count(face), (own, lib, blob))
    except Exception as exc:  # pragma: no cover - depends on the machine
        logging.getLogger(__name__).warning("IPAmj subsetting stays slow: %s", exc)
        return
    original = pdf_fonts.Font._harfbuzz_subset
    if getattr(original, "jichitai_source", False):
        return

    def _harfbuzz_subset(self, to_unicode, hinting):
        source = _SUBSET_SOURCES.get(self.family)
        if source is None or source[1] != self.glyph_count:
            return original(self, to_unicode, hinting)
        face, self.hb_face = self.hb_face, source[0]
        try:
            return original(self, to_unicode, hinting)
        finally:
            self.hb_face = face

    _harfbuzz_subset.jichitai_source = True
    pdf_fonts.Font._harfbuzz_subset = _harfbuzz_subset


def _engine():
    if "css" not in _ENGINE:
        _install_face_data_cache()
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        mj, ex = font_path("ipamjm.ttf"), font_path("ipaexm.ttf")
        if mj is None or ex is None:
            raise FontsMissing(
                "IPAmj明朝・IPAex明朝がインストールされていないため、証明書を作成できません"
                "（apt-get install fonts-ipamj-mincho fonts-ipaexfont） / "
                "IPAmj Mincho and IPAex Mincho must be installed to print certificates")
        _install_subset_source(mj)
        fc = FontConfiguration()
        css = render_to_string("certificates/pdf/certificate.css", {"mj": mj.as_uri(), "ex": ex.as_uri()})
        _ENGINE["fc"] = fc
        _ENGINE["css"] = CSS(string=css, font_config=fc)
    return _ENGINE["css"], _ENGINE["fc"]


@dataclass
class Rendered:
    pdf: bytes
    page_count: int


def render_html(html: str) -> Rendered:
    """Render one document. WeasyPrint makes hundreds of thousands of short-lived objects with reference cycles;
    left to itself, CPython's cyclic GC runs dozens of collections during one render (≈ 1/3 of a 4-page render,
    measured). So the collector is paused while rendering and one collection runs at the end; the long-lived heap
    (Django, fonts, stylesheet) is frozen once after the first render so that this collection does not rescan it."""
    from weasyprint import HTML

    with _LOCK:
        css, fc = _engine()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            doc = HTML(string=html).render(stylesheets=[css], font_config=fc)
            pdf = doc.write_pdf()
            pages = len(doc.pages)
            del doc
        finally:
            if was_enabled:
                gc.enable()
        gc.collect()
        if not _ENGINE.get("frozen"):
            gc.freeze()
            _ENGINE["frozen"] = True
    return Rendered(pdf=pdf, page_count=pages)


# ---------------------------------------------------------------- the document, as plain data

OPTION_LABELS = {
    "head_relationship": "世帯主・続柄",
    "honseki": "本籍・筆頭者",
    "resident_code": "住民票コード",
    "individual_number": "個人番号",
    "foreign_items": "国籍・地域、在留資格等",
    "history": "異動の履歴",
}
OMITTED = "省略"
WITHHELD_PREVIOUS_ADDRESS = "（支援措置のため省略）"  # 前住所 the read policy withholds from this requester


@dataclass
class Row:
    label: str
    value: str = ""
    mj: bool = False        # set in IPAmj明朝 (names, addresses)
    sub: str = ""           # small line under the value (届出日, 満了の日 …)
    kana: str = ""          # small line above the value (フリガナ)


@dataclass
class Entry:
    """One person as printed: rows of label/value, and optionally the change history."""
    number: int
    rows: list
    history: list = field(default_factory=list)

    @property
    def lines(self):
        """The rows packed into lines for the compact 世帯連記式: as many items per line as fit the width
        (estimated in em at the body size; half-width characters count half), in the registered order."""
        lines, line, used = [], [], 0.0
        for r in self.rows:
            width = _em(r.label) * 0.65 + _em(r.value) * (1.2 if r.label == "氏名" else 1.0) + _em(r.kana) * 0.75 \
                + _em(r.sub) * 0.8 + 3.5
            if line and used + width > LINE_EM:
                lines.append(line)
                line, used = [], 0.0
            line.append((r, 1))
            used += width
        if line:
            lines.append(line)
        return lines


LINE_EM = 48.0  # usable width of an A4 line (180 mm) in em of the 10 pt body text, with a margin


def _em(text: str) -> float:
    return sum(0.5 if ord(c) < 0x2000 or 0xFF61 <= ord(c) <= 0xFF9F else 1.0 for c in text or "")


@dataclass
class Document:
    title: str
    kind: str
    layout: str
    municipality_label: str
    header_rows: list       # 世帯連記式: 住所・世帯主 printed once per page
    entries: list
    per_page: int
    attestation: str
    issue_date: dt.date
    mayor_title: str
    mayor_name: str
    office_name: str
    seal_uri: str
    issue_no: str
    qr_uri: str
    footer_note: str
    options_note: str
    code: str = ""  # 照合コード, printed under the QR (the /verify/ page asks for it)
    coverage: str = ""  # 世帯連記式: whether the copy covers the whole household or listed members

    @property
    def issue_date_wareki(self):
        return format_wareki(self.issue_date)


def joined_name(family, given):
    """氏 and 名 as printed, with a full-width space between (one alone when the other is empty)."""
    return f"{family}\u3000{given}".strip("\u3000")


_PREFECTURE_START = re.compile(r"^(東京都|北海道|大阪府|京都府|.{2,3}県)")


def full_address(m, address: str) -> str:
    """An address as printed: one stored within the municipality (住所, or 前住所 after a 転居) gets the
    prefecture and municipality names in front; one already starting with a prefecture is printed as stored."""
    if not address or _PREFECTURE_START.match(address):
        return address
    return f"{m.prefecture.name}{m.name}{address}"


def printed_address(m, p):
    """住所 as printed: prefecture, municipality, 町字・番地 and 方書."""
    return "\u3000".join(x for x in [full_address(m, p["address"]), p.get("address_katagaki", "")] if x)


def wareki_text(v):
    """A date (or ISO text) in 和暦 as printed; empty for none."""
    if isinstance(v, str) and v:
        v = dt.date.fromisoformat(v)
    return format_wareki(v) if v else ""


def person_rows(m, p: dict, kind: str, opts: dict, *, household_layout: bool, show_kana: bool) -> list:
    """The printed items of one person (a dict of Person fields). Omitted items print as 省略 so that a reader can
    tell an omission from a blank."""
    rows = []
    kana = joined_name(p["family_name_kana"], p["given_name_kana"]) if show_kana else ""
    rows.append(Row("氏名", joined_name(p["family_name"], p["given_name"]), mj=True, kana=kana))
    if p.get("former_family_name"):
        rows.append(Row("旧氏", p["former_family_name"], mj=True,
                        kana=p.get("former_family_name_kana", "") if show_kana else ""))
    if p.get("alias_name"):
        rows.append(Row("通称", p["alias_name"], mj=True, kana=p.get("alias_name_kana", "") if show_kana else ""))
    rows.append(Row("生年月日", wareki_text(p["birth_date"])))
    rows.append(Row("性別", {"1": "男", "2": "女"}.get(p["sex"], "")))
    if opts.get("head_relationship"):
        if not household_layout:
            rows.append(Row("世帯主", p.get("head_name", ""), mj=True))
        rows.append(Row("続柄", p["relationship"]))
    elif kind != Kind.ENTRY_CERTIFICATE:
        if not household_layout:
            rows.append(Row("世帯主", OMITTED))
        rows.append(Row("続柄", OMITTED))
    if not household_layout:
        rows.append(Row("住所", printed_address(m, p), mj=True))
    if p["is_foreign"] and not opts.get("foreign_items"):
        if kind != Kind.ENTRY_CERTIFICATE:
            rows.append(Row("国籍・地域、在留資格等", OMITTED))
    elif p["is_foreign"]:
        rows.append(Row("国籍・地域", p["nationality"]))
        rows.append(Row("法第30条の45に規定する区分", p["foreign_category"]))
        if p.get("residence_status"):
            rows.append(Row("在留資格", p["residence_status"]))
            rows.append(Row("在留期間等", p.get("period_of_stay", ""), sub=(
                f"満了の日 {wareki_text(p['stay_expiry'])}" if p.get("stay_expiry") else "")))
        if p.get("residence_card_no"):
            rows.append(Row("在留カード等の番号", p["residence_card_no"]))
    elif opts.get("honseki"):
        rows.append(Row("本籍", p["honseki"], mj=True))
        rows.append(Row("筆頭者", p["hittosha"], mj=True))
    elif kind != Kind.ENTRY_CERTIFICATE:
        rows.append(Row("本籍・筆頭者", OMITTED))
    if kind != Kind.ENTRY_CERTIFICATE:
        rows.append(Row("住民となった年月日", wareki_text(p.get("became_resident_date"))))
        rows.append(Row("住所を定めた年月日", wareki_text(p.get("address_date"))))
        if p.get("previous_address"):
            prev = p["previous_address"]
            rows.append(Row("前住所", full_address(m, prev) if p.get("previous_address_in_town") else prev, mj=True))
    if opts.get("resident_code"):
        rows.append(Row("住民票コード", p["resident_code"]))
    elif kind != Kind.ENTRY_CERTIFICATE:
        rows.append(Row("住民票コード", OMITTED))
    if opts.get("individual_number"):
        rows.append(Row("個人番号", p["individual_number"] or "（未指定）"))
    elif kind != Kind.ENTRY_CERTIFICATE:
        rows.append(Row("個人番号", OMITTED))
    if kind == Kind.REMOVED_COPY:
        rows.append(Row("消除事由", p.get("removal_reason", "")))
        rows.append(Row("消除日", wareki_text(p.get("removal_date"))))
        if p.get("move_out_destination"):
            rows.append(Row("転出先", p["move_out_destination"], mj=True,
                            sub=f"（{p['move_out_state']}）" if p.get("move_out_state") else ""))
    if kind == Kind.MOVE_OUT_CERTIFICATE:
        rows.append(Row("転出先", p.get("move_out_destination", ""), mj=True))
        rows.append(Row("転出予定年月日", wareki_text(p.get("removal_date"))))
        rows.append(Row("転出届出日", wareki_text(p.get("notification_date"))))
    return rows


@functools.lru_cache(maxsize=64)
def seal_png_uri(mayor_title: str) -> str:
    """The standard placeholder seal when the municipality has not uploaded one: a red square seal reading
    「<mayor title>之印」 in two columns, right column first, as seals read. Drawn once per title with Pillow in
    IPAex明朝 and cached: as a PNG it costs the PDF one image, where an SVG with text costs ≈ 5 ms of layout on
    every certificate."""
    from PIL import Image, ImageDraw, ImageFont

    size, red = 300, (200, 22, 29, 255)
    text = (mayor_title + "之印")[:8]
    half = (len(text) + 1) // 2
    cols = [text[:half], text[half:]]
    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle([8, 8, size - 9, size - 9], outline=red, width=14)
    glyph = int((size - 60) / max(half, 2) * 0.92)
    font = ImageFont.truetype(str(font_path("ipaexm.ttf")), glyph)
    for ci, col in enumerate(cols):
        cx = size * (0.70 if ci == 0 else 0.30)
        for ri, ch in enumerate(col):
            cy = 30 + (size - 60) * (ri + 0.5) / max(half, 1)
            draw.text((cx, cy), ch, font=font, fill=red, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render_document(doc: Document) -> Rendered:
    if doc.layout == Layout.HOUSEHOLD:
        n = max(1, doc.per_page)
        pages = [doc.entries[i:i + n] for i in range(0, len(doc.entries), n)] or [[]]
    else:
        pages = [[e] for e in doc.entries]
    # "1 / 2": the total is written into the page as a number rather than CSS counter(pages), which makes
    # WeasyPrint lay every page out twice. The expected count is one sheet per group; when a sheet overflows (a long
    # history), the document is rendered again with the real count, so the printed total is always right.
    total = len(pages)
    for _ in range(3):
        html = render_to_string("certificates/pdf/certificate.html",
                                {"doc": doc, "pages": pages, "total_pages": total})
        rendered = render_html(html)
        if rendered.page_count == total:
            return rendered
        total = rendered.page_count
    raise RuntimeError(f"page count does not settle ({total})")

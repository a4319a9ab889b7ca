"""One `Table` (queries.py) as CSV or PDF.

CSV: UTF-8 with BOM (Excel opens it as UTF-8), or CP932 on request. CP932 cannot hold every registered name (IVS,
MJ characters outside JIS X 0208 and its vendor extensions), so for CP932 each cell is degraded the documented way
(moji.degrade_for_legacy: IVS dropped, MJ縮退マップ — 髙 → 高), whatever still does not fit becomes 〓 (geta), and a
last column 「CP932で置き換えた文字」 lists every replacement of the row by code point (「U+845B U+E0102→葛」「U+20BB7→吉」). Nothing is lost
silently: a row whose names were changed says so, and the UTF-8 file has them as registered.

PDF: the certificate engine (certificates.render.render_html, WeasyPrint, fonts installed locally), names in
IPAmj明朝.
"""
import csv
import io

from django.template.loader import render_to_string
from django.utils import timezone

from jichitai import moji
from jichitai.moji.chars import GETA

ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932"}
REPLACED_COLUMN = "CP932で置き換えた文字"


def _cp932_cell(text: str) -> tuple[str, list[str]]:
    """(the cell as CP932 can hold it, the replacements made). Each character CP932 cannot hold (a name with its
    IVS counts as one) is degraded alone, so what CP932 can hold stays as registered."""
    out, notes = [], []
    for unit in moji.units(text):
        try:
            unit.encode("cp932")
            out.append(unit)
            continue
        except UnicodeEncodeError:
            pass
        degraded, _changes = moji.degrade_for_legacy(unit, "jisx0208")
        try:
            degraded.encode("cp932")
        except UnicodeEncodeError:
            degraded = GETA
        out.append(degraded)
        # the original as code points: the note itself must fit CP932
        notes.append(" ".join(f"U+{ord(c):04X}" for c in unit) + f"→{degraded}")
    return "".join(out), notes


def to_csv(table, encoding="utf-8") -> bytes:
    enc = ENCODINGS.get(encoding, "utf-8-sig")
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    if enc == "cp932":
        w.writerow(table.columns + [REPLACED_COLUMN])
        for row in table.rows:
            cells, notes = [], []
            for cell in row:
                c, n = _cp932_cell(cell)
                cells.append(c)
                notes += n
            w.writerow(cells + ["、".join(dict.fromkeys(notes))])
    else:
        w.writerow(table.columns)
        w.writerows(table.rows)
    return buf.getvalue().encode(enc)


def to_pdf(table, municipality) -> bytes:
    from jichitai.certificates.render import render_html

    html = render_to_string("lists/pdf.html", {"t": table, "municipality": municipality,
                                                "printed_at": timezone.localtime()})
    return render_html(html).pdf

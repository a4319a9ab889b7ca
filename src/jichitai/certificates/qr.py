"""QR codes for certificates, drawn locally with segno (pinned; no network, no image library).

Error correction is fixed at M (15 %): enough for a printed and photocopied A4 page, while the symbol for a
verification URL (≈ 80 characters) stays at version 5–6. `boost_error` is off so the level is always exactly M.
"""
import io

import segno

ERROR = "m"


def make(text: str) -> segno.QRCode:
    return segno.make(text, error=ERROR, micro=False, boost_error=False)


def qr_svg(text: str, *, scale: int = 4, border: int = 4) -> str:
    """The QR code as SVG markup (no XML declaration), with the standard 4-module quiet zone."""
    buf = io.BytesIO()
    make(text).save(buf, kind="svg", xmldecl=False, scale=scale, border=border)
    return buf.getvalue().decode("utf-8")


def qr_data_uri(text: str, *, scale: int = 4, border: int = 4) -> str:
    """The QR code as a `data:image/svg+xml` URI, for an <img> in the certificate's HTML (WeasyPrint) or a page."""
    return make(text).svg_data_uri(scale=scale, border=border)


CERTIFICATE_MASK = 1  # see qr_png_data_uri


def qr_png_data_uri(text: str, *, scale: int = 4, border: int = 4) -> str:
    """The QR code as a `data:image/png` URI. Certificates use this one: WeasyPrint draws a PNG as one image, where
    the SVG form costs ≈ 15 ms per page in path parsing.

    The mask pattern is fixed instead of chosen by the standard's penalty score: segno's evaluation of all eight
    masks is pure Python and took 8–12 ms of every certificate (measured), while any of the eight masks is a valid
    code that every reader decodes; the penalty only steers away from large uniform areas, which matter little at
    the error level M and 4 px modules used here."""
    code = segno.make(text, error=ERROR, micro=False, boost_error=False, mask=CERTIFICATE_MASK)
    return code.png_data_uri(scale=scale, border=border)

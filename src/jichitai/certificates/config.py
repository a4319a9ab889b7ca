"""Certificate settings: a thin client of the platform's tier engine (`jichitai.platform.engine`).

This module declares the certificate settings (namespace `certificates`) with their own validation (text with
{団体名} / {都道府県名}, fees, seal images) and keeps the certificate app's API: `resolve(municipality)` (value + the
tier it comes from), `effective(municipality)` (placeholders substituted), `set_setting` / `clear_setting`. Storage,
precedence (個別 > 県版 > 標準追加 > 標準 > built in), permissions and the audit events are the engine's. Certificate
values are per-municipality parameters of the standard function (the mayor's name, the seal, fees by ordinance),
so their 個別 values are declared `approval=False`: they take effect when the admin sets them.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

from jichitai.platform import engine
from jichitai.platform.engine import BUILTIN, TIER_LABELS, Resolved, SettingError, SettingPermissionError  # noqa: F401
from jichitai.tenancy.roles import Perm

from .models import Tier  # noqa: F401 (re-exported: callers use config.Tier values)

NAMESPACE = "certificates"

PLACEHOLDERS = ("{団体名}", "{都道府県名}")
MAX_TEXT = 500
MAX_IMAGE_BYTES = 512 * 1024
MAX_IMAGE_PIXELS = 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "http://www.w3.org/2000/svg"
TYPES = ("text", "multiline", "int", "bool", "image")


@dataclass(frozen=True)
class SettingDef:
    key: str
    label: str
    help: str
    type: str  # one of TYPES
    default: object
    min: int | None = None
    max: int | None = None
    required: bool = True  # text: an empty value is refused
    max_length: int = MAX_TEXT
    choices_labels: tuple = field(default=("表示する", "表示しない"))  # bool: (True, False) wording

    def parse(self, raw):
        return parse_value(self.key, raw)


def _t(key, label, default, help="", **kw):
    return SettingDef(key=key, label=label, help=help, type="text", default=default, **kw)


def _m(key, label, default, help="", **kw):
    return SettingDef(key=key, label=label, help=help, type="multiline", default=default, **kw)


def _fee(key, label, default):
    return SettingDef(key=key, label=label, help="円（0〜10000）。0 は無料。", type="int", default=default, min=0,
                      max=10000)


_PH = "{団体名}・{都道府県名} と書くと団体名・都道府県名に置き換わります。"

SETTINGS: dict[str, SettingDef] = {d.key: d for d in [
    _t("mayor_title", "市区町村長の職名", "{団体名}長", "証明者として印字する職名。" + _PH),
    _t("mayor_name", "市区町村長の氏名", "（市区町村長名未設定）", "証明者として印字する氏名。"),
    _t("office_name", "担当課", "市民課", "証明書に印字する担当課の名称。" + _PH),
    _m("attestation_resident_copy", "認証文（住民票の写し）", "この写しは、住民票の原本と相違ないことを証明する。", _PH),
    _m("attestation_removed_copy", "認証文（除票の写し）", "この写しは、除票の原本と相違ないことを証明する。", _PH),
    _m("attestation_entry_certificate", "認証文（住民票記載事項証明書）", "上記のとおり住民票に記載されていることを証明する。",
       _PH),
    _m("attestation_move_out_certificate", "認証文（転出証明書）", "上記の者は、転出の届出をしたことを証明する。", _PH),
    _fee("fee_resident_copy", "手数料（住民票の写し）", 300),
    _fee("fee_removed_copy", "手数料（除票の写し）", 300),
    _fee("fee_entry_certificate", "手数料（住民票記載事項証明書）", 300),
    _fee("fee_move_out_certificate", "手数料（転出証明書）", 0),
    _m("attestation_disaster_victim", "認証文（罹災証明書）", "上記のとおり、相違ないことを証明します。", _PH),
    _fee("fee_disaster_victim", "手数料（罹災証明書）", 0),
    SettingDef("seal_image", "公印の画像", "PNG または SVG、512KBまで。未登録のときは標準の印影（仮）を印字します。"
               "SVG はスクリプトや外部参照を含まないものに限ります。", "image", ""),
    SettingDef("household_rows_per_page", "世帯連記式の1枚あたり人数", "2〜8人。", "int", 4, min=2, max=8),
    SettingDef("show_kana", "氏名のふりがなを印字する", "", "bool", True),
    _m("footer_note", "証明書下部の注記", "この証明書の真正性は、右下のQRコードから確認できます。", "空欄にすると印字しません。" + _PH,
       required=False),
    _t("title_resident_copy", "表題（住民票の写し）", "住民票の写し", _PH),
    _t("title_removed_copy", "表題（除票の写し）", "除票の写し", _PH),
    _t("title_entry_certificate", "表題（住民票記載事項証明書）", "住民票記載事項証明書", _PH),
    _t("title_move_out_certificate", "表題（転出証明書）", "転出証明書", _PH),
    _t("title_disaster_victim", "表題（罹災証明書）", "罹災証明書", _PH),
]}


# ------------------------------------------------------------------------------------------------ parsing


def _definition(key) -> SettingDef:
    d = SETTINGS.get(key)
    if d is None:
        raise SettingError({"key": ["不明な設定項目です。"]})
    return d


def _check_placeholders(text) -> list[str]:
    rest = text
    for ph in PLACEHOLDERS:
        rest = rest.replace(ph, "")
    if "{" in rest or "}" in rest:
        unknown = re.findall(r"\{[^{}]*\}", rest)
        what = "、".join(dict.fromkeys(unknown)) if unknown else "対応しない波括弧"
        return [f"使えない差し込み項目があります（{what}）。使えるのは {{団体名}} と {{都道府県名}} だけです。"]
    return []


def _parse_text(d: SettingDef, raw):
    if not isinstance(raw, str):
        raise SettingError({"value": ["文字列を入力してください。"]})
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    errors = []
    if d.type == "text" and "\n" in text:
        errors.append("改行は使えません（1行で入力してください）。")
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
        errors.append("制御文字は使えません。")
    if len(text) > d.max_length:
        errors.append(f"{d.max_length}文字以内で入力してください（{len(text)}文字）。")
    if d.required and not text:
        errors.append("入力してください。")
    errors += _check_placeholders(text)
    if errors:
        raise SettingError({"value": errors})
    return text


def _parse_int(d: SettingDef, raw):
    if isinstance(raw, bool):
        raise SettingError({"value": ["整数を入力してください。"]})
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"[0-9]+", unicodedata.normalize("NFKC", raw).strip().replace(",", "")):
        value = int(unicodedata.normalize("NFKC", raw).strip().replace(",", ""))
    else:
        raise SettingError({"value": ["0以上の整数を半角または全角の数字で入力してください。"]})
    if (d.min is not None and value < d.min) or (d.max is not None and value > d.max):
        raise SettingError({"value": [f"{d.min}から{d.max}までの整数を入力してください。"]})
    return value


_TRUE = {"1", "true", "on", "yes", "はい", "表示する"}
_FALSE = {"0", "false", "off", "no", "いいえ", "表示しない"}


def _parse_bool(d: SettingDef, raw):
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        s = raw.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise SettingError({"value": ["「はい」か「いいえ」を選んでください。"]})


def _sniff(data: bytes) -> str | None:
    if data.startswith(PNG_MAGIC):
        return "image/png"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!--"):
        return "image/svg+xml"
    return None


def _check_png(data: bytes) -> list[str]:
    if not data.startswith(PNG_MAGIC) or len(data) < 33 or data[12:16] != b"IHDR":
        return ["PNG 画像として読み取れません。"]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (0 < width <= MAX_IMAGE_PIXELS and 0 < height <= MAX_IMAGE_PIXELS):
        return [f"画像の大きさは縦横 {MAX_IMAGE_PIXELS} ピクセルまでです。"]
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency; the magic bytes and IHDR were checked
        return []
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except Exception:
        return ["PNG 画像として読み取れません（ファイルが壊れています）。"]
    return []


_URL_RE = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.IGNORECASE)
_ANIMATIONS = {"set", "animate", "animatetransform", "animatemotion", "animatecolor"}


def _external_refs(text: str, *, css: bool = False) -> bool:
    """True if an attribute value (or, with css, a style sheet) refers to anything outside the document."""
    if re.search(r"@import|javascript:|expression\(" + (r"|://|image-set\(" if css else ""), text, re.IGNORECASE):
        return True
    return any(not target.startswith("#") for target in _URL_RE.findall(text))


def _check_svg(data: bytes) -> list[str]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ["SVG は UTF-8 で保存したものを選んでください。"]
    lowered = data.lower()
    if b"<script" in lowered:
        return ["SVG にスクリプト（<script>）は含められません。"]
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return ["SVG に DOCTYPE・実体宣言は含められません。"]
    if b"<?xml-stylesheet" in lowered:
        return ["SVG に外部のスタイルシートは指定できません。"]
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return ["SVG として読み取れません（XML の形式が正しくありません）。"]
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        return ["SVG として読み取れません（最上位の要素が <svg> ではありません）。"]
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if tag == "script":
            return ["SVG にスクリプト（<script>）は含められません。"]
        if tag == "foreignobject":
            return ["SVG に foreignObject は含められません。"]
        if tag == "style" and _external_refs(el.text or "", css=True):
            return ["SVG のスタイルから外部の資源は参照できません。"]
        if tag in _ANIMATIONS and el.attrib.get("attributeName", "").rsplit(":", 1)[-1].lower() == "href":
            return ["SVG から外部の資源（href）は参照できません。文書内の参照（#…）だけが使えます。"]
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                return [f"SVG にイベント属性（{local}）は含められません。"]
            if local == "href" and not value.strip().startswith("#"):
                return ["SVG から外部の資源（href）は参照できません。文書内の参照（#…）だけが使えます。"]
            if _external_refs(value, css=(local == "style")):
                return ["SVG の属性から外部の資源は参照できません。"]
    return []


def _image_errors(data: bytes, mime: str) -> list[str]:
    if len(data) > MAX_IMAGE_BYTES:
        return [f"画像が大きすぎます（{MAX_IMAGE_BYTES // 1024}KBまで、{(len(data) + 1023) // 1024}KB）。"]
    if not data:
        return ["画像ファイルが空です。"]
    if mime == "image/png":
        return _check_png(data)
    if mime == "image/svg+xml":
        return _check_svg(data)
    return ["PNG または SVG の画像を選んでください。"]


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_DATA_URI_RE = re.compile(r"data:(image/png|image/svg\+xml);base64,([A-Za-z0-9+/=\s]*)", re.DOTALL)


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    """(mime, bytes) of a stored/typed data URI; SettingError if it is not a PNG/SVG base64 data URI."""
    m = _DATA_URI_RE.fullmatch(uri.strip())
    if not m:
        raise SettingError({"value": ["PNG または SVG の画像（data:image/png;base64,… / data:image/svg+xml;base64,…）"
                                      "を指定してください。"]})
    if len(m.group(2)) > (MAX_IMAGE_BYTES * 4) // 3 + 16:
        raise SettingError({"value": [f"画像が大きすぎます（{MAX_IMAGE_BYTES // 1024}KBまで）。"]})
    try:
        data = base64.b64decode(re.sub(r"\s", "", m.group(2)), validate=True)
    except (binascii.Error, ValueError):
        raise SettingError({"value": ["画像のデータ（base64）が壊れています。"]}) from None
    return m.group(1), data


def _parse_image(d: SettingDef, raw):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ""  # no uploaded seal: the renderer draws the standard placeholder seal
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        mime = _sniff(data)
    elif isinstance(raw, str):
        mime, data = decode_data_uri(raw)
        if mime == "image/png" and not data.startswith(PNG_MAGIC):
            raise SettingError({"value": ["PNG 画像として読み取れません。"]})
    else:
        raise SettingError({"value": ["画像を指定してください。"]})
    errors = _image_errors(data, mime)
    if errors:
        raise SettingError({"value": errors})
    return _data_uri(mime, data)


_PARSERS = {"text": _parse_text, "multiline": _parse_text, "int": _parse_int, "bool": _parse_bool,
            "image": _parse_image}


def parse_value(key, raw):
    """The typed value of `raw` (a form string, or an already typed value) for `key`; SettingError if invalid."""
    d = _definition(key)
    return _PARSERS[d.type](d, raw)


def image_upload_to_data_uri(uploaded_file) -> str:
    """A PNG/SVG upload (Django UploadedFile or any binary file object) as a validated data URI."""
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > MAX_IMAGE_BYTES:
        raise SettingError({"value": [f"画像が大きすぎます（{MAX_IMAGE_BYTES // 1024}KBまで、"
                                      f"{(size + 1023) // 1024}KB）。"]})
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    data = uploaded_file.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise SettingError({"value": [f"画像が大きすぎます（{MAX_IMAGE_BYTES // 1024}KBまで）。"]})
    mime = _sniff(data)
    if mime is None:
        raise SettingError({"value": ["PNG または SVG の画像を選んでください。"]})
    errors = _image_errors(data, mime)
    if errors:
        raise SettingError({"value": errors})
    return _data_uri(mime, data)


def image_summary(value) -> dict | None:
    """What the audit log keeps of an image: its type, SHA-256 and size, never the bytes."""
    if not value:
        return None
    try:
        mime, data = decode_data_uri(value)
    except SettingError:
        return {"sha256": hashlib.sha256(str(value).encode()).hexdigest(), "bytes": len(str(value))}
    return {"type": mime, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _plausible(d: SettingDef, value) -> bool:
    """A cheap check of a stored value (a row written before the definition changed is skipped, not used)."""
    if d.type in ("text", "multiline"):
        return isinstance(value, str) and len(value) <= d.max_length and (bool(value) or not d.required)
    if d.type == "int":
        return (isinstance(value, int) and not isinstance(value, bool)
                and (d.min is None or value >= d.min) and (d.max is None or value <= d.max))
    if d.type == "bool":
        return isinstance(value, bool)
    return isinstance(value, str) and (value == "" or bool(_DATA_URI_RE.fullmatch(value)))


# ------------------------------------------------------------------------------------------------ declaring


def _engine_parse(d, raw):
    return parse_value(d.name, raw)


def _engine_plausible(d, value):
    return _plausible(SETTINGS[d.name], value)


def _engine_display(d, value):
    return display_value(d.name, value)


def _engine_audit_value(key):
    d = SETTINGS[key]
    return (lambda v: image_summary(v)) if d.type == "image" else None


for _key, _d in SETTINGS.items():
    engine.declare(f"{NAMESPACE}.{_key}", _d.type if _d.type in engine.PARSERS else "custom", _d.default, _d.label,
                   help=_d.help, parser=_engine_parse, plausible=_engine_plausible, display=_engine_display,
                   approval=False, manage_perm=Perm.MANAGE_CERTIFICATE_SETTINGS, audit_name="certificate_setting",
                   audit_value=_engine_audit_value(_key), ns_label="証明書設定", area="証明書",
                   tiers=engine.ALL_TIERS)


def _full(key) -> str:
    if key not in SETTINGS:
        raise SettingError({"key": ["不明な設定項目です。"]})
    return f"{NAMESPACE}.{key}"


# ------------------------------------------------------------------------------------------------ reading


def resolve_for(*, prefecture_id=None, municipality_id=None) -> dict[str, Resolved]:
    """Resolution for a scope: standard only (no arguments), a prefecture's (standard + 県版), or a municipality's
    (also give its prefecture_id). One query (the engine's)."""
    out = engine.resolve_keys([f"{NAMESPACE}.{k}" for k in SETTINGS], prefecture_id=prefecture_id,
                              municipality_id=municipality_id)
    return {k: replace(out[f"{NAMESPACE}.{k}"], key=k) for k in SETTINGS}


def resolve(municipality) -> dict[str, Resolved]:
    """Every setting for one municipality, with the tier it comes from: 個別 > 県版 > stored 標準 > built in."""
    return resolve_for(prefecture_id=municipality.prefecture_id, municipality_id=municipality.pk)


def substitute(text: str, *, municipality_name: str, prefecture_name: str) -> str:
    return text.replace("{団体名}", municipality_name).replace("{都道府県名}", prefecture_name)


def effective_from(resolved: dict[str, Resolved], municipality) -> dict[str, object]:
    names = {"municipality_name": municipality.name, "prefecture_name": municipality.prefecture.name}
    return {key: (substitute(r.value, **names) if SETTINGS[key].type in ("text", "multiline") else r.value)
            for key, r in resolved.items()}


def effective(municipality) -> dict[str, object]:
    """The values a certificate of this municipality uses, placeholders substituted (text values only)."""
    return effective_from(resolve(municipality), municipality)


def display_value(key, value) -> str:
    """A short Japanese rendering for screens (images excepted: templates show them as <img>)."""
    d = SETTINGS[key]
    if d.type == "bool":
        return d.choices_labels[0] if value else d.choices_labels[1]
    if d.type == "int":
        return f"{value:,}円" if key.startswith("fee_") else f"{value}"
    if d.type == "image":
        return "画像あり" if value else "（未登録：標準の印影を印字）"
    return value if value != "" else "（空欄）"


# ------------------------------------------------------------------------------------------------ writing


def may_set(user, tier, *, municipality=None) -> bool:
    """The permission rule (the engine's): the operator sets 標準 and 県版; a municipal admin sets his own
    municipality's 個別."""
    return engine.may_set(user, engine.definition(f"{NAMESPACE}.mayor_name"), tier, municipality=municipality)


def set_setting(user, key, raw_value, *, tier, prefecture=None, municipality=None, terminal="system",
                requirement=""):
    """Validate `raw_value` and store it as `key` at `tier` (upsert). Returns the stored row."""
    return engine.set_value(user, _full(key), raw_value, tier=tier, prefecture=prefecture,
                            municipality=municipality, terminal=terminal, requirement=requirement)


def clear_setting(user, key, *, tier, prefecture=None, municipality=None, terminal="system"):
    """Remove `key`'s value at `tier`, so the lower tier shows through. Returns the removed value."""
    return engine.clear_value(user, _full(key), tier=tier, prefecture=prefecture, municipality=municipality,
                              terminal=terminal)

"""PFIF 1.4 (People Finder Interchange Format): reading documents of versions 1.1–1.4 and writing 1.4.

Reading is safe by construction: pyexpat directly, with a handler that refuses any DOCTYPE (so no entity can be
declared, no external entity fetched, no "billion laughs"), element by element with line numbers for the report.
Writing uses xml.etree (escaping only).

Export rules (the municipality's records leaving it): only evacuees who consented to publication
(`consent_public`), and never one who is — or whose match candidates include — a DV-protected resident (asked of
privacy.policy). Imported PfifRecords are never re-exported.
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from xml.parsers import expat

from django.conf import settings
from django.core.exceptions import ValidationError

NS_PREFIX = "http://zesty.ca/pfif/"
VERSIONS = ("1.1", "1.2", "1.3", "1.4")
NS14 = "http://zesty.ca/pfif/1.4"
STATUSES = {"", "information_sought", "is_note_author", "believed_alive", "believed_missing", "believed_dead"}
RECORD_ID_MAX = 500  # PfifRecord.record_id, SafetyNote.note_record_id
PERSON_FIELDS = ("person_record_id", "entry_date", "expiry_date", "author_name", "author_email", "author_phone",
                 "source_name", "source_date", "source_url", "full_name", "given_name", "family_name",
                 "alternate_names", "description", "sex", "date_of_birth", "age", "home_street",
                 "home_neighborhood", "home_city", "home_state", "home_postal_code", "home_country", "photo_url",
                 "profile_urls")
NOTE_FIELDS = ("note_record_id", "person_record_id", "linked_person_record_id", "entry_date", "author_name",
               "author_email", "author_phone", "source_date", "author_made_contact", "status",
               "email_of_found_person", "phone_of_found_person", "last_known_location", "text", "photo_url")
MAX_BYTES = 50 * 1024 * 1024


class _Node:
    __slots__ = ("tag", "children", "text", "line")

    def __init__(self, tag, line):
        self.tag, self.children, self.text, self.line = tag, [], [], line


def _parse_tree(data: bytes) -> _Node:
    if len(data) > MAX_BYTES:
        raise ValidationError("ファイルが大きすぎます（50MBまで） / file too large")
    p = expat.ParserCreate(namespace_separator=" ")
    root = _Node(None, 0)
    stack = [root]

    def refuse(*a):
        raise ValidationError("DOCTYPE・実体宣言を含む XML は受け付けません / DOCTYPE and entities are refused")

    def start(tag, attrs):
        n = _Node(tag, p.CurrentLineNumber)
        stack[-1].children.append(n)
        stack.append(n)

    def end(tag):
        stack.pop()

    def chars(s):
        stack[-1].text.append(s)

    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, chars
    try:
        p.Parse(data, True)
    except expat.ExpatError as e:
        raise ValidationError(f"XML として読めません（{e.lineno}行目: {expat.ErrorString(e.code)}） / "
                              f"not well-formed XML: {e}") from None
    if len(root.children) != 1:
        raise ValidationError("XML の最上位要素がありません / no root element")
    return root.children[0]


def _split(tag):
    ns, _, local = tag.rpartition(" ")
    return ns, local


def _text(n):
    return "".join(n.text).strip()


def parse_datetime(s: str):
    """PFIF dates are UTC, `YYYY-MM-DDTHH:MM:SSZ` (fractions allowed)."""
    s = (s or "").strip()
    if not s.endswith("Z"):
        return None
    try:
        v = dt.datetime.fromisoformat(s[:-1])
    except ValueError:
        return None
    return v.replace(tzinfo=dt.timezone.utc)


def _fields(node, version):
    out, unknown = {}, []
    for c in node.children:
        ns, local = _split(c.tag)
        if ns != NS_PREFIX + version or local == "note":
            continue
        out[local] = _text(c)
    # older versions: first_name / last_name, home_zip, other, found
    if "full_name" not in out and ("first_name" in out or "last_name" in out):
        out["full_name"] = " ".join(x for x in (out.get("first_name", ""), out.get("last_name", "")) if x)
        out.setdefault("given_name", out.get("first_name", ""))
        out.setdefault("family_name", out.get("last_name", ""))
    if "home_zip" in out:
        out.setdefault("home_postal_code", out["home_zip"])
    if "other" in out and "description" not in out:
        out["description"] = out["other"]
    if "found" in out and "author_made_contact" not in out:
        out["author_made_contact"] = out["found"]
    return out


def _domain_ok(record_id: str, domain: str) -> bool:
    d, slash, local = (record_id or "").partition("/")
    return bool(slash and local) and d == domain


def _note(node, version, domain, person_id):
    f = _fields(node, version)
    rid = f.get("note_record_id", "")
    why = []
    if not rid:
        why.append("note_record_id がありません")
    elif len(rid) > RECORD_ID_MAX:
        why.append(f"note_record_id が長すぎます（{RECORD_ID_MAX}文字まで）")
    elif not _domain_ok(rid, domain):
        why.append(f"note_record_id「{rid}」が取込元のドメイン {domain} のものではありません")
    pid = f.get("person_record_id", "") or person_id or ""
    if len(pid) > RECORD_ID_MAX:
        why.append(f"person_record_id が長すぎます（{RECORD_ID_MAX}文字まで）")
    if person_id and f.get("person_record_id") and f["person_record_id"] != person_id:
        why.append("person_record_id が親の人物レコードと違います")
    if not pid:
        why.append("person_record_id がありません")
    if not f.get("author_name"):
        why.append("author_name（必須）がありません")
    if not f.get("text"):
        why.append("text（必須）がありません")
    sd = parse_datetime(f.get("source_date", ""))
    if sd is None:
        why.append("source_date（必須、YYYY-MM-DDTHH:MM:SSZ）がありません・読めません")
    status = f.get("status", "")
    if status not in STATUSES:
        why.append(f"status「{status}」は PFIF の値ではありません")
    amc = f.get("author_made_contact", "")
    if amc not in ("", "true", "false"):
        why.append(f"author_made_contact「{amc}」は true / false ではありません")
    if why:
        return None, {"record": rid or "（IDなし）", "line": node.line, "reason": "、".join(why)}
    return {"note_record_id": rid, "person_record_id": pid, "author_name": f["author_name"][:200],
            "text": f["text"], "status": status, "source_date": sd,
            "author_made_contact": {"true": True, "false": False}.get(amc),
            "last_known_location": f.get("last_known_location", "")[:300], "line": node.line,
            "fields": f}, None


def parse_document(data: bytes, *, source_domain: str):
    """(persons, problems). Each person: person_record_id, full_name, source_date, expiry_date, fields, notes.
    Top-level notes are attached to a person of the document or, when that person was imported before, returned
    under a person entry marked `existing`; otherwise reported. Every record of the document ends up either in
    `persons` (with its notes) or in `problems` with its line and reason."""
    from .models.evacuees import PfifRecord

    source_domain = (source_domain or "").strip()
    if not source_domain or "/" in source_domain:
        raise ValidationError("取込元のドメイン（例: personfinder.google.org）を指定してください / give the domain")
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _parse_tree(data)
    ns, local = _split(root.tag)
    version = ns[len(NS_PREFIX):] if ns.startswith(NS_PREFIX) else ""
    if local != "pfif" or version not in VERSIONS:
        raise ValidationError(f"PFIF 1.1〜1.4 の文書ではありません（最上位要素 {root.tag!r}） / not a PFIF document")
    persons, problems, by_id = [], [], {}
    loose_notes = []
    for node in root.children:
        nns, nlocal = _split(node.tag)
        if nns != ns:
            problems.append({"record": "", "line": node.line, "reason": f"PFIF 以外の要素 {nlocal} です"})
            continue
        if nlocal == "note":
            loose_notes.append(node)
            continue
        if nlocal != "person":
            problems.append({"record": "", "line": node.line, "reason": f"知らない要素 {nlocal} です"})
            continue
        f = _fields(node, version)
        rid = f.get("person_record_id", "")
        why = []
        if not rid:
            why.append("person_record_id がありません")
        elif len(rid) > RECORD_ID_MAX:
            why.append(f"person_record_id が長すぎます（{RECORD_ID_MAX}文字まで）")
        elif not _domain_ok(rid, source_domain):
            why.append(f"person_record_id「{rid}」が取込元のドメイン {source_domain} のものではありません")
        if not f.get("full_name"):
            why.append("full_name（必須）がありません")
        sd = parse_datetime(f.get("source_date", ""))
        if sd is None:
            why.append("source_date（必須、YYYY-MM-DDTHH:MM:SSZ）がありません・読めません")
        if f.get("sex", "") not in ("", "female", "male", "other"):
            why.append(f"sex「{f['sex']}」は female / male / other ではありません")
        note_nodes = [c for c in node.children if _split(c.tag) == (ns, "note")]
        if why:
            problems.append({"record": rid or "（IDなし）", "line": node.line, "reason": "、".join(why)})
            for nn in note_nodes:
                problems.append({"record": _fields(nn, version).get("note_record_id", "（IDなし）"),
                                 "line": nn.line, "reason": "人物レコードが取り込めないため、このノートも取り込みません"})
            continue
        if rid in by_id:
            problems.append({"record": rid, "line": node.line, "reason": "同じ person_record_id が文書内で重複しています"})
            continue
        p = {"person_record_id": rid, "full_name": f["full_name"][:500], "source_date": sd, "line": node.line,
             "expiry_date": parse_datetime(f.get("expiry_date", "")), "fields": f, "notes": []}
        for nn in note_nodes:
            n, bad = _note(nn, version, source_domain, rid)
            if bad:
                problems.append(bad)
            else:
                p["notes"].append(n)
        by_id[rid] = p
        persons.append(p)
    if loose_notes:
        wanted = set()
        parsed = []
        for nn in loose_notes:
            n, bad = _note(nn, version, source_domain, None)
            if bad:
                problems.append(bad)
            else:
                parsed.append(n)
                wanted.add(n["person_record_id"])
        known = {r.record_id: r for r in PfifRecord.objects.filter(record_id__in=list(wanted - set(by_id)))}
        for n in parsed:
            pid = n["person_record_id"]
            if pid in by_id:
                by_id[pid]["notes"].append(n)
            elif pid in known:
                r = known[pid]
                by_id[pid] = {"person_record_id": pid, "full_name": r.full_name, "source_date": r.source_date,
                              "expiry_date": r.expiry_date, "fields": r.data, "notes": [n], "existing": True}
                persons.append(by_id[pid])
            else:
                problems.append({"record": n["note_record_id"], "line": n["line"],
                                 "reason": f"person_record_id「{pid}」の人物レコードがありません（先に人物を取り込んでください）"})
    return persons, problems


# ---------------------------------------------------------------- export

def pfif_domain(municipality) -> str:
    """This repository's PFIF domain for a municipality: `<code>.<JICHITAI_PFIF_DOMAIN>`."""
    return f"{municipality.code}.{getattr(settings, 'JICHITAI_PFIF_DOMAIN', 'jichitai-cloud.example')}"


def _z(v: dt.datetime) -> str:
    return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_SEX = {"1": "male", "2": "female", "9": "other"}


def render(municipality, persons: list[dict]) -> bytes:
    """PFIF 1.4 XML of `persons` (dicts from queries.pfif_export_rows)."""
    ET.register_namespace("pfif", NS14)
    q = lambda name: f"{{{NS14}}}{name}"  # noqa: E731
    root = ET.Element(q("pfif"))
    for p in persons:
        pe = ET.SubElement(root, q("person"))
        for k in PERSON_FIELDS:
            v = p.get(k)
            if v not in (None, ""):
                ET.SubElement(pe, q(k)).text = v
        for n in p["notes"]:
            ne = ET.SubElement(pe, q("note"))
            for k in NOTE_FIELDS:
                v = n.get(k)
                if v not in (None, ""):
                    ET.SubElement(ne, q(k)).text = v
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"

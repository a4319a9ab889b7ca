"""Writes to the 町字 master: the CSV import (all or nothing) and the admin's edits. One transaction and one audit
event each; Japanese messages (bilingual where a command prints them)."""
import csv
import io
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from jichitai.audit.actions import append as audit_append
from jichitai.moji.kana import is_kana, kana_key
from jichitai.residents.actions import RuleError
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality

from .models import Chouaza
from .normalize import address_key

HEADER = ["町字コード", "町字", "町字カナ", "丁目（から）", "丁目（まで）"]
MAX_ROWS = 20_000
MAX_BYTES = 4 * 1024 * 1024


class ImportRefused(RuleError):
    """The CSV has bad rows: `lines` is [(line number, message)]; nothing was written."""

    def __init__(self, lines):
        self.lines = lines
        super().__init__({"file": [f"{n}行目: {msg}" for n, msg in lines]})


@dataclass
class Row:
    line: int
    code: str
    name: str
    kana: str
    chome_from: int | None
    chome_to: int | None

    def values(self):
        return {"name": self.name, "kana": self.kana, "chome_from": self.chome_from, "chome_to": self.chome_to}


@dataclass
class Plan:
    """What an import will change: rows to add, rows to change (with the old values), codes to remove."""

    rows: list
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)  # (Row, Chouaza before)
    removed: list = field(default_factory=list)  # Chouaza
    unchanged: int = 0

    @property
    def has_changes(self):
        return bool(self.added or self.changed or self.removed)


def _require_admin(user):
    m = require_municipality()
    if getattr(user, "municipality_id", None) != m.pk or not has_perm(user, Perm.MANAGE_CHOUAZA):
        raise RuleError("町字マスタを変更する権限がありません")
    return m


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ImportRefused([(0, f"ファイルが大きすぎます（{MAX_BYTES // 1024 // 1024}MBまで）")])
    for enc in ("utf-8-sig", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ImportRefused([(0, "文字コードが読めません（UTF-8 または Shift_JIS(CP932) のCSVにしてください）")])


def _chome(text, line, what, errors):
    t = address_key(text or "")
    if not t:
        return None
    if not t.isdigit() or not 1 <= int(t) <= 99:
        errors.append((line, f"{what}は1〜99の数字で入力してください（「{text}」）"))
        return None
    return int(t)


def check_row(values: dict, line: int = 0) -> tuple[Row | None, list]:
    """One 町字 as typed or read (keys code, name, kana, chome_from, chome_to as text) → (Row, errors)."""
    errors = []
    code = address_key(values.get("code") or "")
    name = (values.get("name") or "").strip()
    kana_text = (values.get("kana") or "").strip()
    if not code:
        errors.append((line, "町字コードがありません"))
    elif not code.isdigit() or len(code) > 12:
        errors.append((line, f"町字コードは12桁以内の数字です（「{values.get('code')}」）"))
    if not name:
        errors.append((line, "町字がありません"))
    elif len(name) > 60:
        errors.append((line, "町字は60文字以内です"))
    elif "丁目" in name or any(ch.isdigit() for ch in name):
        errors.append((line, f"町字に丁目・番地は含めません（「{name}」）。丁目は「丁目（から）」「丁目（まで）」に入れます"))
    elif any(ch in "<>&\"'" for ch in name):
        errors.append((line, f"町字に使えない記号があります（「{name}」）"))
    kana = kana_key(kana_text) if kana_text else ""
    if kana_text and not is_kana(kana_text):
        errors.append((line, f"町字カナはカタカナで入力してください（「{kana_text}」）"))
    elif len(kana) > 120:
        errors.append((line, "町字カナは120文字以内です"))
    cf = _chome(values.get("chome_from"), line, "丁目（から）", errors)
    ct = _chome(values.get("chome_to"), line, "丁目（まで）", errors)
    if (cf is None) != (ct is None) and not any(e[0] == line and "丁目" in e[1] for e in errors):
        errors.append((line, "丁目は「から」と「まで」の両方を入れるか、両方とも空にしてください"))
    elif cf is not None and ct is not None and cf > ct:
        errors.append((line, f"丁目の範囲が逆です（{cf}〜{ct}）"))
    if errors:
        return None, errors
    return Row(line, code, name, kana, cf, ct), []


def parse_csv(data: bytes) -> list[Row]:
    """The rows of a 町字 CSV (header HEADER; UTF-8 with or without BOM, or CP932). Every bad line is reported
    with its number (ImportRefused); nothing is half-read."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRefused([(1, "ファイルが空です")]) from None
    except csv.Error as e:
        raise ImportRefused([(1, f"CSVとして読めません: {e}")]) from None
    if header[:len(HEADER)] != HEADER:
        raise ImportRefused([(1, "見出し行が違います。1行目は「" + ",".join(HEADER) + "」にしてください")])
    rows, errors, codes, names = [], [], {}, {}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(HEADER):
                errors.append((line, f"項目の数が{len(fields)}個です（{len(HEADER)}個にしてください）"))
                continue
            row, errs = check_row(dict(zip(("code", "name", "kana", "chome_from", "chome_to"), fields)), line)
            errors += errs
            if row is None:
                continue
            if row.code in codes:
                errors.append((line, f"町字コード {row.code} が{codes[row.code]}行目と重複しています"))
                continue
            nk = address_key(row.name)
            if nk in names:
                errors.append((line, f"町字「{row.name}」が{names[nk]}行目と重複しています"))
                continue
            codes[row.code], names[nk] = line, line
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise ImportRefused([(line, f"行が多すぎます（{MAX_ROWS:,}行まで）")])
    except csv.Error as e:
        errors.append((reader.line_num, f"CSVとして読めません: {e}"))
    if errors:
        raise ImportRefused(errors)
    if not rows:
        raise ImportRefused([(2, "町字の行がありません")])
    return rows


def plan_import(rows: list[Row]) -> Plan:
    """Compare the CSV (the municipality's complete master) with what is stored."""
    current = {c.code: c for c in Chouaza.objects.all()}
    plan = Plan(rows=rows)
    for r in rows:
        old = current.pop(r.code, None)
        if old is None:
            plan.added.append(r)
        elif any(getattr(old, k) != v for k, v in r.values().items()):
            plan.changed.append((r, old))
        else:
            plan.unchanged += 1
    plan.removed = sorted(current.values(), key=lambda c: c.code)
    return plan


@transaction.atomic
def import_csv(user, data: bytes, *, terminal="system", check_only=False, system=False) -> Plan:
    """Replace the municipality's 町字 master with the CSV's rows, all or nothing. With `check_only`, only the plan
    (the confirmation page shows it); without, the same checks again and the write. `system=True`: the shell
    command run for the municipality (no signed-in user; the audit event says so)."""
    m = require_municipality() if system else _require_admin(user)
    plan = plan_import(parse_csv(data))
    if check_only or not plan.has_changes:
        return plan
    Chouaza.objects.filter(pk__in=[c.pk for c in plan.removed]).delete()
    # a renamed 町字 may take the name of another that is renamed in the same file: free the names first
    for r, old in plan.changed:
        Chouaza.objects.filter(pk=old.pk).update(name_key=f"#{old.pk}#")  # no real name holds digits
    for r, old in plan.changed:
        Chouaza.objects.filter(pk=old.pk).update(name_key=address_key(r.name), **r.values())
    Chouaza.objects.bulk_create([Chouaza(municipality=m, code=r.code, name_key=address_key(r.name), **r.values())
                                 for r in plan.added])
    m.__dict__.pop("_chouaza_master", None)  # disaster.districts reads the master once per municipality
    audit_append(m, "chouaza.import", actor=user, terminal=terminal, object_type="chouaza",
                 detail={"added": len(plan.added), "changed": len(plan.changed), "removed": len(plan.removed),
                         "rows": len(plan.rows), "by": "command" if system else "screen"})
    return plan


@transaction.atomic
def save_chouaza(user, values: dict, *, chouaza=None, terminal="system") -> Chouaza:
    """Add a 町字 (chouaza None) or change one, by an admin."""
    m = _require_admin(user)
    row, errors = check_row(values)
    if errors:
        raise RuleError({"__all__": [msg for _, msg in errors]})
    nk = address_key(row.name)
    clash = Chouaza.objects.filter(name_key=nk)
    code_clash = Chouaza.objects.filter(code=row.code)
    if chouaza is not None:
        clash, code_clash = clash.exclude(pk=chouaza.pk), code_clash.exclude(pk=chouaza.pk)
    if code_clash.exists():
        raise RuleError({"code": f"町字コード {row.code} は既に登録されています"})
    if clash.exists():
        raise RuleError({"name": f"町字「{row.name}」は既に登録されています"})
    before = None
    if chouaza is None:
        chouaza = Chouaza(municipality=m)
    else:
        chouaza = Chouaza.objects.select_for_update().get(pk=chouaza.pk)
        before = {"code": chouaza.code, **{k: getattr(chouaza, k) for k in row.values()}}
    chouaza.code, chouaza.name_key = row.code, nk
    for k, v in row.values().items():
        setattr(chouaza, k, v)
    try:
        with transaction.atomic():
            chouaza.save()
    except IntegrityError:
        raise RuleError("町字コードまたは町字が重複しています") from None
    m.__dict__.pop("_chouaza_master", None)  # disaster.districts reads the master once per municipality
    audit_append(m, "chouaza.save", actor=user, terminal=terminal, object_type="chouaza", object_id=chouaza.pk,
                 detail={"code": row.code, "name": row.name, "before": before})
    return chouaza


@transaction.atomic
def delete_chouaza(user, chouaza, *, terminal="system"):
    """Remove a 町字 from the master. Registered addresses are text and keep working; new ones cannot name it."""
    m = _require_admin(user)
    Chouaza.objects.filter(pk=chouaza.pk).delete()
    m.__dict__.pop("_chouaza_master", None)  # disaster.districts reads the master once per municipality
    audit_append(m, "chouaza.delete", actor=user, terminal=terminal, object_type="chouaza", object_id=chouaza.pk,
                 detail={"code": chouaza.code, "name": chouaza.name})

"""Tenant-scoped reads for the lists (帳票): 交付簿 with 日計, 異動者一覧, 世帯一覧.

Every list is built as a `Table` of plain text cells, once, and the screen, the CSV and the PDF all print that same
table — so a value withheld on screen is withheld in every format. Personal data pass the read policy
(privacy.policy: `for_staff`, `protected_person_ids`, `redact`) exactly as the person page does; no list decides
protection itself.
"""
import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils.timezone import localtime

from jichitai import moji
from jichitai.certificates.models import Issuance, IssuanceStatus, Kind
from jichitai.privacy import policy
from jichitai.residents.models import ChangeKind, Household, Person, PersonHistory, Status
from jichitai.tenancy.models import StaffUser

MAX_ROWS = 5000  # a list longer than this asks to narrow the period (screen, CSV and PDF alike)


@dataclass
class Table:
    title: str
    columns: list
    rows: list = field(default_factory=list)      # lists of text cells
    links: list = field(default_factory=list)     # per row: URL of the record, or "" (screen only)
    mj_columns: set = field(default_factory=set)  # columns holding names (printed in IPAmj明朝)
    nowrap_columns: set = field(default_factory=set)  # dates and numbers: never broken on screen
    summary: list = field(default_factory=list)   # [(label, value)] under the title (日計 etc.)
    conditions: str = ""                          # the filters, as text (printed on every format)
    truncated: int = 0                            # rows matched beyond MAX_ROWS (nothing is listed then)
    withheld: int = 0                             # rows with an address withheld by the read policy

    @property
    def screen_rows(self):
        """(cells, link) per row: on screen the first cell links to the record."""
        return [(row, self.links[i] if i < len(self.links) else "") for i, row in enumerate(self.rows)]


def _name(family, given):
    return f"{family}　{given}".strip("　")


def _period(date_from, date_to):
    if date_from and date_to:
        return f"{date_from:%Y-%m-%d}〜{date_to:%Y-%m-%d}"
    return ""


# ---------------------------------------------------------------- 交付簿 and 日計

def _name_matches(query):
    """(person ids whose name begins with `query` in the variant layer (高橋 finds 髙橋), the key itself)."""
    key = moji.variant_key(moji.name_key(query))
    ids = set(Person.objects.filter(name_var_key__startswith=key).values_list("pk", flat=True)[:MAX_ROWS + 1])
    return ids, key


def issuance_table(*, date_from, date_to, clerk="", kind="", name="", status="") -> Table:
    qs = (Issuance.objects.select_related("issued_by")
          .filter(issued_at__date__gte=date_from, issued_at__date__lte=date_to).order_by("issued_at", "id"))
    if clerk:
        qs = qs.filter(issued_by__username=clerk)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    issuances = list(qs[:MAX_ROWS * 4])
    if name.strip():
        ids, key = _name_matches(name.strip())
        issuances = [i for i in issuances if ids.intersection(i.person_ids)
                     or moji.variant_key(moji.name_key(i.requester_name)).startswith(key)]
    conditions = "　".join(filter(None, [
        f"期間 {_period(date_from, date_to)}", clerk and f"処理者 {clerk}", kind and f"種類 {Kind(kind).label}",
        status and f"状態 {IssuanceStatus(status).label}", name and f"氏名 {name}"]))
    t = Table("交付簿", ["発行番号", "処理日時", "種類", "対象者（宛名番号）", "請求者", "通数", "手数料", "状態", "処理者"],
              mj_columns={3, 4}, nowrap_columns={0, 1, 5, 6}, conditions=conditions)
    if len(issuances) > MAX_ROWS:
        t.truncated = len(issuances)
        return t
    persons = {p.pk: p for p in Person.objects.filter(pk__in={i for iss in issuances for i in iss.person_ids})}
    for iss in issuances:
        subjects = "、".join(f"{_name(persons[i].family_name, persons[i].given_name)}（{persons[i].atena_no}）"
                            for i in iss.person_ids if i in persons)
        requester = iss.get_requester_kind_display() + (f"：{iss.requester_name}" if iss.requester_name else "")
        t.rows.append([iss.issue_no or "（拒否）", f"{localtime(iss.issued_at):%Y-%m-%d %H:%M}",
                       f"{iss.get_kind_display()}（{iss.get_layout_display()}）", subjects, requester,
                       str(iss.copies), f"{iss.fee:,}円", iss.get_status_display(), iss.issued_by.username])
        t.links.append(f"/certificates/{iss.pk}/")
    totals = daily_totals(issuances)
    t.summary = [("交付", f"{sum(d['issued'] for d in totals.values()):,}件（{sum(d['copies'] for d in totals.values()):,}通）"),
                 ("手数料", f"{sum(d['fee'] for d in totals.values()):,}円"),
                 ("取消", f"{sum(d['voided'] for d in totals.values()):,}件"),
                 ("交付拒否", f"{sum(d['refused'] for d in totals.values()):,}件")]
    return t


def daily_totals(issuances) -> "OrderedDict[dt.date, dict]":
    """日計 per day of processing: 交付 (issued, still valid) count, copies and fees; 取消 and 交付拒否 counted
    apart. A voided certificate's fee is not counted (it was refunded or not collected)."""
    out = OrderedDict()
    for iss in sorted(issuances, key=lambda i: i.issued_at):
        d = out.setdefault(localtime(iss.issued_at).date(),
                           {"issued": 0, "copies": 0, "fee": 0, "voided": 0, "refused": 0, "by_kind": {}})
        if iss.status == IssuanceStatus.ISSUED:
            d["issued"] += 1
            d["copies"] += iss.copies
            d["fee"] += iss.fee
            k = d["by_kind"].setdefault(iss.get_kind_display(), [0, 0, 0])
            k[0], k[1], k[2] = k[0] + 1, k[1] + iss.copies, k[2] + iss.fee
        elif iss.status == IssuanceStatus.VOIDED:
            d["voided"] += 1
        else:
            d["refused"] += 1
    return out


def daily_table(*, date_from, date_to, clerk="") -> Table:
    """日計表: per day and kind of certificate, count, copies and fees, with the period's total."""
    qs = Issuance.objects.filter(issued_at__date__gte=date_from, issued_at__date__lte=date_to)
    if clerk:
        qs = qs.filter(issued_by__username=clerk)
    totals = daily_totals(list(qs.only("issued_at", "status", "copies", "fee", "kind")))
    t = Table("日計表", ["日付", "証明書の種類", "交付件数", "通数", "手数料"],
              conditions="　".join(filter(None, [f"期間 {_period(date_from, date_to)}", clerk and f"処理者 {clerk}"])))
    all_issued = all_copies = all_fee = 0
    for day, d in totals.items():
        for label, (n, copies, fee) in sorted(d["by_kind"].items()):
            t.rows.append([f"{day:%Y-%m-%d}", label, f"{n:,}", f"{copies:,}", f"{fee:,}円"])
        t.rows.append([f"{day:%Y-%m-%d}", f"日計（取消 {d['voided']}件・交付拒否 {d['refused']}件）", f"{d['issued']:,}",
                       f"{d['copies']:,}", f"{d['fee']:,}円"])
        all_issued, all_copies, all_fee = all_issued + d["issued"], all_copies + d["copies"], all_fee + d["fee"]
    t.summary = [("交付件数", f"{all_issued:,}件"), ("通数", f"{all_copies:,}通"), ("手数料合計", f"{all_fee:,}円")]
    return t


def clerks() -> list[str]:
    from jichitai.tenancy.scope import require_municipality

    # StaffUser is not a tenant model (guard.db.EXEMPT): filtered to the municipality in scope explicitly
    return list(StaffUser.objects.filter(municipality=require_municipality())
                .order_by("username").values_list("username", flat=True))


# ---------------------------------------------------------------- 異動者一覧

def movers_table(reader, *, date_from, date_to, kinds=()) -> Table:
    """Every 異動 with its 異動日 in the period (kinds: ChangeKind values, all if empty), one row per person and
    change, the snapshot as recorded — its address withheld by the policy exactly as on the person page."""
    qs = PersonHistory.objects.filter(change_date__gte=date_from, change_date__lte=date_to)
    if kinds:
        qs = qs.filter(change_kind__in=kinds)
    n = qs.count()
    labels = [ChangeKind(k).label for k in kinds]
    t = Table("異動者一覧", ["異動日", "届出日", "異動事由", "宛名番号", "氏名", "生年月日", "性別", "住所", "方書", "世帯番号"],
              mj_columns={4, 7, 8}, nowrap_columns={0, 1, 2, 3, 5, 9},
              conditions="　".join(filter(None, [f"異動日 {_period(date_from, date_to)}",
                                                 labels and "異動事由 " + "・".join(labels)])))
    if n > MAX_ROWS:
        t.truncated = n
        return t
    rows = list(qs.order_by("change_date", "id").values_list("person_id", "change_date", "notification_date",
                                                             "change_kind", "snapshot"))
    persons = list(Person.objects.filter(pk__in={r[0] for r in rows}).only("pk", "dv_protected", "household_id"))
    protected = policy.protected_person_ids(persons)
    for pid, change, notif, kind, snap in rows:
        data, withheld = policy.redact(snap, reader, person_protected=pid in protected)
        t.withheld += withheld
        t.rows.append([f"{change:%Y-%m-%d}", f"{notif:%Y-%m-%d}" if notif else "", ChangeKind(kind).label,
                       data.get("atena_no", ""), _name(data.get("family_name", ""), data.get("given_name", "")),
                       data.get("birth_date", "") or "", {"1": "男", "2": "女"}.get(data.get("sex"), ""),
                       data.get("address") or "", data.get("address_katagaki") or "", data.get("household_no", "")])
        t.links.append(f"/residents/{pid}/")
    t.summary = [("件数", f"{len(t.rows):,}件")]
    return t


# ---------------------------------------------------------------- 世帯一覧

def households_table(reader, *, address="") -> Table:
    """Current households: 世帯番号, 世帯主, address (withheld per the policy), members. `address`: a prefix
    (normalised like search: 岩井2丁目 finds 岩井二丁目); an address search never finds a protected household
    for a reader without the right (the match would reveal the address), as in search."""
    from jichitai.residents.actions import address_key

    heads = Person.objects.filter(status=Status.RESIDENT, is_head=True, household__is_active=True)
    if address.strip():
        heads = heads.filter(address_key__startswith=address_key(address))
        if reader.address_search_excludes_protected:
            heads = heads.exclude(policy.protected_q())
    n = heads.count()
    t = Table("世帯一覧", ["世帯番号", "世帯主", "フリガナ", "住所", "方書", "世帯員数", "世帯員"], mj_columns={1, 3, 4, 6},
              conditions=f"住所 {address}" if address else "現存する世帯すべて")
    if n > MAX_ROWS:
        t.truncated = n
        return t
    heads = list(heads.select_related("household").order_by("address_key", "household__household_no"))
    counts = dict(Person.objects.filter(status=Status.RESIDENT, household_id__in=[h.household_id for h in heads])
                  .values("household_id").annotate(n=Count("id")).values_list("household_id", "n"))
    members = {}
    for hid, fam, given, rel in (Person.objects.filter(status=Status.RESIDENT, is_head=False,
                                                       household_id__in=[h.household_id for h in heads])
                                 .order_by("birth_date", "pk")
                                 .values_list("household_id", "family_name", "given_name", "relationship")):
        members.setdefault(hid, []).append(f"{_name(fam, given)}（{rel}）")
    protected = policy.protected_person_ids(heads)
    for h in heads:
        data, withheld = policy.redact({"address": h.address, "address_katagaki": h.address_katagaki}, reader,
                                       person_protected=h.pk in protected)
        t.withheld += withheld
        t.rows.append([h.household.household_no, _name(h.family_name, h.given_name),
                       _name(h.family_name_kana, h.given_name_kana), data["address"] or "",
                       data["address_katagaki"] or "", str(counts.get(h.household_id, 1)),
                       "、".join(members.get(h.household_id, []))])
        t.links.append(f"/households/{h.household_id}/")
    t.summary = [("世帯数", f"{len(t.rows):,}世帯"), ("世帯員", f"{sum(counts.values()):,}人")]
    return t

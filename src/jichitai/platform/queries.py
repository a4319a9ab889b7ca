"""Every read of the platform app. The fit-gap table and the 割り勘 measures count across municipalities (counts and
requirement texts only, never personal data), inside `cross_tenant` with their reason."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from jichitai.tenancy.models import Municipality, Prefecture
from jichitai.tenancy.scope import cross_tenant, tenant_scope

from .models import BusinessArea, Classification, Requirement

# The seed's table (p.7, 自治体クラウド開発実証 調査研究報告書, 平成23年3月 総務省): rows in this order.
FITGAP_ROWS = [
    ("total", "要求事項 (A)"),
    ("out_of_scope", "実証外機能 (B)（対象外）"),
    ("in_scope", "実証対象機能 (A)-(B)（対象）"),
    ("standard", "標準機能"),
    ("standard_added", "標準機能（追加）"),
    ("prefecture", "県版機能"),
    ("individual", "個別機能"),
]
CLASS_LABELS = dict(Classification.choices)


@dataclass
class FitGapColumn:
    prefecture: object  # Prefecture or None for 合計
    label: str
    counts: dict

    @property
    def code(self):
        return self.prefecture.code if self.prefecture else ""


def _counts(by_class: dict) -> dict:
    total = sum(by_class.values())
    out_ = by_class.get(Classification.OUT_OF_SCOPE, 0)
    c = {"total": total, "out_of_scope": out_, "in_scope": total - out_,
         "unclassified": by_class.get(Classification.UNCLASSIFIED, 0)}
    for k in ("standard", "standard_added", "prefecture", "individual"):
        c[k] = by_class.get(k, 0)
    return c


def fitgap_table(prefectures=None) -> list[FitGapColumn]:
    """One column per prefecture with requirements (or the given ones), then 合計."""
    with cross_tenant("fit-gap table: requirement counts per prefecture and classification"):
        rows = (Requirement.all_tenants.values("municipality__prefecture_id", "classification")
                .annotate(n=Count("id")))
        per = {}
        for r in rows:
            per.setdefault(r["municipality__prefecture_id"], {})[r["classification"]] = r["n"]
    prefs = list(prefectures) if prefectures is not None else list(Prefecture.objects.filter(pk__in=per))
    cols = [FitGapColumn(p, p.name.removesuffix("県").removesuffix("府").removesuffix("都"), _counts(per.get(p.pk, {})))
            for p in prefs]
    total = {}
    for p in prefs:
        for k, v in per.get(p.pk, {}).items():
            total[k] = total.get(k, 0) + v
    cols.append(FitGapColumn(None, "合計", _counts(total)))
    return cols


def fitgap_by_municipality(prefecture) -> list[tuple]:
    """(municipality, counts) for each municipality of a prefecture with requirements."""
    with cross_tenant("fit-gap table: requirement counts per municipality of one prefecture"):
        rows = (Requirement.all_tenants.filter(municipality__prefecture=prefecture)
                .values("municipality_id", "classification").annotate(n=Count("id")))
        per = {}
        for r in rows:
            per.setdefault(r["municipality_id"], {})[r["classification"]] = r["n"]
    return [(m, _counts(per[m.pk])) for m in Municipality.objects.filter(pk__in=per).order_by("code")]


ROW_FILTERS = {"total": None, "out_of_scope": ["out_of_scope"], "in_scope": ["", "standard", "standard_added",
                                                                              "prefecture", "individual"],
               "standard": ["standard"], "standard_added": ["standard_added"], "prefecture": ["prefecture"],
               "individual": ["individual"], "unclassified": [""]}
PAGE = 100


def fitgap_drill(prefecture, row: str, *, area: str = "", page: int = 1):
    """The requirements behind one cell (prefecture None: every prefecture), 100 per page. Returns (rows, total)."""
    if row not in ROW_FILTERS:
        raise KeyError(row)
    with cross_tenant("fit-gap drill-down: the requirements behind one count (no personal data)"):
        qs = Requirement.all_tenants.select_related("municipality")
        if prefecture is not None:
            qs = qs.filter(municipality__prefecture=prefecture)
        if ROW_FILTERS[row] is not None:
            qs = qs.filter(classification__in=ROW_FILTERS[row])
        if area:
            qs = qs.filter(area=area)
        total = qs.count()
        page = max(1, page)
        rows = list(qs.order_by("municipality__code", "code")[(page - 1) * PAGE: page * PAGE])
    return rows, total


def requirements_of(municipality, *, classification=None, limit=500):
    with tenant_scope(municipality):
        qs = Requirement.objects.all()
        if classification is not None:
            qs = qs.filter(classification=classification)
        counts = dict(Requirement.objects.values_list("classification").annotate(n=Count("id")))
        return list(qs.order_by("-submitted_at", "-id")[:limit]), _counts(counts)


def requirement_of(municipality, pk):
    with tenant_scope(municipality):
        return Requirement.objects.filter(pk=pk).first()


AREA_LABELS = dict(BusinessArea.choices)


# ------------------------------------------------------------------------------------------- 割り勘

def fiscal_year_bounds(fy: int):
    """[1 April fy, 1 April fy+1) in the current time zone."""
    import datetime as dt

    from django.utils import timezone

    tz = timezone.get_current_timezone()
    return (dt.datetime(fy, 4, 1, tzinfo=tz), dt.datetime(fy + 1, 4, 1, tzinfo=tz))


def current_fiscal_year() -> int:
    from django.utils import timezone

    today = timezone.localdate()
    return today.year if today.month >= 4 else today.year - 1


def usage_measures(fy: int, municipalities=None) -> dict:
    """{municipality: {residents, certificates, api_calls, storage}} measured from the database: residents now,
    certificates issued in the fiscal year, API requests counted by the metrics middleware in the fiscal year, and
    storage as the number of rows the municipality holds in tenant tables (a proxy for bytes: rows are of similar
    size)."""
    from django.db.models import Sum

    from jichitai.certificates.models import Issuance
    from jichitai.guard.db import tenant_models
    from jichitai.residents.models import Person

    from .models import RequestMetric

    munis = list(municipalities) if municipalities is not None else list(
        Municipality.objects.filter(is_active=True).select_related("prefecture"))
    ids = [m.pk for m in munis]
    lo, hi = fiscal_year_bounds(fy)
    with cross_tenant("割り勘: measured use per municipality (counts only)"):
        residents = dict(Person.all_tenants.filter(municipality_id__in=ids, status="resident")
                         .values_list("municipality").annotate(n=Count("id")))
        certs = dict(Issuance.all_tenants.filter(municipality_id__in=ids, status="issued", issued_at__gte=lo,
                                                 issued_at__lt=hi).values_list("municipality").annotate(n=Count("id")))
        api = dict(RequestMetric.objects.filter(municipality_id__in=ids, kind="api", day__gte=lo.date(),
                                                day__lt=hi.date()).values_list("municipality")
                   .annotate(n=Sum("requests")))
        storage = {}
        for model in tenant_models():
            for mid, n in (model._base_manager.filter(municipality_id__in=ids).values_list("municipality")
                           .annotate(n=Count("pk"))):
                storage[mid] = storage.get(mid, 0) + n
    return {m: {"residents": residents.get(m.pk, 0), "certificates": certs.get(m.pk, 0),
                "api_calls": int(api.get(m.pk) or 0), "storage": storage.get(m.pk, 0)} for m in munis}


def cost_items(fy: int):
    from .models import CostItem

    return list(CostItem.objects.filter(fiscal_year=fy))


def cost_years():
    from .models import CostItem

    return sorted(set(CostItem.objects.values_list("fiscal_year", flat=True)))


# ------------------------------------------------------------------------------------------- CEPTOAR

def advisories_with_status():
    """[(advisory, recipients, acknowledged)] for the operator (counts across municipalities)."""
    from django.db.models import Q

    from .models import Advisory

    with cross_tenant("CEPTOAR: acknowledgement counts per advisory"):
        rows = list(Advisory.objects.annotate(n=Count("recipients"),
                                              acked=Count("recipients", filter=Q(
                                                  recipients__acknowledged_at__isnull=False)))[:200])
    return rows


def advisory_recipients(advisory_id):
    from .models import AdvisoryRecipient

    with cross_tenant("CEPTOAR: who acknowledged one advisory"):
        return list(AdvisoryRecipient.all_tenants.filter(advisory_id=advisory_id)
                    .select_related("municipality").order_by("municipality__code"))


def advisories_for(municipality):
    from .models import AdvisoryRecipient

    with tenant_scope(municipality):
        return list(AdvisoryRecipient.objects.select_related("advisory").order_by("-advisory__issued_at")[:200])


def incident_reports(municipality=None):
    from .models import IncidentReport

    if municipality is not None:
        with tenant_scope(municipality):
            return list(IncidentReport.objects.all()[:200])
    with cross_tenant("CEPTOAR: the operator reads every municipality's incident reports"):
        return list(IncidentReport.all_tenants.select_related("municipality")[:500])

"""Requirements (要求事項) and the fit-gap table. Thin: parse, check, call actions / queries, render."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Municipality, Prefecture
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import actions, charts, engine, queries
from .models import BusinessArea, Classification

SERIES = [("standard", "標準"), ("standard_added", "標準追加"), ("prefecture", "県版"), ("individual", "個別")]


def _operator_or_admin(request):
    u = request.user
    if not u.is_authenticated:
        raise PermissionDenied
    if has_perm(u, Perm.MANAGE_TENANTS):
        return True
    if u.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        return False
    raise PermissionDenied


def fitgap(request):
    _operator_or_admin(request)
    cols = queries.fitgap_table()
    chart = charts.stacked_bars([(c.label, c.counts) for c in cols], SERIES,
                                title="対象の要求事項の分類（標準・標準追加・県版・個別）")
    rows = [(key, label, [(c, c.counts[key]) for c in cols]) for key, label in queries.FITGAP_ROWS]
    unclassified = [(c, c.counts["unclassified"]) for c in cols]
    return render(request, "platform/fitgap.html", {"cols": cols, "rows": rows, "chart": chart,
                                                    "unclassified": unclassified,
                                                    "any_unclassified": any(n for _, n in unclassified)})


def fitgap_drill(request, row):
    operator = _operator_or_admin(request)
    code = request.GET.get("prefecture", "")
    prefecture = get_object_or_404(Prefecture, code=code) if code else None
    area = request.GET.get("area", "")
    if area and area not in BusinessArea.values:
        area = ""
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    try:
        items, total = queries.fitgap_drill(prefecture, row, area=area, page=page)
    except KeyError:
        raise PermissionDenied from None
    label = dict(queries.FITGAP_ROWS + [("unclassified", "未分類")])[row]
    can_classify = {m.pk: actions.may_classify(request.user, m) for m in {r.municipality for r in items}}
    return render(request, "platform/fitgap_drill.html", {
        "items": items, "total": total, "row": row, "row_label": label, "prefecture": prefecture, "area": area,
        "areas": BusinessArea.choices, "page": page, "pages": (total + queries.PAGE - 1) // queries.PAGE,
        "operator": operator, "can_classify": can_classify, "classes": [c for c in Classification.choices if c[0]],
        "by_municipality": queries.fitgap_by_municipality(prefecture) if prefecture else [],
        "setting_keys": sorted(engine.registry())})


def requirements(request):
    if _operator_or_admin(request):
        return redirect("platform_fitgap")
    m = request.municipality
    errors, lines = [], {}
    if request.method == "POST":
        try:
            if request.FILES.get("csv"):
                n = actions.import_requirements_csv(request.user, m, request.FILES["csv"].read(),
                                                    terminal=terminal_of(request))
                messages.success(request, f"{n:,}件の要求事項を取り込みました。")
            else:
                r = actions.submit_requirement(request.user, m, area=request.POST.get("area", ""),
                                               text=request.POST.get("text", ""), terminal=terminal_of(request))
                messages.success(request, f"要求事項 {r.code} を登録しました。")
            return redirect("platform_requirements")
        except actions.PlatformError as e:
            errors = [x for v in e.errors.values() for x in v]
            lines = e.lines
    items, counts = queries.requirements_of(m)
    return render(request, "platform/requirements.html", {
        "items": items, "counts": counts, "areas": BusinessArea.choices, "errors": errors,
        "lines": sorted(lines.items()), "posted": request.POST}, status=400 if errors else 200)


def classify(request, code, pk):
    if request.method != "POST":
        raise PermissionDenied
    m = get_object_or_404(Municipality, code=code)
    keys = request.POST.getlist("setting_keys") or request.POST.get("settings", "").split()
    try:
        actions.classify_requirement(request.user, m, pk, classification=request.POST.get("classification", ""),
                                     setting_keys=keys, note=request.POST.get("note", ""),
                                     terminal=terminal_of(request))
        messages.success(request, "分類を登録しました。")
    except actions.PlatformError as e:
        messages.error(request, str(e))
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/platform/") and "//" not in nxt else "platform_fitgap")

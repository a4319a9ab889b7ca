"""割り勘 screens: the operator's annual costs and allocation, each municipality's printable statement."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, Role, has_perm

from . import actions, allocation, charts, costs, queries
from .models import AllocationRule, CostCategory


def _year(request):
    try:
        return int(request.GET.get("year") or request.POST.get("fiscal_year") or queries.current_fiscal_year())
    except ValueError:
        return queries.current_fiscal_year()


def cost_index(request):
    if not has_perm(request.user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    fy = _year(request)
    errors = {}
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                actions.remove_cost_item(request.user, int(request.POST["remove"]), terminal=terminal_of(request))
                messages.success(request, "費用の項目を削除しました。")
            else:
                actions.add_cost_item(request.user, fiscal_year=request.POST.get("fiscal_year", ""),
                                      category=request.POST.get("category", ""), label=request.POST.get("label", ""),
                                      amount_yen=request.POST.get("amount_yen", ""), rule=request.POST.get("rule", ""),
                                      terminal=terminal_of(request))
                messages.success(request, "費用の項目を追加しました。")
            return redirect(f"{request.path}?year={fy}")
        except (actions.PlatformError, ValueError) as e:
            errors = getattr(e, "errors", {"__all__": [str(e)]})
    items = queries.cost_items(fy)
    sts = costs.statements(fy) if items else []
    chart = charts.bars([(s.municipality.name, s.share) for s in sts], unit="円", title="団体別の負担額") if sts else ""
    return render(request, "platform/costs.html", {
        "fy": fy, "items": items, "statements": sts, "total": sum(i.amount_yen for i in items),
        "shares_total": sum(s.share for s in sts), "chart": chart, "errors": errors, "posted": request.POST,
        "categories": CostCategory.choices, "rules": AllocationRule.choices, "years": queries.cost_years(),
        "weights": costs.weights(), "measure_labels": allocation.MEASURE_LABELS,
        "rounding_rule": costs.ROUNDING_RULE}, status=400 if errors else 200)


def statement(request, year=None, code=None):
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    if has_perm(user, Perm.MANAGE_TENANTS):
        if code is None:
            return redirect("platform_costs")
        m = get_object_or_404(Municipality, code=code)
    elif user.role == Role.ADMIN and getattr(request, "municipality", None) is not None:
        m = request.municipality
        if code is not None and code != m.code:
            raise Http404
    else:
        raise PermissionDenied
    fy = year or _year(request)
    s = costs.statement_for(fy, m)
    ctx = {"s": s, "m": m, "fy": fy, "rule_labels": costs.RULE_LABELS, "measure_labels": allocation.MEASURE_LABELS}
    if request.GET.get("format") == "pdf" and s is not None:
        from django.http import HttpResponse
        from django.template.loader import render_to_string

        from jichitai.certificates.render import render_html  # the certificate engine (WeasyPrint, IPAex明朝)

        pdf = render_html(render_to_string("platform/statement_pdf.html", ctx)).pdf
        r = HttpResponse(pdf, content_type="application/pdf")
        r["Content-Disposition"] = f'attachment; filename="statement-{m.code}-{fy}.pdf"'
        return r
    chart = ""
    if s is not None:
        chart = charts.bars([("共同利用の負担額", s.share), ("単独調達の見積り", s.standalone)], unit="円",
                            title="共同利用と単独調達の比較")
    return render(request, "platform/statement.html", {
        "s": s, "m": m, "fy": fy, "chart": chart, "rule_labels": costs.RULE_LABELS,
        "measure_labels": allocation.MEASURE_LABELS, "percent": costs.percent})

"""Thin views of the lists: parse the filter, check the role, build the Table (queries), then print it as the
screen, CSV or PDF asks (`?format=`). Every list shown or downloaded is audited with its filter and row count."""
from django.http import HttpResponse
from django.shortcuts import render

from jichitai.audit.actions import record_event
from jichitai.certificates.render import FontsMissing
from jichitai.privacy import policy
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import export, forms, queries

PDF_MAX_ROWS = 1000  # a PDF shares the certificate engine (one render at a time): longer lists as CSV
FILE_NAMES = {"交付簿": "issuances", "日計表": "daily", "異動者一覧": "movers", "世帯一覧": "households"}


@staff_required(Perm.VIEW_RESIDENTS)
def index(request):
    return render(request, "lists/index.html")


def _output(request, table, form, template="lists/table.html", extra=None):
    fmt = request.GET.get("format", "html")
    if fmt not in dict(forms.FORMATS):
        fmt = "html"
    ok = form.is_bound is False or form.is_valid()
    record_event(request.municipality, "list.view" if fmt == "html" else "list.export", actor=request.user,
                 request=request, object_type="list", object_id=FILE_NAMES.get(table.title, "") if table else "",
                 detail={"list": table.title if table else "", "format": fmt, "rows": len(table.rows) if table else 0,
                         "withheld": table.withheld if table else 0,
                         "filter": {k: str(v) for k, v in (form.cleaned_data.items() if ok and form.is_bound else []) if v}})
    pdf_too_long = fmt == "pdf" and table is not None and len(table.rows) > PDF_MAX_ROWS
    if table is not None and fmt != "html" and not table.truncated and not pdf_too_long:
        name = f"{FILE_NAMES[table.title]}-{request.municipality.code}"
        if fmt == "pdf":
            try:
                resp = HttpResponse(export.to_pdf(table, request.municipality), content_type="application/pdf")
            except FontsMissing as e:
                return HttpResponse(str(e), status=503, content_type="text/plain; charset=utf-8")
            resp["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        else:
            encoding = "cp932" if fmt == "csv-cp932" else "utf-8"
            ctype = "text/csv; charset=" + ("shift_jis" if encoding == "cp932" else "utf-8")
            resp = HttpResponse(export.to_csv(table, encoding), content_type=ctype)
            resp["Content-Disposition"] = f'attachment; filename="{name}{"-cp932" if encoding == "cp932" else ""}.csv"'
        resp["Cache-Control"] = "no-store"
        return resp
    q = request.GET.copy()
    q.pop("format", None)
    ctx = {"t": table, "form": form, "qs": q.urlencode(), "formats": forms.FORMATS[1:], **(extra or {}),
           "pdf_too_long": PDF_MAX_ROWS if pdf_too_long else 0}
    return render(request, template, ctx, status=200 if ok else 400)


@staff_required(Perm.ISSUE_CERTIFICATES)
def issuances(request):
    form = forms.IssuanceFilterForm(request.GET or None, clerks=queries.clerks())
    table = None
    if not form.is_bound or form.is_valid():
        d = form.cleaned_data if form.is_bound else {}
        today = forms.today_range()
        table = queries.issuance_table(date_from=d.get("date_from", today[0]), date_to=d.get("date_to", today[1]),
                                       clerk=d.get("clerk", ""), kind=d.get("kind", ""), name=d.get("name", ""),
                                       status=d.get("status", ""))
    from jichitai.continuity import queries as continuity

    return _output(request, table, form, extra={"daily_link": True, "void_blocks": continuity.void_blocks()})


@staff_required(Perm.ISSUE_CERTIFICATES)
def daily(request):
    form = forms.PeriodForm(request.GET or None)
    table = None
    if not form.is_bound or form.is_valid():
        d = form.cleaned_data if form.is_bound else {}
        today = forms.today_range()
        table = queries.daily_table(date_from=d.get("date_from", today[0]), date_to=d.get("date_to", today[1]),
                                    clerk=request.GET.get("clerk", "") if request.GET.get("clerk", "") in
                                    queries.clerks() else "")
    return _output(request, table, form)


@staff_required(Perm.VIEW_RESIDENTS)
def movers(request):
    form = forms.MoversFilterForm(request.GET or None)
    table = None
    if not form.is_bound or form.is_valid():
        d = form.cleaned_data if form.is_bound else {}
        today = forms.today_range()
        table = queries.movers_table(policy.for_staff(request.user), date_from=d.get("date_from", today[0]),
                                     date_to=d.get("date_to", today[1]), kinds=d.get("kinds") or ())
    return _output(request, table, form)


@staff_required(Perm.VIEW_RESIDENTS)
def households(request):
    form = forms.HouseholdFilterForm(request.GET or None)
    table = None
    if not form.is_bound or form.is_valid():
        d = form.cleaned_data if form.is_bound else {}
        table = queries.households_table(policy.for_staff(request.user), address=d.get("address", ""))
    return _output(request, table, form)

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from jichitai import moji
from jichitai.residents.actions import Actor, ConflictError, RuleError
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required
from jichitai.web.forms import apply_errors

from . import actions, forms, queries
from .models import Status


@staff_required(Perm.VIEW_GAIJI)
def mapping_list(request):
    status = request.GET.get("status", "")
    if status and status not in Status.values:
        status = ""
    return render(request, "gaiji/list.html", {
        "rows": queries.mappings(status)[:500], "counts": queries.status_counts(), "status": status,
        "statuses": Status.choices,
    })


@staff_required(Perm.MANAGE_GAIJI)
def mapping_create(request):
    form = forms.RegisterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            m = actions.register_code(Actor.from_request(request), code=d["code"], vendor=d["vendor"],
                                      glyph_png=d["glyph"], vendor_juki_code=d["vendor_juki_code"],
                                      vendor_koseki_no=d["vendor_koseki_no"], vendor_note=d["vendor_note"])
        except RuleError as e:
            apply_errors(form, e)
        else:
            messages.success(request, f"外字 {m.sjis_code or m.pua_hex} を登録しました（{m.get_status_display()}）。")
            return redirect("gaiji_review", mapping_id=m.pk)
    return render(request, "gaiji/create.html", {"form": form}, status=422 if form.errors else 200)


@staff_required(Perm.MANAGE_GAIJI)
def table_import(request):
    """Load a vendor's 外字対応表 as proposals (code-table matches approved at once); the result lists every row."""
    form = forms.TableImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            result = actions.import_vendor_table(Actor.from_request(request), vendor=d["vendor"], data=d["table"],
                                                 source=request.FILES["table"].name[:80])
        except RuleError as e:
            apply_errors(form, e)
        else:
            messages.success(request, f"外字対応表を読み込みました（自動承認 {len(result['approved'])}件、確認待ち "
                                      f"{len(result['proposed'])}件、登録済みのため変更なし {len(result['skipped'])}件）。")
            ids = dict(queries.mappings("").filter(vendor=d["vendor"].strip()).values_list("sjis_code", "pk"))
            for r in result["rows"]:
                r["id"] = ids.get(r["code"])
    return render(request, "gaiji/import.html", {"form": form, "result": result},
                  status=422 if form.errors else 200)


@staff_required(Perm.VIEW_GAIJI)
def mapping_review(request, mapping_id):
    """The review screen: the vendor's glyph beside candidate MJ glyphs (rendered in IPAmj明朝), MJ search, and
    the decision with a confirmation step."""
    m = queries.get_mapping(mapping_id)
    search = forms.MJSearchForm(request.GET or None)
    results = []
    if request.GET and search.is_valid():
        d = search.cleaned_data
        results = queries.search_mj(code=d["code"], reading=d["reading"], radical=d["radical"], strokes=d["strokes"])
    ctx = {"m": m, "candidates": queries.candidates(m), "search": search, "results": results,
           "events": list(m.events.order_by("at", "id")), "searched": bool(request.GET)}
    if request.method == "POST":
        if not request.user.has_role_perm(Perm.MANAGE_GAIJI):
            raise Http404  # viewers never get a form; a crafted POST learns nothing
        decision = forms.DecisionForm(request.POST)
        if not decision.is_valid():
            messages.error(request, "入力内容を確認してください。")
            return redirect("gaiji_review", mapping_id=m.pk)
        d = decision.cleaned_data
        if request.POST.get("step") != "commit":
            ctx.update(confirm=d, confirm_record=moji.by_mj(d["mj_name"]) if d["mj_name"] else None)
            return render(request, "gaiji/review.html", ctx)
        actor = Actor.from_request(request)
        try:
            if d["decision"] == "approve":
                actions.approve_manually(actor, m, mj_name=d["mj_name"], expected_version=d["expected_version"],
                                         note=d["note"])
            elif d["decision"] == "unmappable":
                actions.mark_unmappable(actor, m, expected_version=d["expected_version"], note=d["note"])
            else:
                actions.reopen(actor, m, expected_version=d["expected_version"], note=d["note"])
        except (RuleError, ConflictError) as e:
            ctx["errors"] = [msg for msgs in e.errors.values() for msg in msgs]
            ctx["m"] = queries.get_mapping(m.pk)
            return render(request, "gaiji/review.html", ctx, status=409 if isinstance(e, ConflictError) else 422)
        messages.success(request, "外字対応を更新しました。")
        return redirect("gaiji_review", mapping_id=m.pk)
    return render(request, "gaiji/review.html", ctx)


@staff_required(Perm.VIEW_GAIJI)
def mapping_glyph(request, mapping_id):
    m = queries.get_mapping(mapping_id)
    if not m.glyph_png:
        raise Http404("no glyph image")
    response = HttpResponse(bytes(m.glyph_png), content_type="image/png")
    response["Content-Disposition"] = "inline"
    return response

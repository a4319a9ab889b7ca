from pathlib import Path

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from jichitai.audit.actions import record_event, terminal_of
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import bcp_actions as actions
from . import bcp_queries as queries
from .bcp_forms import DrillForm, FinishForm, PlanForm


def _errors(form, exc):
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errs)
    else:
        form.add_error(None, exc.messages)


@staff_required(Perm.MANAGE_BCP)
def plan(request):
    rev, items, missing = queries.plan()
    return render(request, "continuity/bcp_plan.html", {
        "rev": rev, "items": items, "missing": missing, "revisions": queries.revisions()[:10],
        "drills": queries.drills()[:5]})


@staff_required(Perm.MANAGE_BCP)
@require_http_methods(["GET", "POST"])
def plan_edit(request):
    rev, items, _ = queries.plan()
    form = PlanForm(request.POST or None, items=items)
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.save_plan(request.user, form.answers(), note=form.cleaned_data["note"],
                                    terminal=terminal_of(request))
            messages.success(request, f"ICT-BCP を第{new.revision}版として保存しました。")
            return redirect("bcp_plan")
        except ValidationError as e:
            _errors(form, e)
    sections = [(key, title, [(it, form[it.key]) for it in rows]) for key, title, rows in items]
    return render(request, "continuity/bcp_edit.html", {"form": form, "sections": sections, "rev": rev},
                  status=400 if request.method == "POST" else 200)


def _printable(request):
    rev, items, missing = queries.plan()
    return {"rev": rev, "items": items, "missing": missing, "printed_at": timezone.localtime(),
            "drills": queries.drills().filter(finished_at__isnull=False)[:10]}


@staff_required(Perm.MANAGE_BCP)
def plan_print(request):
    ctx = _printable(request)
    record_event(request.municipality, "bcp.print", actor=request.user, request=request, object_type="bcp",
                 object_id=str(ctx["rev"].revision if ctx["rev"] else 0), detail={"format": "html"})
    return render(request, "continuity/bcp_print.html", ctx)


@staff_required(Perm.MANAGE_BCP)
def plan_pdf(request):
    from jichitai.certificates.render import FontsMissing, render_html

    ctx = _printable(request)
    css = Path(finders.find("continuity/bcp_print.css")).read_text(encoding="utf-8")
    html = render_to_string("continuity/bcp_print.html", {**ctx, "pdf": True, "inline_css": css}, request=request)
    try:
        pdf = render_html(html).pdf
    except FontsMissing as e:
        messages.error(request, str(e))
        return redirect("bcp_plan")
    record_event(request.municipality, "bcp.print", actor=request.user, request=request, object_type="bcp",
                 object_id=str(ctx["rev"].revision if ctx["rev"] else 0), detail={"format": "pdf"})
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="ict-bcp-{request.municipality.code}.pdf"'
    return resp


@staff_required(Perm.MANAGE_BCP)
@require_http_methods(["GET", "POST"])
def drills(request):
    form = DrillForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            d = actions.plan_drill(request.user, terminal=terminal_of(request), **form.cleaned_data)
            messages.success(request, f"訓練「{d.title}」を登録しました。")
            return redirect("bcp_drill", d.pk)
        except ValidationError as e:
            _errors(form, e)
    return render(request, "continuity/bcp_drills.html", {"form": form, "drills": queries.drills()},
                  status=400 if request.method == "POST" else 200)


@staff_required(Perm.MANAGE_BCP)
def drill(request, drill_id: int):
    d = queries.drill(drill_id)
    if d is None:
        raise Http404
    return render(request, "continuity/bcp_drill.html", {"d": d, "steps": queries.drill_steps(d),
                                                         "finish": FinishForm()})


@staff_required(Perm.MANAGE_BCP)
def drill_action(request, drill_id: int):
    if queries.drill(drill_id) is None:  # another municipality's id: 404 whatever the method
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    what = request.POST.get("do")
    try:
        if what == "start":
            actions.start_drill(request.user, drill_id, terminal=terminal_of(request))
        elif what in ("step_start", "step_done", "step_skip"):
            try:
                step = int(request.POST.get("step", ""))
            except ValueError:
                raise ValidationError("手順の番号が正しくありません。")
            actions.record_step(request.user, drill_id, step, what.split("_")[1],
                                note=request.POST.get("note", ""), terminal=terminal_of(request))
        elif what == "finish":
            form = FinishForm(request.POST)
            if not form.is_valid():
                d = queries.drill(drill_id)
                if d is None:
                    raise Http404
                return render(request, "continuity/bcp_drill.html",
                              {"d": d, "steps": queries.drill_steps(d), "finish": form}, status=400)
            actions.finish_drill(request.user, drill_id, terminal=terminal_of(request), **form.cleaned_data)
            messages.success(request, "訓練を終了し、結果を記録しました。計画の「訓練の計画と結果」に反映されます。")
        else:
            raise ValidationError("操作が正しくありません。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("bcp_drill", drill_id)

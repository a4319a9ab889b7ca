"""Thin views for issuing certificates and keeping the issuance log (交付簿)."""
import secrets

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from jichitai.audit.actions import record_event, terminal_of
from jichitai.residents.actions import RuleError
from jichitai.residents.models import Status
from jichitai.residents.queries import get_person_for_update
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required
from jichitai.web.forms import apply_errors

from . import actions, config, forms, queries, signing
from .models import IssuanceStatus, Kind, RequesterKind
from .render import OPTION_LABELS, FontsMissing


def _pdf_response(outcome):
    resp = HttpResponse(outcome.pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="certificate-{outcome.issuance.issue_no}.pdf"'
    resp["Cache-Control"] = "no-store"
    return resp


@staff_required(Perm.ISSUE_CERTIFICATES)
def issue(request, person_id):
    person = get_person_for_update(person_id)
    candidates = queries.household_candidates(person)
    if person not in candidates:
        candidates.insert(0, person)
    if request.method != "POST":
        kind = Kind.RESIDENT_COPY
        if person.status == Status.REMOVED:
            kind = Kind.MOVE_OUT_CERTIFICATE if person.move_out_state == "予定" else Kind.REMOVED_COPY
        form = forms.IssueForm(initial={"person_ids": [person.pk], "kind": kind}, candidates=candidates)
        return render(request, "certificates/issue_form.html",
                      {"form": form, "person": person, "option_fields": forms.OPTION_FIELDS,
                       "signer_missing": actions.missing_signer(config.effective(request.municipality))})
    form = forms.IssueForm(request.POST, candidates=candidates)
    step = request.POST.get("step")
    if step != "edit" and form.is_valid():
        req = form.request()
        try:
            if step == "commit":
                try:
                    outcome = actions.issue_certificate(request.user, req, terminal=terminal_of(request))
                except actions.AlreadyIssued as e:
                    messages.warning(request, str(e))
                    return redirect("certificate_detail", issuance_id=e.issuance.pk)
                if outcome.refused:
                    return render(request, "certificates/refused.html",
                                  {"outcome": outcome, "person": person}, status=403)
                return _pdf_response(outcome)
            q = actions.quote(request.user, req)
            return render(request, "certificates/issue_confirm.html", {
                "token": secrets.token_urlsafe(16),  # one per confirmation page: a second 「発行する」 is refused
                "form": form, "person": person, "quote": q, "req": req,
                "kind_label": Kind(req.kind).label, "requester_label": RequesterKind(req.requester_kind).label,
                "options": [(OPTION_LABELS[k], v) for k, v in q["options"].items()],
            })
        except RuleError as e:
            apply_errors(form, e)
        except FontsMissing as e:
            form.add_error(None, str(e))
    return render(request, "certificates/issue_form.html",
                  {"form": form, "person": person, "option_fields": forms.OPTION_FIELDS,
                   "signer_missing": actions.missing_signer(config.effective(request.municipality))})


@staff_required(Perm.ISSUE_CERTIFICATES)
def log(request):
    """The 交付簿: filtered by period, clerk, kind, status and name, with the 日計 (lists app)."""
    from jichitai.lists.views import issuances

    return issuances(request)


def _detail(request, iss, form, status=200):
    """The 交付簿 record page; also shown again when a void or reprint fails, then always with the form, so that
    its errors are seen."""
    may_change = form.errors or (iss.status == IssuanceStatus.ISSUED and actions._may_void(request.user, iss))
    code = signing.make_code(iss) if iss.key_id and iss.status != IssuanceStatus.REFUSED else ""
    return render(request, "certificates/detail.html", {
        "code": code, "verify_path": reverse("certificate_verify", kwargs={"code": code}) if code else "",
        "iss": iss, "subjects": queries.subjects(iss), "may_change": may_change, "form": form,
        "options": [(OPTION_LABELS[k], v) for k, v in iss.options.items() if k in OPTION_LABELS],
    }, status=status)


@staff_required(Perm.ISSUE_CERTIFICATES)
def detail(request, issuance_id):
    iss = queries.get_issuance(issuance_id)
    record_event(request.municipality, "certificate.view", actor=request.user, request=request,
                 object_type="issuance", object_id=iss.pk, detail={"issue_no": iss.issue_no})
    return _detail(request, iss, forms.ReasonForm())


def _reason_step(request, issuance_id, *, what, label):
    iss = queries.get_issuance(issuance_id)
    if request.method != "POST":
        return redirect("certificate_detail", issuance_id=iss.pk)
    form = forms.ReasonForm(request.POST)
    step = request.POST.get("step")
    if form.is_valid():
        try:
            if step == "commit":
                if what == "void":
                    actions.void_issuance(request.user, iss, reason=form.cleaned_data["reason"],
                                          terminal=terminal_of(request))
                    messages.success(request, f"発行番号 {iss.issue_no} を取り消しました")
                    return redirect("certificate_detail", issuance_id=iss.pk)
                outcome = actions.reprint(request.user, iss, reason=form.cleaned_data["reason"],
                                          terminal=terminal_of(request))
                if outcome.refused:
                    return render(request, "certificates/refused.html", {"outcome": outcome}, status=403)
                return _pdf_response(outcome)
            return render(request, "certificates/reason_confirm.html",
                          {"iss": iss, "form": form, "what": what, "label": label})
        except RuleError as e:
            apply_errors(form, e)
    return _detail(request, iss, form, status=400)


@staff_required(Perm.ISSUE_CERTIFICATES)
def void(request, issuance_id):
    return _reason_step(request, issuance_id, what="void", label="取り消す")


@staff_required(Perm.ISSUE_CERTIFICATES)
def reprint(request, issuance_id):
    return _reason_step(request, issuance_id, what="reprint", label="再発行する")

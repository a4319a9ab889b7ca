"""Thin views of the 避難行動要支援者名簿 and the 被災者台帳 (parse, check the permission, call a query or an action)."""
import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from jichitai.audit.actions import record_event, terminal_of
from jichitai.certificates import actions as certificate_actions
from jichitai.certificates.render import FontsMissing
from jichitai.privacy import policy
from jichitai.residents.actions import RuleError
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.web.decorators import staff_required

from . import queries
from . import support_actions as sa
from . import support_forms as sf
from . import support_outputs as so
from . import support_queries as sq

VIEW = Perm.VIEW_VULNERABLE_PERSONS


def _apply_errors(form, exc):
    if isinstance(exc, RuleError):
        items = exc.errors.items()
    elif hasattr(exc, "error_dict"):
        items = exc.message_dict.items()
    else:
        items = [(None, exc.messages)]
    for field, errs in items:
        form.add_error(field if field in form.fields else None, errs)


def _districts(rows):
    return sorted({r.district for r in rows})


@staff_required(VIEW)
def roster(request):
    district = request.GET.get("district", "")
    reader = policy.for_staff(request.user)
    rows = sq.roster(reader)
    shown = [r for r in rows if r.district == district] if district else rows
    record_event(request.municipality, "disaster.vulnerable_view", actor=request.user, request=request,
                 object_type="vulnerable_person", detail={"district": district, "count": len(shown)})
    provided = sq.roster(policy.for_export(request.user, include_protected_addresses=False,
                                           purpose="vulnerable-persons"), purpose=sq.PURPOSE_PROVISION)
    return render(request, "disaster/roster.html", {
        "rows": shown, "districts": _districts(rows), "district": district, "total": len(rows),
        "basis": sq.provision_basis(), "provided_count": len(provided), "find": sf.FindPersonForm()})


def _output(request, fmt):
    purpose = request.GET.get("purpose", sq.PURPOSE_PROVISION)
    if purpose not in (sq.PURPOSE_PROVISION, sq.PURPOSE_INTERNAL):
        raise Http404
    district = request.GET.get("district", "")
    if purpose == sq.PURPOSE_PROVISION:
        reader = policy.for_export(request.user, include_protected_addresses=False, purpose="vulnerable-persons")
    else:
        reader = policy.for_staff(request.user)
    rows = sq.roster(reader, purpose=purpose, district=district)
    basis = sq.provision_basis()
    record_event(request.municipality, "disaster.vulnerable_output", actor=request.user, request=request,
                 object_type="vulnerable_person",
                 detail={"format": fmt, "purpose": purpose, "district": district, "count": len(rows),
                         "without_consent": purpose == sq.PURPOSE_PROVISION and basis["declared"],
                         "read_policy": policy.manifest_entry(reader)})
    name = f"vulnerable-{purpose}-{request.municipality.code}"
    if fmt == "csv":
        resp = HttpResponse(so.roster_csv(rows), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    else:
        resp = HttpResponse(so.roster_pdf(request.municipality, rows, purpose=purpose, basis=basis),
                            content_type="application/pdf")
        resp["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    resp["Cache-Control"] = "no-store"
    return resp


@staff_required(VIEW)
def roster_pdf(request):
    return _output(request, "pdf")


@staff_required(VIEW)
def roster_csv(request):
    return _output(request, "csv")


@staff_required(VIEW)
def find_person(request):
    form = sf.FindPersonForm(request.GET or None)
    if form.is_valid():
        p = sq.person_by_atena(form.cleaned_data["atena_no"])
        if p is not None:
            vp = sq.entry_for_person(p.pk)
            return redirect("vulnerable_edit", vp.pk) if vp else redirect("vulnerable_new", p.pk)
        form.add_error("atena_no", "この宛名番号の住民が見つかりません。")
    return render(request, "disaster/roster_find.html", {"form": form}, status=400 if request.GET else 200)


def _initial(vp):
    d = {f: getattr(vp, f) for f in sa.ROSTER_FIELDS}
    for f in ("consent_date", "plan_date"):
        d[f] = d[f].isoformat() if d[f] else ""
    d["version"] = vp.version
    return d


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def entry(request, vp_id=None, person_id=None):
    vp = sq.vulnerable_entry(vp_id) if vp_id else None
    if vp_id and vp is None:
        raise Http404
    person = vp.person if vp else sq.person_for_entry(person_id)
    if person is None:
        raise Http404
    withheld = sq.entry_withheld(request.user, person)
    form = sf.RosterEntryForm(request.POST or None, initial=_initial(vp) if vp else {"consent": "unknown"})
    if request.method == "POST" and withheld:
        form.add_error(None, sa.PROTECTED_ENTRY)
    elif request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            saved = sa.save_vulnerable_person(request.user, person.pk, data, expected_version=version,
                                              terminal=terminal_of(request))
            messages.success(request, f"{person.full_name} さんの名簿情報を保存しました。")
            return redirect("vulnerable_edit", saved.pk)
        except ValidationError as e:
            _apply_errors(form, e)
    if request.method == "GET":
        record_event(request.municipality, "disaster.vulnerable_entry_view", actor=request.user, request=request,
                     object_type="vulnerable_person", object_id=str(vp.pk) if vp else "",
                     detail={"atena_no": person.atena_no})
    reader = policy.for_staff(request.user)
    data, _ = policy.redact({"address": person.address}, reader, person_protected=policy.person_is_protected(person))
    return render(request, "disaster/roster_entry.html", {
        "form": form, "vp": vp, "person": person, "address": data["address"], "withheld": withheld,
        "protected_message": sa.PROTECTED_ENTRY,
        "supporters": sq.supporters_of(vp) if vp and not withheld else [], "supporter_form": sf.SupporterForm(),
        "delist_form": sf.DelistForm()}, status=400 if request.method == "POST" else 200)


def _entry_or_404(vp_id):
    vp = sq.vulnerable_entry(vp_id)
    if vp is None:
        raise Http404
    return vp


@staff_required(VIEW)
def supporter_add(request, vp_id):
    _entry_or_404(vp_id)  # another municipality's id is not found, whatever the method
    if request.method != "POST":
        return redirect("vulnerable_edit", vp_id)
    form = sf.SupporterForm(request.POST)
    if form.is_valid():
        try:
            sa.add_supporter(request.user, vp_id, form.cleaned_data, terminal=terminal_of(request))
            messages.success(request, "避難支援等関係者を登録しました。")
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
    else:
        messages.error(request, "避難支援等関係者の区分と氏名又は名称を入力してください。")
    return redirect("vulnerable_edit", vp_id)


@staff_required(VIEW)
def supporter_remove(request, vp_id, supporter_id):
    vp = _entry_or_404(vp_id)
    if supporter_id not in {s.pk for s in sq.supporters_of(vp)}:
        raise Http404
    if request.method != "POST":
        return redirect("vulnerable_edit", vp_id)
    try:
        sa.remove_supporter(request.user, supporter_id, terminal=terminal_of(request))
        messages.success(request, "避難支援等関係者を削除しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("vulnerable_edit", vp_id)


@staff_required(VIEW)
def delist(request, vp_id):
    _entry_or_404(vp_id)
    if request.method != "POST":
        return redirect("vulnerable_edit", vp_id)
    try:
        sa.delist_vulnerable_person(request.user, vp_id, reason=request.POST.get("reason", ""),
                                    terminal=terminal_of(request))
        messages.success(request, "名簿への掲載を終了しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("vulnerable_edit", vp_id)
    return redirect("vulnerable_roster")


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def roster_import(request):
    form = sf.ImportForm(request.POST or None, request.FILES or None)
    errors = []
    if request.method == "POST" and form.is_valid():
        raw = form.cleaned_data["file"].read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors = ["ファイルを UTF-8 として読めません。文字コードを UTF-8 にして保存し直してください。"]
        else:
            try:
                result = sa.import_vulnerable_csv(request.user, text, terminal=terminal_of(request))
                messages.success(request, f"名簿を取り込みました（新規 {result.created}人、更新 {result.updated}人）。")
                return redirect("vulnerable_roster")
            except ValidationError as e:
                errors = e.messages
    return render(request, "disaster/roster_import.html", {"form": form, "errors": errors,
                                                          "columns": list(sa.CSV_COLUMNS)},
                  status=400 if request.method == "POST" else 200)


# ---------------------------------------------------------------- 被災者台帳

def _disaster_or_404(disaster_id):
    act = queries.activations().filter(disaster_id=disaster_id).first()
    if act is None:
        raise Http404
    return act


@staff_required(Perm.DISASTER_RESPONSE)
@require_http_methods(["GET", "POST"])
def ledger_list(request, disaster_id):
    act = _disaster_or_404(disaster_id)
    form = sf.FindHouseholdForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        hh = sq.find_household(form.cleaned_data["key"])
        if hh is None:
            form.add_error("key", "この世帯番号・宛名番号の世帯が見つかりません。")
        else:
            led = sq.ledger_for(act.disaster_id, hh.pk)
            if led is None:
                try:
                    led = sa.save_ledger(request.user, act.disaster_id, hh.pk, {}, terminal=terminal_of(request))
                    messages.success(request, f"世帯 {hh.household_no} の被災者台帳を作成しました。")
                except ValidationError as e:
                    _apply_errors(form, e)
            if led is not None:
                return redirect("victim_ledger", led.pk)
    reader = policy.for_staff(request.user)
    rows = [sq.ledger_view(led, reader) for led in sq.ledgers(act.disaster_id)]
    record_event(request.municipality, "disaster.ledger_list_view", actor=request.user, request=request,
                 object_type="disaster", object_id=str(act.disaster_id), detail={"count": len(rows)})
    return render(request, "disaster/ledger_list.html", {"act": act, "rows": rows, "form": form},
                  status=400 if request.method == "POST" else 200)


def _ledger_form(request, led, data=None):
    """The ledger's edit form; without the 居所 field for a reader from whom it is withheld (DV)."""
    view = sq.ledger_view(led, policy.for_staff(request.user))
    form = sf.LedgerForm(data, initial={
        **{f: getattr(led, f) for f in sa.LEDGER_FIELDS},
        "consent_date": led.consent_date.isoformat() if led.consent_date else "", "version": led.version})
    if view.address_withheld:
        del form.fields["whereabouts"]
    return form


def _ledger_page(request, led, *, status=200, **forms):
    view = sq.ledger_view(led, policy.for_staff(request.user),
                          show_vulnerable=has_perm(request.user, Perm.VIEW_VULNERABLE_PERSONS))
    ctx = {"v": view, "led": led, "may_issue": has_perm(request.user, Perm.ISSUE_CERTIFICATES),
           "ledger_form": forms.get("ledger_form") or _ledger_form(request, led),
           "assessment_form": forms.get("assessment_form") or sf.AssessmentForm(),
           "relief_form": forms.get("relief_form") or sf.ReliefForm(),
           "provision_form": forms.get("provision_form") or sf.ProvisionForm(),
           "certificate_form": forms.get("certificate_form") or sf.VictimCertificateForm()}
    return render(request, "disaster/ledger.html", ctx, status=status)


def _ledger_or_404(ledger_id):
    led = sq.ledger(ledger_id)
    if led is None:
        raise Http404
    return led


@staff_required(Perm.DISASTER_RESPONSE)
def ledger(request, ledger_id):
    led = _ledger_or_404(ledger_id)
    record_event(request.municipality, "disaster.ledger_view", actor=request.user, request=request,
                 object_type="victim_ledger", object_id=str(led.pk),
                 detail={"household_no": led.household.household_no})
    return _ledger_page(request, led)


def _post(request, ledger_id, form_cls, key, call, ok):
    led = _ledger_or_404(ledger_id)
    if request.method != "POST":
        return redirect("victim_ledger", led.pk)
    form = _ledger_form(request, led, request.POST) if form_cls is sf.LedgerForm else form_cls(request.POST)
    if form.is_valid():
        try:
            call(led, dict(form.cleaned_data))
            messages.success(request, ok)
            return redirect("victim_ledger", led.pk)
        except ValidationError as e:
            _apply_errors(form, e)
    return _ledger_page(request, led, status=400, **{key: form})


@staff_required(Perm.DISASTER_RESPONSE)
def ledger_save(request, ledger_id):
    def call(led, d):
        version = d.pop("version")
        sa.save_ledger(request.user, led.disaster_id, led.household_id, d, expected_version=version,
                       terminal=terminal_of(request))
    return _post(request, ledger_id, sf.LedgerForm, "ledger_form", call, "被災者台帳を保存しました。")


@staff_required(Perm.DISASTER_RESPONSE)
def assessment_add(request, ledger_id):
    return _post(request, ledger_id, sf.AssessmentForm, "assessment_form",
                 lambda led, d: sa.record_damage_assessment(request.user, led.pk, d, terminal=terminal_of(request)),
                 "住家の被害認定を登録しました。")


@staff_required(Perm.DISASTER_RESPONSE)
def relief_add(request, ledger_id):
    return _post(request, ledger_id, sf.ReliefForm, "relief_form",
                 lambda led, d: sa.record_relief(request.user, led.pk, d, terminal=terminal_of(request)),
                 "援護の実施を記録しました。")


@staff_required(Perm.DISASTER_RESPONSE)
def provision_add(request, ledger_id):
    return _post(request, ledger_id, sf.ProvisionForm, "provision_form",
                 lambda led, d: sa.record_ledger_provision(request.user, led.pk, terminal=terminal_of(request), **d),
                 "台帳情報の提供を記録しました。")


@staff_required(Perm.DISASTER_RESPONSE)  # and the certificate engine checks ISSUE_CERTIFICATES
def certificate(request, ledger_id):
    """罹災証明書: a confirmation page (opens on 「修正する」, so a stray Enter never issues), then the PDF."""
    led = _ledger_or_404(ledger_id)
    if request.method != "POST":
        return redirect("victim_ledger", led.pk)
    form = sf.VictimCertificateForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        if request.POST.get("step") == "commit":
            try:
                outcome = sa.issue_victim_certificate(
                    request.user, led.pk, requester_kind=d["requester_kind"], requester_name=d["requester_name"],
                    purpose=d["purpose"], copies=d["copies"], token=d.get("token") or "",
                    terminal=terminal_of(request))
                resp = HttpResponse(outcome.pdf, content_type="application/pdf")
                resp["Content-Disposition"] = f'inline; filename="risai-{outcome.issuance.issue_no}.pdf"'
                resp["Cache-Control"] = "no-store"
                return resp
            except certificate_actions.AlreadyIssued as e:
                messages.warning(request, str(e))
                return redirect("certificate_detail", issuance_id=e.issuance.pk)
            except (ValidationError, RuleError, FontsMissing) as e:
                if isinstance(e, FontsMissing):
                    form.add_error(None, str(e))
                else:
                    _apply_errors(form, e)
        elif request.POST.get("step") == "edit":
            return _ledger_page(request, led, certificate_form=form)
        else:
            latest = sq.latest_assessment(led)
            if latest is None:
                form.add_error(None, "この世帯には住家の被害認定（調査結果）がないため、罹災証明書を発行できません。"
                                     "先に被害認定を登録してください。")
            else:
                try:
                    fee = certificate_actions.disaster_certificate_fee(
                        request.user, requester_kind=d["requester_kind"], copies=d["copies"])
                except RuleError as e:
                    _apply_errors(form, e)
                    return _ledger_page(request, led, status=403, certificate_form=form)
                view = sq.ledger_view(led, policy.for_staff(request.user))
                return render(request, "disaster/certificate_confirm.html", {"fee": fee,
                    "form": form, "led": led, "v": view, "latest": latest, "token": secrets.token_urlsafe(16),
                    "requester_label": dict(form.fields["requester_kind"].choices)[d["requester_kind"]]})
    return _ledger_page(request, led, status=400, certificate_form=form)

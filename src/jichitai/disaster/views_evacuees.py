"""Screens for evacuees, matching review, safety confirmation, 広域避難, PFIF and the dashboard. Thin: parse, check
the permission (decorators), call a query or an action, render."""
import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from jichitai.audit.actions import record_event, terminal_of
from jichitai.privacy.policy import for_staff
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.web.decorators import staff_required

from . import actions, charts, crossarea, pfif, queries
from .evacuee_rows import FIELDS
from .forms import QUICK_LINES, ConsentForm, CsvImportForm, GrantForm, MoveForm, PfifImportForm, SafetyNoteForm
from .models.evacuees import EvacueeStatus, MatchState, PfifStatus, Presence
from .viewutils import object_or_404

_own_evacuee = object_or_404(lambda evacuee_id, **_: queries.evacuees().filter(pk=evacuee_id).exists())
_grant_given = object_or_404(lambda grant_id, **_: queries.grants_given().filter(pk=grant_id).exists())
_grant_received = object_or_404(lambda grant_id, **_: any(g.pk == grant_id for g in crossarea.grants_received()))

QUICK_LINE_FIELDS = ("full_name", "kana", "birth_text", "sex", "injury", "consent_family", "consent_acquaintance",
                     "consent_public")
SHARED_FIELDS = ("place", "presence", "address", "contact", "place_note")


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


@staff_required(Perm.REGISTER_EVACUEES)
def evacuee_list(request):
    shelter_id, status, match = _int(request.GET.get("shelter")), request.GET.get("status"), request.GET.get("match")
    q = (request.GET.get("q") or "").strip()[:50]
    rows, total = queries.evacuee_list(
        for_staff(request.user), shelter_id=shelter_id, status=status if status in EvacueeStatus.values else None,
        match_state=match if match in MatchState.values else None, q=q or None)
    record_event(request.municipality, "disaster.evacuee_list", actor=request.user, request=request,
                 object_type="evacuee", detail={"shelter": shelter_id, "status": status, "q": q, "shown": len(rows)})
    return render(request, "disaster/evacuees.html", {
        "occupancy": queries.occupancy(), "outside": queries.outside_counts(), "rows": rows, "total": total,
        "shelters": queries.shelters(), "statuses": EvacueeStatus.choices, "f": request.GET,
        "current": queries.current_activation()})


@staff_required(Perm.REGISTER_EVACUEES)
def evacuee_detail(request, evacuee_id: int):
    e = queries.evacuee(evacuee_id)
    if e is None:
        raise Http404
    [v] = queries.evacuee_views([e], for_staff(request.user))
    hide = v["withheld"]
    others = queries.merged_registrations(e)
    merged = [{"v": ov, "movements": [] if ov["withheld"] else queries.movements(ov["id"])}
              for ov in queries.evacuee_views(others, for_staff(request.user))]
    record_event(request.municipality, "disaster.evacuee_view", actor=request.user, request=request,
                 object_type="evacuee", object_id=str(e.pk))
    return render(request, "disaster/evacuee_detail.html", {
        "e": v, "movements": [] if hide else queries.movements(e.pk), "notes": queries.notes_for(evacuee_id=e.pk),
        "merged": merged, "primary": next((m["v"] for m in merged if m["v"]["id"] == e.merged_into_id), None),
        "move_form": MoveForm(), "consent_form": ConsentForm(initial={
            "family": e.consent_family, "acquaintance": e.consent_acquaintance, "public": e.consent_public}),
        "note_form": SafetyNoteForm(), "open_shelters": queries.shelters(open_only=True),
        "can_note": has_perm(request.user, Perm.CONFIRM_SAFETY)})


@staff_required(Perm.REGISTER_EVACUEES)
@_own_evacuee
@require_POST
def evacuee_move(request, evacuee_id: int):
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "入力を確認してください。")
        return redirect("disaster_evacuee", evacuee_id)
    d = form.cleaned_data
    try:
        actions.move_evacuee(request.user, evacuee_id, d["kind"], shelter_id=d["shelter"],
                             place_kind=d["place_kind"] or None, presence=d["presence"] or None,
                             place_note=d["place_note"], terminal=terminal_of(request))
        messages.success(request, "入退所を記録しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_evacuee", evacuee_id)


@staff_required(Perm.REGISTER_EVACUEES)
@_own_evacuee
@require_POST
def evacuee_consent(request, evacuee_id: int):
    form = ConsentForm(request.POST)
    form.is_valid()
    d = form.cleaned_data
    try:
        actions.set_consent(request.user, evacuee_id, family=d.get("family"), acquaintance=d.get("acquaintance"),
                            public=d.get("public"), terminal=terminal_of(request))
        messages.success(request, "開示の同意を記録しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_evacuee", evacuee_id)


def _quick_rows(post):
    shared = {f: (post.get(f) or "").strip() for f in SHARED_FIELDS}
    rows, lines = [], []
    for i in range(QUICK_LINES):
        line = {f: (post.get(f"l{i}-{f}") or "").strip() for f in QUICK_LINE_FIELDS}
        lines.append(line)
        if not line["full_name"] and not line["kana"] and not line["birth_text"]:
            continue
        rows.append({**shared, **line, "group_key": post.get("group_key") or ""})
    return shared, lines, rows


@staff_required(Perm.REGISTER_EVACUEES)
@require_http_methods(["GET", "POST"])
def quick_entry(request):
    """The reception desk: one household per submission, one person per line, keyboard only."""
    errors, status = [], 200
    shared = {"place": request.GET.get("place", ""), "presence": "both"}
    lines = [dict.fromkeys(QUICK_LINE_FIELDS, "") for _ in range(QUICK_LINES)]
    if request.method == "POST":
        shared, lines, rows = _quick_rows(request.POST)
        if rows:
            group = f"Q{timezone.now():%d%H%M%S}{request.user.pk}"
            for r in rows:
                r["group_key"] = group if len(rows) > 1 else ""
                for f in ("consent_family", "consent_acquaintance", "consent_public"):
                    r[f] = "1" if r[f] else ""
            try:
                created, counts = actions.register_evacuees(request.user, rows, source="desk",
                                                            terminal=terminal_of(request))
                messages.success(request, f"{counts['registered']}人を登録しました（自動確定 {counts['auto_linked']}、"
                                          f"要確認 {counts['review']}、該当なし {counts['none']}）。")
                return redirect(f"{request.path}?{urlencode({'place': shared['place']})}")
            except ValidationError as e:
                errors, status = e.messages, 400
        else:
            errors, status = ["1行目に氏名を入力してください。"], 400
    return render(request, "disaster/quick_entry.html", {
        "shared": shared, "lines": lines, "errors": errors, "open_shelters": queries.shelters(open_only=True),
        "presences": Presence.choices, "current": queries.current_activation()}, status=status)


@staff_required(Perm.REGISTER_EVACUEES)
@require_http_methods(["GET", "POST"])
def csv_import(request):
    form = CsvImportForm(request.POST or None, request.FILES or None)
    errors, status = [], 200
    if request.method == "POST" and form.is_valid():
        try:
            _, counts = actions.import_evacuees_csv(request.user, form.cleaned_data["file"].read(),
                                                    terminal=terminal_of(request))
            messages.success(request, f"{counts['registered']}人を登録しました（自動確定 {counts['auto_linked']}、"
                                      f"要確認 {counts['review']}、該当なし {counts['none']}）。要確認は照合の確認へ。")
            return redirect("disaster_review")
        except ValidationError as e:
            errors, status = e.messages, 400
    elif request.method == "POST":
        status = 400
    return render(request, "disaster/csv_import.html", {"form": form, "errors": errors, "fields": FIELDS},
                  status=status)


@staff_required(Perm.REGISTER_EVACUEES)
def review(request):
    reader = for_staff(request.user)
    queue = list(queries.review_queue()[:50])
    views = queries.evacuee_views(queue, reader)
    items = [{"e": v, "candidates": queries.candidate_views(e, reader)} for e, v in zip(queue, views)]
    record_event(request.municipality, "disaster.review_view", actor=request.user, request=request,
                 object_type="evacuee", detail={"shown": len(items)})
    return render(request, "disaster/review.html", {"items": items, "total": queries.review_queue().count()})


@staff_required(Perm.REGISTER_EVACUEES)
@_own_evacuee
@require_POST
def review_decide(request, evacuee_id: int):
    decision = request.POST.get("decision")
    if decision not in ("link", "none"):  # 後で確認する — also what a stray Enter on a candidate sends
        return redirect("disaster_review")
    try:
        if decision == "none":
            actions.mark_non_resident(request.user, evacuee_id, terminal=terminal_of(request))
            messages.success(request, "住民以外（該当なし）として確定しました。")
        else:
            actions.confirm_match(request.user, evacuee_id, _int(request.POST.get("person")) or 0,
                                  terminal=terminal_of(request))
            messages.success(request, "住民と確認しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_review")


# ---------------------------------------------------------------- 安否確認

@staff_required(Perm.CONFIRM_SAFETY)
def safety_board(request):
    rows, totals = queries.safety_board(for_staff(request.user))
    record_event(request.municipality, "disaster.safety_board", actor=request.user, request=request)
    return render(request, "disaster/safety_board.html", {
        "rows": rows, "totals": totals, "labels": queries.STATE_LABELS, "notes": queries.recent_notes(15)})


@staff_required(Perm.CONFIRM_SAFETY)
def unconfirmed(request):
    reader = for_staff(request.user)
    district = (request.GET.get("district") or "").strip()[:100]
    age_min, age_max = _int(request.GET.get("age_min")), _int(request.GET.get("age_max"))
    vuln = request.GET.get("vulnerable") == "1"
    rows, total = queries.unconfirmed(reader, district=district, age_min=age_min, age_max=age_max,
                                      vulnerable_only=vuln)
    record_event(request.municipality, "disaster.unconfirmed_list", actor=request.user, request=request,
                 detail={"district": district, "age_min": age_min, "age_max": age_max, "vulnerable": vuln,
                         "total": total})
    return render(request, "disaster/unconfirmed.html", {
        "rows": rows, "total": total, "districts": queries.districts(reader), "f": request.GET,
        "note_form": SafetyNoteForm(), "statuses": PfifStatus.choices})


@staff_required(Perm.CONFIRM_SAFETY)
@require_POST
def safety_note(request):
    form = SafetyNoteForm(request.POST)
    back = request.POST.get("next") or "disaster_safety"
    if not back.startswith("/disaster/"):
        back = "disaster_safety"
    if form.is_valid():
        d = form.cleaned_data
        try:
            actions.add_safety_note(request.user, person_id=_int(request.POST.get("person")),
                                    evacuee_id=_int(request.POST.get("evacuee")), status=d["status"],
                                    text=d["text"], author_name=d["author_name"],
                                    author_made_contact=d["author_made_contact"],
                                    last_known_location=d["last_known_location"], terminal=terminal_of(request))
            messages.success(request, "安否情報を記録しました。")
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
    else:
        messages.error(request, "内容を入力してください。")
    return redirect(back)


# ---------------------------------------------------------------- 広域避難

@staff_required(Perm.DISASTER_RESPONSE)
@require_http_methods(["GET", "POST"])
def grants(request):
    form = GrantForm(request.POST or None, initial={
        "expires_at": (timezone.localtime() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                g = actions.grant_lookup(request.user, d["host"], expires_at=d["expires_at"], reason=d["reason"],
                                         terminal=terminal_of(request))
                messages.success(request, f"{g.host} に照会を許可しました（{timezone.localtime(g.expires_at):%Y-%m-%d %H:%M} まで）。")
                return redirect("disaster_grants")
            except ValidationError as e:
                for field, errs in e.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
        status = 400
    return render(request, "disaster/grants.html", {
        "form": form, "given": queries.grants_given(), "received": crossarea.grants_received(),
        "now": timezone.now()}, status=status)


@staff_required(Perm.DISASTER_RESPONSE)
@_grant_given
@require_POST
def grant_revoke(request, grant_id: int):
    try:
        actions.revoke_grant(request.user, grant_id, terminal=terminal_of(request))
        messages.success(request, "照会の許可を取り消しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_grants")


@staff_required(Perm.DISASTER_RESPONSE)
@_grant_received
@require_POST
def grant_lookup(request, grant_id: int):
    """The host matches its evacuees not (yet) linked to its own residents against the origin's register."""
    evs = queries.lookup_rows(500)
    rows = [{"name": e.full_name, "kana": e.kana, "birth": e.birth_text, "sex": e.sex, "address": e.address,
             "evacuee_id": e.pk} for e in evs]
    try:
        results = crossarea.lookup(request.user, grant_id, rows, terminal=terminal_of(request))
    except crossarea.GrantRefused as e:
        messages.error(request, e.message)
        return redirect("disaster_grants")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
        return redirect("disaster_grants")
    names = {e.pk: e.full_name for e in evs}
    for r in results:
        r["evacuee_name"] = names.get(r["evacuee_id"], "")
    return render(request, "disaster/grant_lookup.html", {"results": results})


# ---------------------------------------------------------------- PFIF

def _parse_min_entry_date(s):
    if not s:
        return None
    v = pfif.parse_datetime(s)
    if v is None:
        raise ValueError(s)
    return v


@staff_required(Perm.CONFIRM_SAFETY)
def pfif_export(request):
    """PFIF 1.4 download; `?min_entry_date=YYYY-MM-DDTHH:MM:SSZ` for the incremental feed."""
    try:
        since = _parse_min_entry_date(request.GET.get("min_entry_date"))
    except ValueError:
        return HttpResponseBadRequest("min_entry_date は YYYY-MM-DDTHH:MM:SSZ（UTC）で指定してください / "
                                      "min_entry_date must be YYYY-MM-DDTHH:MM:SSZ", content_type="text/plain")
    m = request.municipality
    rows = queries.pfif_export_rows(m, min_entry_date=since)
    body = pfif.render(m, rows)
    record_event(m, "disaster.pfif_export", actor=request.user, request=request, object_type="pfif",
                 detail={"persons": len(rows), "notes": sum(len(r["notes"]) for r in rows),
                         "min_entry_date": request.GET.get("min_entry_date") or None})
    resp = HttpResponse(body, content_type="application/xml; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="pfif-{m.code}-{timezone.now():%Y%m%dT%H%M%SZ}.xml"'
    return resp


@staff_required(Perm.CONFIRM_SAFETY)
@require_http_methods(["GET", "POST"])
def pfif_import(request):
    form = PfifImportForm(request.POST or None, request.FILES or None)
    report, errors, status = None, [], 200
    if request.method == "POST" and form.is_valid():
        try:
            report = actions.import_pfif(request.user, form.cleaned_data["file"].read(),
                                         source_domain=form.cleaned_data["source_domain"],
                                         terminal=terminal_of(request))
        except ValidationError as e:
            errors, status = e.messages, 400
    elif request.method == "POST":
        status = 400
    return render(request, "disaster/pfif_import.html", {"form": form, "report": report, "errors": errors,
                                                          "records": queries.pfif_records()[:20]}, status=status)


# ---------------------------------------------------------------- dashboard

@staff_required(Perm.DISASTER_RESPONSE)
def dashboard(request):
    occ = queries.occupancy()
    total = queries.resident_count()
    progress = queries.confirmation_progress()
    return render(request, "disaster/dashboard.html", {
        "current": queries.current_activation(), "occupancy": occ, "outside": queries.outside_counts(),
        "occupancy_svg": mark_safe(charts.occupancy_bars(occ)),
        "progress_svg": mark_safe(charts.progress_line(progress, total)),
        "confirmed": progress[-1][1] if progress else 0, "residents": total,
        "review": queries.review_queue().count()})



@staff_required(Perm.CONFIRM_SAFETY)
@require_http_methods(["GET", "POST"])
def inquiry(request):
    """安否情報の照会への回答: what the staff member may tell an inquirer, by the evacuee's consent."""
    from jichitai.common.wareki import DateInputError, parse_date

    from .forms import InquiryForm

    form = InquiryForm(request.POST or None)
    answers, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            birth = None
            if d["birth"]:
                try:
                    birth = parse_date(d["birth"])
                except DateInputError as e:
                    form.add_error("birth", str(e))
            if form.is_valid():
                answers = queries.answer_inquiry(d["name"], d["inquirer"], birth=birth)
                record_event(request.municipality, "disaster.inquiry", actor=request.user, request=request,
                             detail={"inquirer": d["inquirer"], "inquirer_name": d["inquirer_name"],
                                     "asked_for": d["name"], "answered": len(answers)})
        if not form.is_valid():
            status = 400
    return render(request, "disaster/inquiry.html", {"form": form, "answers": answers}, status=status)


@staff_required(Perm.MANAGE_TENANTS)
@require_http_methods(["GET", "POST"])
def operator_grants(request):
    """The platform operator grants 広域避難 lookups on an origin's behalf (only during a disaster declared for the
    origin) and revokes them."""
    from .forms import OperatorGrantForm

    form = OperatorGrantForm(request.POST if request.POST.get("action") != "revoke" else None, initial={
        "expires_at": (timezone.localtime() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")})
    status = 200
    if request.method == "POST" and request.POST.get("action") == "revoke":
        try:
            actions.revoke_grant(request.user, _int(request.POST.get("grant")) or 0,
                                 origin_code=request.POST.get("origin", ""), terminal=terminal_of(request))
            messages.success(request, "照会の許可を取り消しました。")
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
        return redirect("disaster_operator_grants")
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                actions.grant_lookup_by_operator(request.user, d["origin"], d["host"], expires_at=d["expires_at"],
                                                 reason=d["reason"], terminal=terminal_of(request))
                messages.success(request, "照会を許可しました。両団体の監査ログに記録しました。")
                return redirect("disaster_operator_grants")
            except ValidationError as e:
                for field, errs in e.message_dict.items():
                    form.add_error(field if field in form.fields else None, errs)
        status = 400
    return render(request, "disaster/operator_grants.html", {"form": form, "grants": crossarea.all_grants(),
                                                             "now": timezone.now()}, status=status)


# ---------------------------------------------------------------- 重複候補 (one person registered twice)

@staff_required(Perm.REGISTER_EVACUEES)
def duplicates(request, activation_id: int | None = None):
    """重複候補 of a disaster (the current one by default): groups of registrations that may be one person, to
    merge (同一人物として統合) or to set apart (別人)."""
    act = (queries.activations().filter(pk=activation_id).first() if activation_id is not None
           else queries.current_activation())
    if activation_id is not None and act is None:
        raise Http404
    pending, merged = queries.duplicate_groups(act.pk, for_staff(request.user)) if act else ([], [])
    record_event(request.municipality, "disaster.duplicates_view", actor=request.user, request=request,
                 object_type="evacuee", detail={"activation": getattr(act, "pk", None), "groups": len(pending)})
    return render(request, "disaster/duplicates.html", {"act": act, "pending": pending, "merged": merged,
                                                        "activations": queries.activations()[:10]})


def _back(request, default="disaster_duplicates"):
    nxt = request.POST.get("next") or ""
    return redirect(nxt if nxt.startswith("/disaster/") else default)


@staff_required(Perm.REGISTER_EVACUEES)
@require_POST
def duplicates_merge(request):
    ids = [i for i in (_int(v) for v in request.POST.getlist("ids")) if i is not None]
    try:
        p = actions.merge_evacuees(request.user, ids, terminal=terminal_of(request))
        messages.success(request, f"{len(ids)}件の登録を同一人物（{p.full_name}、登録 {p.pk}）として統合しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return _back(request)


@staff_required(Perm.REGISTER_EVACUEES)
@_own_evacuee
@require_POST
def evacuee_unmerge(request, evacuee_id: int):
    try:
        actions.unmerge_evacuee(request.user, evacuee_id, terminal=terminal_of(request))
        messages.success(request, "統合を取り消しました（重複候補に戻ります）。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return redirect("disaster_evacuee", evacuee_id)


@staff_required(Perm.REGISTER_EVACUEES)
@_own_evacuee
@require_POST
def evacuee_not_duplicate(request, evacuee_id: int):
    try:
        actions.dismiss_duplicate(request.user, evacuee_id, terminal=terminal_of(request))
        messages.success(request, "別人として重複候補から外しました。")
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    return _back(request)

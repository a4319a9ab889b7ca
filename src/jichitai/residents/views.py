"""Thin views: parse input, check the role, call queries or actions, render."""
from dataclasses import dataclass
from typing import Callable

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from jichitai.privacy import policy
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from . import actions, config, forms, name_rules, queries
from .actions import CONFLICT_MESSAGE, Actor, ConflictError, RuleError
from .models import ChangeKind, Intake, Status


@staff_required(Perm.VIEW_RESIDENTS)
def search(request):
    form = forms.SearchForm(request.GET or None)
    page = None
    errors = {}
    if request.GET and form.is_valid():
        try:
            page = queries.search_persons(request, form.criteria(), request.GET.get("page") or 1)
        except queries.SearchError as e:
            errors = e.errors
            for field, msg in e.errors.items():
                form.add_error(None if field == "__all__" or field not in form.fields else field, msg)
        except ValueError:
            form.add_error(None, "ページ番号が正しくありません")
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(request, "residents/search.html",
                  {"form": form, "page": page, "errors": errors, "qs": query_string.urlencode()})


@staff_required(Perm.VIEW_RESIDENTS)
def person_detail(request, person_id):
    person, view = queries.view_person(request, person_id)
    history = queries.person_history(person, request.user, request.municipality)
    household = person.household
    members = queries.household_members(household, request.user, request.municipality)
    kinds = [] if person.status == Status.REMOVED else PERSON_KINDS_ACTIVE
    if person.status == Status.REMOVED and person.move_out_state == "予定":
        kinds = ["move_out_confirmed"]
    return render(request, "residents/person_detail.html", {
        "p": view, "history": list(reversed(history)), "household": household, "members": members,
        "change_links": [(k, CHANGES[k].label) for k in kinds],
    })


@staff_required(Perm.VIEW_RESIDENTS)
def household_detail(request, household_id):
    household = queries.get_household(household_id)
    members = queries.household_members(household, request.user, request.municipality, include_removed=True)
    from jichitai.audit.actions import record_event

    record_event(request.municipality, "household.view", actor=request.user, request=request,
                 object_type="household", object_id=household.pk, detail={"household_no": household.household_no})
    kinds = HOUSEHOLD_KINDS if household.is_active else []
    return render(request, "residents/household_detail.html", {
        "household": household, "members": members, "change_links": [(k, CHANGES[k].label) for k in kinds],
    })


# ---------------------------------------------------------------- changes (異動), with a confirmation step

@dataclass
class ChangeSpec:
    label: str
    scope: str  # "person", "household" or "new"
    form: type
    run: Callable  # (actor, target, form, check_only=False) -> person or household (None when check_only)


def _new_head(form):
    return form.member("new_head") if "new_head" in form.fields else None


def _v(f):
    return f.cleaned_data["expected_version"]


CHANGES = {
    "move_within": ChangeSpec("転居", "person", forms.MoveWithinForm, lambda a, p, f, **kw: actions.register_move_within(
        a, p, expected_version=_v(f), address=f.cleaned_data["address"],
        address_katagaki=f.cleaned_data["address_katagaki"], postal_code=f.cleaned_data["postal_code"],
        change_date=f.cleaned_data["change_date"], notification_date=f.cleaned_data["notification_date"],
        note=f.cleaned_data["note"], **f.move_options(), **kw)),
    "move_out_planned": ChangeSpec("転出（予定）", "person", forms.MoveOutForm,
                                   lambda a, p, f, **kw: actions.register_move_out(
        a, p, expected_version=_v(f), destination=f.cleaned_data["destination"],
        planned_date=f.cleaned_data["planned_date"], notification_date=f.cleaned_data["notification_date"],
        new_head=_new_head(f), companions=f.companions() if "companions" in f.fields else (),
        note=f.cleaned_data["note"], **kw)),
    "move_out_confirmed": ChangeSpec("転出（確定）", "person", forms.MoveOutConfirmForm,
                                     lambda a, p, f, **kw: actions.confirm_move_out(
        a, p, expected_version=_v(f), destination=f.cleaned_data["destination"],
        notice_date=f.cleaned_data["notice_date"], note=f.cleaned_data["note"], **kw)),
    "death": ChangeSpec("死亡", "person", forms.DeathForm, lambda a, p, f, **kw: actions.register_death(
        a, p, expected_version=_v(f), death_date=f.cleaned_data["death_date"],
        notification_date=f.cleaned_data["notification_date"], new_head=_new_head(f), note=f.cleaned_data["note"],
        **kw)),
    "ex_officio_correction": ChangeSpec("職権修正", "person", forms.CorrectionForm,
                                        lambda a, p, f, **kw: actions.correct_person(
        a, p, expected_version=_v(f), changes=f.changes(),
        change_date=f.cleaned_data["change_date"], note=f.cleaned_data["note"], **kw)),
    "ex_officio_removal": ChangeSpec("職権消除", "person", forms.RemovalForm,
                                     lambda a, p, f, **kw: actions.remove_ex_officio(
        a, p, expected_version=_v(f), change_date=f.cleaned_data["change_date"],
        note=f.cleaned_data["note"], new_head=_new_head(f), **kw)),
    "birth": ChangeSpec("出生", "household", forms.BirthForm, lambda a, h, f, **kw: actions.register_birth(
        a, household=h, values={**f.person_values(), "relationship": f.cleaned_data["relationship"]},
        notification_date=f.cleaned_data["notification_date"], note=f.cleaned_data["note"],
        expected_version=_v(f), **kw)),
    "head_change": ChangeSpec("世帯主変更", "household", forms.HeadChangeForm,
                              lambda a, h, f, **kw: actions.change_head(
        a, h, new_head=f.member("new_head"), former_head_relationship=f.cleaned_data["former_head_relationship"],
        change_date=f.cleaned_data["change_date"], notification_date=f.cleaned_data["notification_date"],
        relationships=f.relationships(), note=f.cleaned_data["note"], expected_version=_v(f), **kw)),
    "household_split": ChangeSpec("世帯分離", "household", forms.SplitForm,
                                  lambda a, h, f, **kw: actions.split_household(
        a, h, members=f.selected(), new_head=f.member("new_head"),
        relationships={m.pk: f.cleaned_data["relationship"] for m in f.selected()},
        remaining_head=f.member("remaining_head"), change_date=f.cleaned_data["change_date"],
        notification_date=f.cleaned_data["notification_date"], note=f.cleaned_data["note"],
        expected_version=_v(f), **kw)),
    "household_merge": ChangeSpec("世帯合併", "household", forms.MergeForm,
                                  lambda a, h, f, **kw: actions.merge_household(
        a, h, target=f.cleaned_data["target_household_no"],
        relationships={m.pk: f.cleaned_data["relationship"] for m in queries.active_members(h)},
        change_date=f.cleaned_data["change_date"], notification_date=f.cleaned_data["notification_date"],
        note=f.cleaned_data["note"], expected_version=_v(f), **kw)),
    "move_in": ChangeSpec("転入", "new", forms.MoveInForm, lambda a, _, f, **kw: actions.register_move_in(
        a, values=f.person_values(), household=f.cleaned_data["household_no"],
        change_date=f.cleaned_data["change_date"], notification_date=f.cleaned_data["notification_date"],
        note=f.cleaned_data["note"], expected_version=_v(f), **kw)),
    "ex_officio_entry": ChangeSpec("職権記載", "new", forms.ExOfficioEntryForm,
                                   lambda a, _, f, **kw: actions.register_move_in(
        a, values=f.person_values(), household=f.cleaned_data["household_no"],
        change_date=f.cleaned_data["change_date"], notification_date=f.cleaned_data["notification_date"],
        kind=ChangeKind.EX_OFFICIO_ENTRY, note=f.cleaned_data["note"], expected_version=_v(f), **kw)),
}
PERSON_KINDS_ACTIVE = ["move_within", "move_out_planned", "death", "ex_officio_correction", "ex_officio_removal"]
HOUSEHOLD_KINDS = ["birth", "head_change", "household_split", "household_merge"]
NEW_KINDS = ["move_in", "ex_officio_entry"]


def _confirm_rows(form):
    rows = []
    for name, field in form.fields.items():
        if name == "expected_version":
            continue
        value = form.cleaned_data.get(name)
        if hasattr(field, "choices") and not isinstance(field, forms.WarekiDateField) and value not in (None, ""):
            labels = dict((str(k), v) for k, v in field.choices)
            value = "、".join(labels.get(str(v), v) for v in value) if isinstance(value, list) else labels.get(
                str(value), value)
        if isinstance(value, bool):
            value = "はい" if value else "いいえ"
        if hasattr(value, "household_no"):
            value = f"世帯番号 {value.household_no}"
        if name == "individual_number" and value:
            value = "（入力あり・検査用数字確認済み）"
        elif name == "individual_number" and not getattr(form, "number_visible", True):
            value = "（変更しません）"
        if hasattr(value, "isoformat"):
            from jichitai.common.wareki import format_wareki

            value = f"{format_wareki(value)}（{value.isoformat()}）"
        rows.append((field.label, value if value not in (None, "") else "—"))
    return rows


def _refused(request, ctx, spec, form, e, *, person, household):
    """The rules (run by the confirmation step or by 登録する) refused: back to the form with the messages and
    everything the clerk typed; on a conflict with the latest content and its version."""
    if isinstance(e, ConflictError):
        if person is None:  # a household change: no person to reload, keep the input as typed
            form.add_error(None, e.errors["__all__"][0])
            ctx.update(form=form, conflict=True)
            return render(request, "residents/change_form.html", ctx, status=409)
        fresh = queries.get_person_for_update(person.pk)
        data = request.POST.copy()
        data["expected_version"] = fresh.version
        form = spec.form(data, person=fresh, household=household, reader=policy.for_staff(request.user))
        form.is_valid()
        form.add_error(None, e.errors["__all__"][0])
        ctx.update(form=form, conflict=True, p=queries.present(fresh, request.user, request.municipality))
        return render(request, "residents/change_form.html", ctx, status=409)
    if isinstance(e, RuleError):
        for field, msgs in e.errors.items():
            for msg in msgs:
                form.add_error(field if field in form.fields and field != "expected_version" else None, msg)
    else:
        form.add_error(None, e)
    forms.focus_first_field(form)  # the focus on the first field the rules refused
    return render(request, "residents/change_form.html", ctx, status=422)


def _stale(request, person, household):
    posted = (request.POST.get("expected_version") or "").strip()
    if not posted.isdigit():
        return False  # missing or malformed: the form refuses it
    if person is not None:
        return int(posted) != person.version
    if household is not None:
        return int(posted) != actions.household_version(household)
    return False


def _change(request, kind, *, person=None, household=None):
    """Form → confirmation → 登録する. The confirmation step runs the action with check_only=True, i.e. exactly the
    rules 登録する runs (which runs them again inside its transaction), so what the confirmation page shows as
    fine is what will be registered."""
    spec = CHANGES.get(kind)
    if spec is None:
        raise Http404("unknown change kind")
    target = person if spec.scope == "person" else household
    form = spec.form(request.POST or None, person=person, household=household,
                     reader=policy.for_staff(request.user))
    step = request.POST.get("step", "edit")
    view = queries.present(person, request.user, request.municipality) if person is not None else None
    ctx = {"spec": spec, "kind": kind, "form": form, "person": person, "p": view, "household": household}
    if request.method == "POST" and step != "edit" and _stale(request, person, household):
        # someone changed the record since the form was opened: say so first (the form's options, e.g. the
        # household members offered, may no longer fit what was typed)
        return _refused(request, ctx, spec, form, ConflictError(CONFLICT_MESSAGE), person=person, household=household)
    if request.method == "POST" and step != "edit" and form.is_valid():
        joined = form.cleaned_data.get("household_no") if spec.scope == "new" else None
        try:
            if step == "commit":
                if spec.scope == "new" and joined is not None and form.cleaned_data["expected_version"] is None:
                    raise RuleError({"expected_version": actions.VERSION_MISSING})
                result = spec.run(Actor.from_request(request, form.intake_input()), target, form)
            else:
                if spec.scope == "new":
                    # the household joined is named on this page: its version goes on the confirmation page
                    data = request.POST.copy()
                    data["expected_version"] = actions.household_version(joined) if joined is not None else 0
                    form = spec.form(data, person=person, household=household, reader=policy.for_staff(request.user))
                    form.is_valid()
                    ctx["form"] = form
                spec.run(Actor.from_request(request, form.intake_input()), target, form, check_only=True)
        except (RuleError, forms.forms.ValidationError) as e:
            return _refused(request, ctx, spec, form, e, person=person, household=household)
        if step == "commit":
            if isinstance(result, Intake):  # held for 審査・決裁: the register is untouched
                messages.success(request, f"{spec.label}を受け付けました（受付番号 {result.receipt_label}）。"
                                          "決裁されるまで住民記録には反映されません。")
                return redirect("intake_detail", intake_id=result.pk)
            messages.success(request, f"{spec.label}を登録しました。")
            if hasattr(result, "members"):  # a household
                return redirect("household_detail", household_id=result.pk)
            return redirect("person_detail", person_id=result.pk)
        ctx["confirm_rows"] = _confirm_rows(form)
        ctx["warnings"] = name_rules.reading_warnings(form.cleaned_data)  # warnings, never refusals
        ctx["approval_required"] = config.approval_required(request.municipality)
        return render(request, "residents/change_confirm.html", ctx)
    status = 422 if request.method == "POST" and step != "edit" else 200
    return render(request, "residents/change_form.html", ctx, status=status)


@staff_required(Perm.CHANGE_RESIDENTS)
def person_change(request, person_id, kind):
    person = queries.get_person_for_update(person_id)
    if kind not in CHANGES or CHANGES[kind].scope != "person":
        raise Http404("unknown change kind")
    return _change(request, kind, person=person)


@staff_required(Perm.CHANGE_RESIDENTS)
def household_change(request, household_id, kind):
    household = queries.get_household(household_id)
    if kind not in CHANGES or CHANGES[kind].scope != "household":
        raise Http404("unknown change kind")
    return _change(request, kind, household=household)


@staff_required(Perm.CHANGE_RESIDENTS)
def new_person(request, kind):
    if kind not in CHANGES or CHANGES[kind].scope != "new":
        raise Http404("unknown change kind")
    return _change(request, kind)


def change_url(kind, person=None, household=None):
    if person is not None:
        return reverse("person_change", args=[person.pk, kind])
    if household is not None:
        return reverse("household_change", args=[household.pk, kind])
    return reverse("new_person", args=[kind])

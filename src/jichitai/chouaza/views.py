"""Thin views of the 町字 master (admins): list, add, edit, delete, and the CSV import with its confirmation."""
import base64
import binascii

from django.contrib import messages
from django.shortcuts import redirect, render

from jichitai.audit.actions import terminal_of
from jichitai.residents.actions import RuleError
from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required
from jichitai.web.forms import apply_errors

from . import actions, forms, queries


@staff_required(Perm.MANAGE_CHOUAZA)
def chouaza_list(request):
    return render(request, "chouaza/list.html", {"rows": queries.chouaza_list(), "upload": forms.UploadForm()})


def _initial(c):
    return {"code": c.code, "name": c.name, "kana": c.kana, "chome_from": c.chome_from or "",
            "chome_to": c.chome_to or ""}


@staff_required(Perm.MANAGE_CHOUAZA)
def chouaza_edit(request, chouaza_id=None):
    c = queries.get_chouaza(chouaza_id) if chouaza_id is not None else None
    form = forms.ChouazaForm(request.POST or None, initial=_initial(c) if c else None)
    if request.method == "POST":
        if "delete" in request.POST and c is not None:
            actions.delete_chouaza(request.user, c, terminal=terminal_of(request))
            messages.success(request, f"町字「{c.name}」を削除しました。登録済みの住所はそのまま残ります。")
            return redirect("chouaza_list")
        if form.is_valid():
            try:
                saved = actions.save_chouaza(request.user, form.cleaned_data, chouaza=c,
                                             terminal=terminal_of(request))
            except RuleError as e:
                apply_errors(form, e)
            else:
                messages.success(request, f"町字「{saved.name}」を登録しました。")
                return redirect("chouaza_list")
    return render(request, "chouaza/edit.html", {"form": form, "c": c},
                  status=400 if request.method == "POST" else 200)


@staff_required(Perm.MANAGE_CHOUAZA)
def chouaza_import(request):
    """Upload → confirmation (what will be added, changed, removed) → 取り込む. The file travels in the
    confirmation page and is parsed and checked again when committed."""
    if request.method != "POST":
        return redirect("chouaza_list")
    step = request.POST.get("step", "check")
    upload = forms.UploadForm(request.POST, request.FILES)
    data = None
    if step == "commit":
        try:
            data = base64.b64decode(request.POST.get("payload", ""), validate=True)
        except (binascii.Error, ValueError):
            upload.add_error(None, "取り込む内容が読めません。もう一度ファイルを選んでください")
    elif upload.is_valid():
        data = upload.cleaned_data["file"].read(actions.MAX_BYTES + 1)
    if data is None:
        return render(request, "chouaza/list.html", {"rows": queries.chouaza_list(), "upload": upload}, status=400)
    try:
        plan = actions.import_csv(request.user, data, terminal=terminal_of(request), check_only=step != "commit")
    except actions.ImportRefused as e:
        return render(request, "chouaza/list.html", {"rows": queries.chouaza_list(), "upload": upload,
                                                     "refused": e.lines}, status=422)
    except RuleError as e:
        upload.add_error(None, str(e))
        return render(request, "chouaza/list.html", {"rows": queries.chouaza_list(), "upload": upload}, status=403)
    if step == "commit":
        messages.success(request, f"町字マスタを取り込みました（追加 {len(plan.added)}件・変更 {len(plan.changed)}件・"
                                  f"削除 {len(plan.removed)}件）。")
        return redirect("chouaza_list")
    return render(request, "chouaza/import_confirm.html",
                  {"plan": plan, "payload": base64.b64encode(data).decode()})

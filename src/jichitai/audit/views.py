import datetime as dt

from django import forms
from django.shortcuts import get_object_or_404, render

from jichitai.tenancy.roles import Perm
from jichitai.web.decorators import staff_required

from .actions import record_event
from .queries import person_ids_for, person_labels
from .models import AuditEvent
from .verify import verify_chain

ACTION_LABELS = {
    "resident.view": "住民の照会", "resident.search": "住民の検索", "household.view": "世帯の照会",
    "auth.login": "ログイン", "auth.logout": "ログアウト", "auth.failed": "ログイン失敗",
    "auth.locked_attempt": "ロック中のログイン試行", "audit.view": "監査ログの閲覧",
    "certificate.issue": "証明書の発行", "certificate.refuse": "証明書の交付拒否", "certificate.void": "証明書の取消",
    "certificate.reprint": "証明書の再発行", "certificate.view": "交付簿の照会", "certificate.log_view": "交付簿の閲覧",
    "certificate.verify": "証明書の照合（公開ページ）",
    "certificate_setting.set": "証明書設定の変更", "certificate_setting.clear": "証明書設定の解除",
    "privacy.household_rule": "個人情報保護の設定の変更（同一世帯員の保護）",
    "interchange.export": "標準レイアウトでの出力", "interchange.import": "標準レイアウトの取込",
    "audit.terminal.register": "端末の登録", "audit.terminal.disable": "端末の無効化",
    "audit.terminal.enable": "端末の有効化", "audit.segment.open": "オフライン区間の開始",
    "audit.segment.merge": "オフライン区間の取り込み",
    "disaster.match": "避難者名簿と住民記録の照合（一括）", "intake.view": "受付・決裁の照会",
    "resident.intake.pending": "異動の受付（決裁待ち）", "resident.intake.returned": "異動の差し戻し",
    "resident.settings.approval_required": "受付・決裁の設定の変更",
    "gaiji.settings.two_person_review": "外字の二者審査の設定の変更",
    "advisory.broadcast": "注意喚起・早期警戒情報の発信", "advisory.acknowledged": "注意喚起の受領確認",
    "contract_exit.started": "契約終了の手続き開始", "contract_exit.exported": "契約終了: 全データの出力",
    "contract_exit.downloaded": "契約終了: 出力ファイルの受け取り", "contract_exit.confirmed": "契約終了: 受領確認",
    "contract_exit.deleted": "契約終了: データ削除と削除証明書",
    "incident.reported": "インシデントの報告", "incident.opened": "障害記録の起票", "incident.resolved": "障害の解決",
    "requirement.submitted": "要求事項の登録", "requirement.imported": "要求事項の取込",
    "requirement.classified": "要求事項の分類", "cost_item.added": "費用項目の追加", "cost_item.removed": "費用項目の削除",
    "licence.added": "ライセンスの登録", "licence.removed": "ライセンスの削除", "dependency_audit.run": "依存関係の脆弱性監査",
    "evidence.downloaded": "セキュリティ評価資料のダウンロード", "continuity.backup": "バックアップの取得",
    "continuity.verify": "バックアップの検証", "continuity.restore": "バックアップからの復元",
    "continuity.prune": "古いバックアップの削除", "continuity.failover_drill": "待機系への切替訓練",
    "continuity.drill_write": "切替訓練の書き込み（計測用）",
    "auth.idle_timeout": "無操作による自動ログアウト",
    "api.auth.revoked_key": "失効したAPIキーでの接続", "api.changes.denied": "異動情報APIの拒否",
    "api.changes.read": "異動情報APIの読出し", "api.client.create": "API利用システムの登録",
    "api.client.revoke": "API利用システムの失効",
    "gaiji.registered": "外字の登録", "gaiji.auto_approved": "外字の自動承認（コード表一致）",
    "gaiji.conflict": "外字の要確認（コードの不一致）", "gaiji.approved": "外字の承認",
    "gaiji.unmappable": "外字の対応なし判定", "gaiji.reopened": "外字の再審査",
    "gaiji.table_imported": "外字対応表の取込", "gaiji.registered_from_migration": "移行による外字の登録",
    "migration.legacy_import": "旧システムからのデータ移行", "platform.tenant_created": "団体の登録（運用者）",
    "tenant.purged": "団体データの削除（契約終了・デモの初期化）", "demo.seeded": "デモデータの作成",
    "chouaza.import": "町字マスタの取込", "chouaza.save": "町字の登録・修正", "chouaza.delete": "町字の削除",
    "list.view": "帳票の表示", "list.export": "帳票の出力（CSV・PDF）",
}
from jichitai.tenancy.actions import AUDIT_LABELS as _STAFF_LABELS  # noqa: E402  (staff identity events)

ACTION_LABELS.update(_STAFF_LABELS)
from jichitai.disaster.actions import AUDIT_LABELS as _DISASTER_LABELS  # noqa: E402

ACTION_LABELS.update(_DISASTER_LABELS)
from jichitai.continuity.bcp_actions import AUDIT_LABELS as _BCP_LABELS  # noqa: E402

ACTION_LABELS.update(_BCP_LABELS)
from jichitai.continuity.offline import AUDIT_LABELS as _OFFLINE_LABELS  # noqa: E402

ACTION_LABELS.update(_OFFLINE_LABELS)


def all_action_labels() -> dict:
    """Every event code with its Japanese label: the table above and one 異動 code per 異動事由."""
    from jichitai.residents.models import ChangeKind

    return {**ACTION_LABELS, **{f"resident.change.{k.value}": f"異動: {k.label}" for k in ChangeKind}}


def action_label(action: str) -> str:
    if action.startswith("resident.change."):
        from jichitai.residents.models import ChangeKind

        kind = action.rsplit(".", 1)[1]
        return "異動: " + (ChangeKind(kind).label if kind in ChangeKind.values else kind)
    return ACTION_LABELS.get(action, action)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="操作", required=False)
    actor = forms.CharField(label="操作者", required=False, max_length=150)
    object_id = forms.CharField(label="対象（宛名番号またはID）", required=False, max_length=64,
                                help_text="住民は宛名番号で。複数の住民にかかわる記録も見つかります")
    date_from = forms.DateField(label="開始日", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="終了日", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "すべて"), ("resident.change", "異動（すべて）")] + [
            (code, label) for code, label in all_action_labels().items()]


PAGE = 50


def object_q(text):
    """Events about `text` — a 宛名番号 or an id. An event about several persons stores their ids joined by
    commas (residents.actions._audit), so each is matched as a whole element of that list."""
    from django.db.models import Q

    q = Q(object_id=text.strip())
    for pid in person_ids_for(text):
        q |= Q(object_type="person") & (Q(object_id=pid) | Q(object_id__startswith=f"{pid},")
                                        | Q(object_id__endswith=f",{pid}") | Q(object_id__contains=f",{pid},"))
    return q


def object_text(e, labels):
    """対象 as shown: for persons, 宛名番号 and name to those who may see them (policy), else the type and id."""
    if e.object_type == "person" and labels:
        return "、".join(labels.get(i, f"住民 {i}") for i in e.object_id.split(",") if i)
    return f"{e.object_type} {e.object_id}".strip()
MAX_PAGE = 10**7  # beyond any log (5億件); larger numbers would overflow the database's OFFSET


def _page_number(raw) -> tuple[int, str]:
    """(page, note): a page number from the query string, never an error — anything but 1–7 digits (and
    digits beyond MAX_PAGE) becomes a page with a note saying what was shown instead."""
    if raw is None or raw == "":
        return 1, ""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) > 8:
        return MAX_PAGE + 1, ""  # beyond any log (and before int(): Python refuses over 4,300 digits)
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        return 1, "ページ番号は1以上の数字で指定してください。最初のページを表示しています。"
    return min(int(raw), MAX_PAGE + 1), ""


@staff_required(Perm.VIEW_AUDIT)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    qs = AuditEvent.objects.all().order_by("-seq")
    if form.is_valid():
        d = form.cleaned_data
        if d["action"] == "resident.change":
            qs = qs.filter(action__startswith="resident.change.")
        elif d["action"]:
            qs = qs.filter(action=d["action"])
        if d["actor"]:
            qs = qs.filter(actor_username=d["actor"].strip())
        if d["object_id"]:
            qs = qs.filter(object_q(d["object_id"]))
        if d["date_from"]:
            qs = qs.filter(occurred_at__date__gte=d["date_from"])
        if d["date_to"]:
            qs = qs.filter(occurred_at__date__lte=d["date_to"])
    page, page_note = _page_number(request.GET.get("page"))
    rows = list(qs[(page - 1) * PAGE:page * PAGE + 1]) if page <= MAX_PAGE else []
    if not rows and page > 1:
        last = max(1, -(-qs.count() // PAGE))
        page_note = f"指定されたページ（{min(page, MAX_PAGE):,}{'以上' if page > MAX_PAGE else ''}）には記録がありません。" \
                    f"最後のページ（{last:,}）を表示しています。"
        page = last
        rows = list(qs[(page - 1) * PAGE:page * PAGE + 1])
    record_event(request.municipality, "audit.view", actor=request.user, request=request, object_type="audit",
                 detail={"filter": {k: str(v) for k, v in (form.cleaned_data if form.is_valid() else {}).items() if v},
                         "page": page})
    verification = verify_chain(request.municipality.code) if request.GET.get("verify") else None
    q = request.GET.copy()
    q.pop("page", None)
    shown = rows[:PAGE]
    labels = person_labels(request.user, [i for e in shown if e.object_type == "person"
                                          for i in e.object_id.split(",")])
    return render(request, "audit/log.html", {
        "form": form, "page": page,
        "rows": [(e, action_label(e.action)) for e in shown], "targets": [object_text(e, labels) for e in shown],
        "has_next": len(rows) > PAGE, "qs": q.urlencode(), "verification": verification, "page_note": page_note,
    })


@staff_required(Perm.VIEW_AUDIT)
def audit_detail(request, event_id):
    event = get_object_or_404(AuditEvent.objects.all(), pk=event_id)
    return render(request, "audit/detail.html", {"e": event, "label": action_label(event.action)})


class TerminalForm(forms.Form):
    terminal_id = forms.CharField(label="端末ID", max_length=40,
                                  error_messages={"required": "端末IDを入力してください",
                                                  "max_length": "端末IDは40文字以内で入力してください"},
                                  help_text="端末が X-Terminal-Id ヘッダーで送る値（半角英数字と「-」「_」「.」）")
    name = forms.CharField(label="端末名", max_length=100,
                           error_messages={"required": "端末名を入力してください",
                                           "max_length": "端末名は100文字以内で入力してください"}, help_text="例: 本庁 市民課 窓口2")


@staff_required(Perm.VIEW_AUDIT)
def terminals(request):
    """Register and disable the municipality's terminals (admins). Every change is audited."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from .models import Terminal
    from .terminals import TerminalError, register_terminal, set_terminal_active

    form = TerminalForm()
    if request.method == "POST":
        if "toggle" in request.POST:
            t = get_object_or_404(Terminal.objects.all(), pk=request.POST.get("toggle") if
                                  str(request.POST.get("toggle", "")).isdigit() else 0)
            active = request.POST.get("active") == "1"
            set_terminal_active(request.user, t, active, request=request)
            messages.success(request, f"端末 {t.terminal_id} を{'有効' if active else '無効'}にしました。")
            return redirect("audit_terminals")
        form = TerminalForm(request.POST)
        if form.is_valid():
            try:
                t = register_terminal(request.user, form.cleaned_data["terminal_id"], form.cleaned_data["name"],
                                      request=request)
            except TerminalError as exc:
                for field_name, msg in exc.errors.items():
                    form.add_error(None if field_name == "__all__" else field_name, msg)
            else:
                messages.success(request, f"端末 {t.terminal_id}（{t.name}）を登録しました。")
                return redirect("audit_terminals")
    rows = list(Terminal.objects.order_by("-is_active", "terminal_id"))
    return render(request, "audit/terminals.html", {"form": form, "terminals": rows},
                  status=400 if request.method == "POST" else 200)

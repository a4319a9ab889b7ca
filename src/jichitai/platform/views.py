"""The platform's index page (共同利用): links to each screen the signed-in user may use."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from jichitai.tenancy.roles import Perm, Role, has_perm

OPERATOR_LINKS = [
    ("platform_fitgap", "フィットギャップ表", "要求事項の分類（県別）と内訳"),
    ("platform_costs", "割り勘（費用の按分）", "年間費用・按分方法・団体別の明細"),
    ("platform_sla", "SLA・障害", "稼働率・応答時間・障害台帳と責任分界点"),
    ("platform_advisories", "CEPTOAR（注意喚起・インシデント報告）", "早期警戒情報・注意喚起の配信と確認状況"),
    ("platform_licences", "ライセンス", "ライセンスの基準と実際の資源"),
    ("platform_exits", "契約終了", "データの出力・受領確認・削除証明"),
]
ADMIN_LINKS = [
    ("platform_requirements", "要求事項", "業務ごとの要求事項の登録・CSV取込み"),
    ("platform_fitgap", "フィットギャップ表", "県別の分類"),
    ("platform_statement", "割り勘の明細", "この団体の負担額と単独調達の見積り"),
    ("platform_advisories", "CEPTOAR（注意喚起・インシデント報告）", "受け取った注意喚起の確認・インシデントの報告"),
    ("platform_evidence", "事業者のセキュリティ評価", "2段階認証・バックアップ・監査ログ・依存関係の監査"),
    ("platform_exits", "契約終了", "データの出力の受領確認"),
]


def _links(spec):
    out = []
    for name, label, note in spec:
        try:
            out.append((reverse(name), label, note))
        except NoReverseMatch:  # a screen not built in this version
            continue
    return out


def home(request):
    if not request.user.is_authenticated:
        raise PermissionDenied
    operator = has_perm(request.user, Perm.MANAGE_TENANTS)
    if not operator and request.user.role != Role.ADMIN:
        raise PermissionDenied
    return render(request, "platform/home.html", {"operator": operator,
                                                  "links": _links(OPERATOR_LINKS if operator else ADMIN_LINKS)})

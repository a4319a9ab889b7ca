"""Settings declared by the platform for apps whose behaviour it configures (one line each). An app may instead
declare its own in a module listed in `engine.DECLARING_MODULES` (certificates/config.py does)."""
from jichitai.tenancy.roles import Role

from .engine import NOT_INDIVIDUAL, PLATFORM_TIERS, Tier, declare

PREF = frozenset({Tier.PREFECTURE.value}) | PLATFORM_TIERS


def _role_standard(municipality=None):
    return None  # None: the role's 標準 definition (tenancy.RoleDefinition rows) applies


def _role_changed():
    from jichitai.tenancy.roles import clear_cache
    clear_cache()


# --- who approves 個別 values (itself a setting)
declare("platform.individual_approver", "choice", "operator", "個別設定の承認者", tiers=PREF,
        choices=(("operator", "プラットフォーム運用者"), ("coordinator", "県の調整担当")),
        help="個別の値は承認されるまで効力を持ちません。県版で「県の調整担当」にすると、その県の調整担当が承認します。")
declare("platform.prefecture_coordinator", "text", "", "県の調整担当（職員のユーザー名）", tiers=PREF, max_length=150,
        help="県内団体の自治体管理者のユーザー名。承認者が「県の調整担当」のときに使われます。")

def _mfa_audit(action, before, after):
    return "municipality.mfa_policy_set", "", "", {"before": before, "after": after}


def _privacy_audit(action, before, after):
    return "privacy.household_rule", "setting", "protect_household_members", {"old": before, "new": after}


# --- tenancy: two-step sign-in (moved from Municipality.mfa_required_for_all_staff)
declare("tenancy.mfa_required_for_all_staff", "bool", False, "すべての職員に2段階認証を必須とする",
        approval=False, stricter=True, manage_perm="manage_staff", area="共通", extra={"audit": _mfa_audit},
        help="管理者には常に必須です。有効にすると窓口職員・照会専用職員・災害対応職員も次回ログイン時に登録を求められます。"
             "（有効にする個別の値は承認なしで効力を持ちます。県版・標準で有効のときに無効にする個別の値は承認が必要です）")

# --- privacy: the read policy's household rule (moved from privacy.PrivacySetting)
declare("privacy.protect_household_members", "bool", False, "支援措置対象者の同一世帯員の住所も保護する",
        approval=False, stricter=True, manage_perm="manage_privacy_settings", area="住民情報", extra={"audit": _privacy_audit},
        help="有効にすると、DV等支援措置の対象者と同じ世帯の住民の住所も、権限のない職員・外部システム・出力から除かれます"
             "（標準: 無効。有効にする個別の値は承認なしで効力を持ちます。県版で有効のときに無効にする個別の値は承認が必要です）。")

# --- roles: permissions per role; 標準 = the RoleDefinition rows; 県版・個別 overrides through the engine
for _role in (Role.ADMIN, Role.CLERK, Role.VIEWER, Role.DISASTER):
    declare(f"tenancy.role_perms.{_role.value}", "permset", _role_standard, f"役割の権限（{_role.label}）",
            tiers=frozenset({Tier.PREFECTURE.value, Tier.MUNICIPALITY.value}), approval=True,
            manage_perm="manage_staff", area="共通", extra={"on_change": _role_changed},
            help="標準は役割の定義（職員管理）。県版・個別で置き換えると、その県・団体ではこの一覧がその役割の権限になります。")

# --- 割り勘: weights of 利用割 (percent, summing to 100) and the standalone-system estimate
for _name, _label, _w in (("residents", "住民数", 40), ("certificates", "証明書発行数", 30),
                          ("api_calls", "API呼出し数", 20), ("storage", "保存データ量", 10)):
    declare(f"platform.usage_weight_{_name}", "int", _w, f"利用割の重み（{_label}、%）", tiers=PLATFORM_TIERS,
            min=0, max=100, area="割り勘")
declare("platform.standalone_base_yen", "int", 38_000_000, "単独調達の見積り：固定費（円/年）", tiers=PLATFORM_TIERS,
        min=0, max=10_000_000_000, area="割り勘")
declare("platform.standalone_per_resident_yen", "int", 900, "単独調達の見積り：住民1人あたり（円/年）",
        tiers=PLATFORM_TIERS, min=0, max=1_000_000, area="割り勘")

# --- SLA targets
declare("platform.sla_availability_permille", "int", 999, "稼働率の目標（‰、999 = 99.9%）", tiers=NOT_INDIVIDUAL,
        min=900, max=1000, area="SLA")
declare("platform.sla_latency_ms", "int", 800, "応答時間の目標（95%の要求がこの時間内、ミリ秒）", tiers=NOT_INDIVIDUAL,
        min=50, max=10_000, area="SLA")



# --- the counter (#10): 審査・決裁 and the 外字 two-person review (moved here from the former
# residents.ChangeSettings and gaiji.GaijiSettings tables; platform migration 0007 copied their values)
def _approval_audit(action, before, after):
    return "resident.settings.approval_required", "municipality", "", {"old": before, "new": after}


def _gaiji_review_audit(action, before, after):
    return "gaiji.settings.two_person_review", "municipality", "", {"old": before, "new": after}


declare("counter.approval_required", "bool", False, "異動の登録に審査・決裁（別の職員の承認）を要する",
        approval=False, stricter=True, manage_perm="manage_change_settings", area="住民記録", extra={"audit": _approval_audit},
        help="有効にすると、窓口で登録した異動は決裁待ちになり、別の職員が承認するまで住民記録に反映されません（標準: 無効。"
             "有効にする個別の値は承認なしで効力を持ちます。県版で有効のときに無効にする個別の値は承認が必要です）。")
declare("gaiji.two_person_review", "bool", True, "外字の登録と承認を別の職員が行う",
        approval=False, stricter=True, manage_perm="manage_gaiji", area="外字", extra={"audit": _gaiji_review_audit},
        help="標準: 有効（提案した職員は承認できません）。無効にする個別の値は、県版・標準で有効のとき承認が必要です。")

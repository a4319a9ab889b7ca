from django import forms

from .actions import ASSIGNABLE_ROLES

ROLE_CHOICES = [(r.value, r.label) for r in ASSIGNABLE_ROLES]


class StaffEditForm(forms.Form):
    display_name = forms.CharField(label="表示名（氏名）", max_length=60, required=False,
                                   widget=forms.TextInput(attrs={"autofocus": True}))
    role = forms.ChoiceField(label="役割", choices=ROLE_CHOICES)
    can_view_dv_protected = forms.BooleanField(
        label="支援措置対象者の住所を閲覧できる", required=False,
        help_text="DV等支援措置の対象者の住所を表示・出力できる職員のみ有効にします。")


class StaffCreateForm(StaffEditForm):
    username = forms.CharField(label="ユーザー名", max_length=150, help_text="英数字と @ . + - _ （ログインに使います）",
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}))
    field_order = ["username", "display_name", "role", "can_view_dv_protected"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_name"].widget.attrs.pop("autofocus", None)
        self.fields["role"].initial = "clerk"


class FirstAdminForm(forms.Form):
    username = forms.CharField(label="ユーザー名", max_length=150, help_text="英数字と @ . + - _ （ログインに使います）",
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}))
    display_name = forms.CharField(label="表示名（氏名）", max_length=60, required=False)


class MfaPolicyForm(forms.Form):
    mfa_required_for_all_staff = forms.BooleanField(
        label="すべての職員に2段階認証を必須とする", required=False,
        widget=forms.CheckboxInput(attrs={"autofocus": True}),
        help_text="管理者には常に必須です。有効にすると、ほかの職員も次回ログイン時に認証アプリの登録を求められます。")


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label="現在のパスワード", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password", "autofocus": True}))
    new_password1 = forms.CharField(label="新しいパスワード", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), help_text="10文字以上。よく使われるパスワードや数字だけのものは使えません。")
    new_password2 = forms.CharField(label="新しいパスワード（確認）", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))

    def clean(self):
        d = super().clean()
        if d.get("new_password1") and d.get("new_password2") and d["new_password1"] != d["new_password2"]:
            self.add_error("new_password2", "確認のパスワードが一致しません")
        return d


class TokenForm(forms.Form):
    token = forms.CharField(label="確認コード", max_length=20, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "spellcheck": "false"}))

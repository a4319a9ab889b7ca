from django import forms

from .models import Kind, Layout, RequesterKind
from .render import OPTION_LABELS, joined_name


OPTION_FIELDS = tuple(OPTION_LABELS)


class IssueForm(forms.Form):
    # 罹災証明書 is issued from a damage assessment (被災者台帳), not from this form
    kind = forms.ChoiceField(label="証明書の種類", choices=[c for c in Kind.choices if c[0] != Kind.DISASTER_VICTIM])
    layout = forms.ChoiceField(label="様式", choices=Layout.choices, initial=Layout.INDIVIDUAL,
                               widget=forms.RadioSelect)
    person_ids = forms.TypedMultipleChoiceField(label="記載する人", coerce=int, widget=forms.CheckboxSelectMultiple,
                                                error_messages={"required": "記載する人を1人以上選んでください"})
    head_relationship = forms.BooleanField(label=OPTION_LABELS["head_relationship"], required=False, initial=True)
    honseki = forms.BooleanField(label=OPTION_LABELS["honseki"], required=False)
    resident_code = forms.BooleanField(label=OPTION_LABELS["resident_code"], required=False)
    individual_number = forms.BooleanField(label=OPTION_LABELS["individual_number"], required=False,
                                           help_text="本人または同一世帯の方の請求で、利用目的が確認できた場合のみ")
    foreign_items = forms.BooleanField(label=OPTION_LABELS["foreign_items"], required=False,
                                       help_text="外国人住民の国籍・地域、法第30条の45の区分、在留資格、在留カード等の番号")
    history = forms.BooleanField(label="異動の履歴を記載する", required=False)
    requester_kind = forms.ChoiceField(label="請求者の区分", choices=RequesterKind.choices, widget=forms.RadioSelect,
                                       initial=RequesterKind.SELF)
    requester_name = forms.CharField(label="請求者氏名（機関名）", required=False, max_length=120)
    purpose = forms.CharField(label="使用目的", required=False, max_length=200)
    token = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    copies = forms.IntegerField(label="通数", min_value=1, max_value=10, initial=1,
                                error_messages={"min_value": "通数は1以上です", "max_value": "通数は10以下です",
                                                "invalid": "通数は数字で入力してください"})

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person_ids"].choices = [
            (p.pk, f"{joined_name(p.family_name, p.given_name)}（{p.relationship}）") for p in candidates]

    def request(self):
        from .actions import CertificateRequest, OPTION_KEYS

        d = self.cleaned_data
        return CertificateRequest(kind=d["kind"], layout=d["layout"], person_ids=list(d["person_ids"]),
                                  options={k: d[k] for k in OPTION_KEYS}, requester_kind=d["requester_kind"],
                                  requester_name=d["requester_name"], purpose=d["purpose"], copies=d["copies"],
                                  token=d.get("token") or "")


class ReasonForm(forms.Form):
    reason = forms.CharField(label="理由", max_length=150, error_messages={"required": "理由を入力してください"})

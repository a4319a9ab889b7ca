from django import forms

from .models.support import (CareLevel, ConsentStatus, DisabilityType, ReliefKind, SupporterKind, SurveyKind)

DATE = {"type": "date"}


class FindPersonForm(forms.Form):
    atena_no = forms.CharField(label="宛名番号", max_length=15, widget=forms.TextInput(attrs={"autofocus": True}))


class RosterEntryForm(forms.Form):
    care_level = forms.ChoiceField(label="要介護度", choices=CareLevel.choices, required=False)
    physical_disability_grade = forms.CharField(label="身体障害者手帳の等級（1〜6）", max_length=3, required=False)
    disability_type = forms.ChoiceField(label="障害の種別", choices=DisabilityType.choices, required=False)
    intellectual_disability = forms.ChoiceField(label="療育手帳", choices=[("", "なし"), ("A", "A"), ("B", "B")],
                                                required=False)
    mental_disability_grade = forms.CharField(label="精神障害者保健福祉手帳の等級（1〜3）", max_length=3, required=False)
    intractable_disease = forms.BooleanField(label="難病", required=False)
    pregnant = forms.BooleanField(label="妊産婦", required=False)
    infant = forms.BooleanField(label="乳幼児", required=False)
    other_reason = forms.CharField(label="その他の事由", max_length=200, required=False)
    phone = forms.CharField(label="電話番号", max_length=30, required=False)
    other_contact = forms.CharField(label="その他の連絡先", max_length=120, required=False)
    consent = forms.ChoiceField(label="平常時の名簿情報の提供への同意", choices=ConsentStatus.choices)
    consent_date = forms.CharField(label="同意（不同意）の日", required=False, widget=forms.DateInput(attrs=DATE))
    plan_destination = forms.CharField(label="避難先（個別避難計画）", max_length=120, required=False)
    plan_route = forms.CharField(label="避難経路・避難方法", max_length=300, required=False)
    plan_notes = forms.CharField(label="留意事項", max_length=300, required=False)
    plan_date = forms.CharField(label="個別避難計画の作成日", required=False, widget=forms.DateInput(attrs=DATE))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["care_level"].widget.attrs["autofocus"] = True


class SupporterForm(forms.Form):
    kind = forms.ChoiceField(label="区分", choices=SupporterKind.choices)
    name = forms.CharField(label="氏名又は名称", max_length=100)
    contact = forms.CharField(label="連絡先", max_length=100, required=False)
    implements_plan = forms.BooleanField(label="個別避難計画の避難支援等実施者", required=False)


class DelistForm(forms.Form):
    reason = forms.CharField(label="掲載を終了する理由", max_length=100)


class ImportForm(forms.Form):
    file = forms.FileField(label="福祉部局の名簿（CSV、UTF-8、見出し行あり）", widget=forms.ClearableFileInput(attrs={"autofocus": True}))


class FindHouseholdForm(forms.Form):
    key = forms.CharField(label="世帯番号または宛名番号", max_length=15, widget=forms.TextInput(attrs={"autofocus": True}))


class LedgerForm(forms.Form):
    whereabouts = forms.CharField(label="現在の居所（住所と異なる場合）", max_length=200, required=False)
    phone = forms.CharField(label="電話番号その他の連絡先", max_length=100, required=False)
    other_damage = forms.CharField(label="その他の被害の状況", max_length=300, required=False)
    consent_to_provide = forms.BooleanField(label="台帳情報を市町村以外の者に提供することに同意している", required=False)
    consent_recipients = forms.CharField(label="同意を得た提供先", max_length=200, required=False)
    consent_date = forms.CharField(label="同意の日", required=False, widget=forms.DateInput(attrs=DATE))
    notes = forms.CharField(label="市町村長が必要と認める事項", max_length=300, required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AssessmentForm(forms.Form):
    survey_kind = forms.ChoiceField(label="調査の別", choices=SurveyKind.choices)
    surveyed_on = forms.CharField(label="調査日", widget=forms.DateInput(attrs=DATE))
    surveyor = forms.CharField(label="調査員", max_length=100)
    damage_ratio = forms.CharField(label="損害割合（%）", max_length=6)
    building_address = forms.CharField(label="被災住家の所在地（空欄: 世帯主の住所）", max_length=200, required=False)
    flooding = forms.CharField(label="浸水の状況", max_length=40, required=False)
    note = forms.CharField(label="備考", max_length=300, required=False)


class ReliefForm(forms.Form):
    kind = forms.ChoiceField(label="援護の種類", choices=ReliefKind.choices)
    given_on = forms.CharField(label="実施日", widget=forms.DateInput(attrs=DATE))
    amount = forms.CharField(label="金額（円）", max_length=12, required=False)
    note = forms.CharField(label="内容", max_length=300, required=False)


class ProvisionForm(forms.Form):
    recipient = forms.CharField(label="提供先", max_length=200)
    purpose = forms.CharField(label="利用目的", max_length=200)


class VictimCertificateForm(forms.Form):
    requester_kind = forms.ChoiceField(label="申請者の区分", widget=forms.RadioSelect, initial="self",
                                       choices=[("self", "本人（世帯主）"), ("same_household", "同一世帯"),
                                                ("agent", "代理人")])
    requester_name = forms.CharField(label="申請者氏名（代理人の場合）", max_length=120, required=False)
    purpose = forms.CharField(label="使用目的", max_length=200, required=False)
    copies = forms.IntegerField(label="通数", min_value=1, max_value=10, initial=1)
    token = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)

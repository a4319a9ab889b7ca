from django import forms

from . import bcp
from .bcp_models import DrillScenario


class PlanForm(forms.Form):
    """One text area per plan item, pre-filled with the current text (the platform's where not yet written)."""

    note = forms.CharField(label="改訂の理由", max_length=200, required=False)

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        first = True
        for _, _, rows in items:
            for it in rows:
                attrs = {"rows": 4, "placeholder": "（空欄のときは自動入力の内容を使います）"}
                if first:
                    attrs["autofocus"] = True
                    first = False
                self.fields[it.key] = forms.CharField(label=it.label, required=False, max_length=bcp.MAX_ANSWER,
                                                      initial="" if it.prefilled else it.text,
                                                      widget=forms.Textarea(attrs=attrs))
        self.order_fields([k for k in bcp.ITEMS] + ["note"])

    def answers(self) -> dict:
        return {k: self.cleaned_data.get(k, "") for k in bcp.ITEMS}


class DrillForm(forms.Form):
    title = forms.CharField(label="訓練名", max_length=100, widget=forms.TextInput(attrs={"autofocus": True}))
    scenario = forms.ChoiceField(label="想定", choices=DrillScenario.choices)
    planned_for = forms.DateField(label="実施予定日", widget=forms.DateInput(attrs={"type": "date"}))


class FinishForm(forms.Form):
    result = forms.ChoiceField(label="結果", choices=[("passed", "目標達成"), ("partly", "一部未達"), ("failed", "未達")])
    rpo_changes = forms.IntegerField(label="失われた確定済みの更新（件）", min_value=0, required=False,
                                     help_text="確認の手順で数えた件数。0 なら失われた更新なし。")
    findings = forms.CharField(label="所見・改善事項", required=False, widget=forms.Textarea(attrs={"rows": 3}))

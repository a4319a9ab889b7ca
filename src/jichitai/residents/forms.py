"""Forms for searching and for each change kind. They only parse input; the rules live in actions."""
import unicodedata

from django import forms

from jichitai.chouaza.forms import ChouazaAddressMixin
from jichitai.common.wareki import DateInputError, parse_date
from jichitai.privacy import policy

from . import queries
from .actions import ID_DOCUMENT_CHOICES, NOTIFIER_CHOICES, VERSION_MISSING, IntakeInput, household_version
from .models import IdDocument, NotifierKind, Sex

RELATIONSHIPS = ["妻", "夫", "子", "父", "母", "子の妻", "子の夫", "孫", "兄", "姉", "弟", "妹", "祖父", "祖母",
                 "妻の父", "妻の母", "夫の父", "夫の母", "縁故者", "同居人"]


def focus_first_field(form):
    """Keyboard-first: the first visible field of a form has the focus when the page opens (the first field with
    an error, once the form was checked)."""
    visible = [name for name, f in form.fields.items() if not f.widget.is_hidden]
    if not visible:
        return
    for name in visible:
        form.fields[name].widget.attrs.pop("autofocus", None)
        form.fields[name].widget.__dict__.pop("create_option", None)
    target = visible[0]
    if form.is_bound and form._errors:
        target = next((n for n in visible if n in form._errors), target)
    widget = form.fields[target].widget
    if isinstance(widget, forms.RadioSelect):  # radios and checkboxes: the first option only
        widget.create_option = _first_option_focused(type(widget).create_option.__get__(widget))
    else:
        widget.attrs["autofocus"] = True


def _first_option_focused(create_option):
    def wrapped(*args, **kwargs):
        option = create_option(*args, **kwargs)
        if str(option.get("index")) == "0":
            option["attrs"] = {**option["attrs"], "autofocus": True}
        return option
    return wrapped


class FocusFirstMixin:
    def full_clean(self):
        super().full_clean()
        focus_first_field(self)


class WarekiDateField(forms.CharField):
    """A date typed as 西暦 or 和暦 (1975-04-01, S50.4.1, 昭和50年4月1日)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", "例: 2026-04-01、R8.4.1、令和8年4月1日")
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("maxlength", "20")
        self.widget.attrs.setdefault("autocomplete", "off")

    def to_python(self, value):
        value = super().to_python(value)
        if len(value) > 20:
            raise forms.ValidationError("日付は20文字以内で入力してください")
        if not value:
            return None
        try:
            return parse_date(value)
        except DateInputError as e:
            raise forms.ValidationError(str(e).split(" / ")[0]) from None

    def prepare_value(self, value):
        return value.isoformat() if hasattr(value, "isoformat") else value


class SearchForm(FocusFirstMixin, forms.Form):
    name = forms.CharField(label="氏名", required=False, max_length=60,
                           help_text="前方一致。異体字（髙・﨑・邊など）も探します")
    kana = forms.CharField(label="フリガナ", required=False, max_length=60,
                           help_text="ひらがな・カタカナ・半角カナのどれでも")
    given_name = forms.CharField(label="名", required=False, max_length=60,
                                 help_text="名だけで探すとき（前方一致）")
    birth_date = forms.CharField(label="生年月日", required=False, max_length=20,
                                 help_text="例: S50.4.1、昭和50年4月1日、1975-04-01")
    address = forms.CharField(label="住所", required=False, max_length=100, help_text="町字から前方一致")
    resident_code = forms.CharField(label="住民票コード", required=False, max_length=11)
    atena_no = forms.CharField(label="宛名番号", required=False, max_length=15)
    status = forms.ChoiceField(label="状態", required=False,
                               choices=[("", "すべて"), ("resident", "住民"), ("removed", "除票")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        focus_first_field(self)

    def criteria(self):
        d = self.cleaned_data
        return queries.SearchCriteria(**{k: (d.get(k) or "").strip() for k in
                                         ("name", "kana", "given_name", "birth_date", "address", "resident_code",
                                          "atena_no", "status")})


INTAKE_FIELDS = ["notifier_kind", "notifier_name", "notifier_address", "id_document", "id_document_other"]


class ChangeForm(FocusFirstMixin, forms.Form):
    """Base: the 届出の受付 (届出人, 本人確認書類; first, as the counter takes it), the dates every change records,
    and the optimistic-lock version. The rules of the 受付 are the action's (actions._check_intake)."""

    intake = True  # False for changes made ex officio (職権), which have no 届出人
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0, error_messages={
        "required": VERSION_MISSING, "invalid": VERSION_MISSING, "min_value": VERSION_MISSING})

    def __init__(self, *args, person=None, household=None, reader: policy.Reader | None = None, **kwargs):
        self.person = person
        self.household = household
        self.reader = reader  # who fills the form in (policy.for_staff): what of the record it may be prefilled with
        super().__init__(*args, **kwargs)
        if self.intake:
            self.fields["notifier_kind"] = forms.ChoiceField(
                label="届出人", required=False,
                choices=[("", "（選択してください）")] + [(c.value, c.label) for c in NOTIFIER_CHOICES])
            self.fields["notifier_name"] = forms.CharField(
                label="届出人の氏名", max_length=60, required=False,
                help_text="世帯主・同一世帯の者・代理人のとき（本人なら空欄）")
            self.fields["notifier_address"] = forms.CharField(label="代理人の住所", max_length=200, required=False,
                                                              help_text="代理人のときのみ")
            self.fields["id_document"] = forms.ChoiceField(
                label="本人確認書類", required=False,
                choices=[("", "（選択してください）")] + [(c.value, c.label) for c in ID_DOCUMENT_CHOICES])
            self.fields["id_document_other"] = forms.CharField(label="本人確認書類（その他の名称）", max_length=60,
                                                               required=False, help_text="「その他」のときのみ")
            self.order_fields(INTAKE_FIELDS + [n for n in self.fields if n not in INTAKE_FIELDS])
        # the version the form was opened with is mandatory: without it a change would skip the conflict check.
        # A new person (転入, 職権記載) has none until the confirmation page names the household joined.
        self.fields["expected_version"].required = person is not None or household is not None
        if not self.is_bound:
            if person is not None:
                self.fields["expected_version"].initial = person.version
            elif household is not None:
                self.fields["expected_version"].initial = household_version(household)
        focus_first_field(self)

    def intake_input(self):
        """The 受付 as typed, for the action (which checks it)."""
        if not self.intake:
            return None
        d = self.cleaned_data
        return IntakeInput(**{k: (d.get(k) or "") for k in INTAKE_FIELDS})

    def member_choices(self, household, *, exclude=None, empty=True):
        members = queries.active_members(household)
        choices = [("", "（選択してください）")] if empty else []
        for m in members:
            if exclude is not None and m.pk == exclude.pk:
                continue
            choices.append((str(m.pk), f"{m.family_name}　{m.given_name}（{m.relationship}）"))
        return choices

    def member(self, field):
        value = self.cleaned_data.get(field)
        if not value:
            return None
        for m in queries.active_members(self.household or self.person.household):
            if str(m.pk) == str(value):
                return m
        raise forms.ValidationError("世帯の住民から選んでください")


def _kana_field(label, required=False):
    return forms.CharField(label=label, required=required, max_length=120, help_text="カタカナ（ひらがな可）")


class PersonFieldsForm(ChangeForm):
    family_name = forms.CharField(label="氏", max_length=60)
    given_name = forms.CharField(label="名", max_length=60, required=False)
    family_name_kana = _kana_field("氏フリガナ", True)
    given_name_kana = _kana_field("名フリガナ")
    birth_date = WarekiDateField(label="生年月日")
    sex = forms.ChoiceField(label="性別", choices=[("", "（選択）")] + list(Sex.choices))
    individual_number = forms.CharField(label="個人番号", max_length=14, required=False,
                                        help_text="12桁（検査用数字を確認します）")
    honseki = forms.CharField(label="本籍", max_length=200, required=False)
    hittosha = forms.CharField(label="筆頭者", max_length=60, required=False)
    is_foreign = forms.BooleanField(label="外国人住民", required=False)
    nationality = forms.CharField(label="国籍・地域", max_length=40, required=False)
    residence_status = forms.CharField(label="在留資格", max_length=40, required=False)
    stay_expiry = WarekiDateField(label="在留期間の満了日", required=False)
    residence_card_no = forms.CharField(label="在留カード等の番号", max_length=12, required=False)
    alias_name = forms.CharField(label="通称", max_length=60, required=False)

    def _clean_kana(self, name):
        from jichitai.moji.kana import is_kana, kana_key

        v = self.cleaned_data[name].strip()
        k = kana_key(v)
        if k and not is_kana(v):
            raise forms.ValidationError("フリガナはカタカナ（ひらがな可）で入力してください")
        return k if v else v

    def clean_family_name_kana(self):
        return self._clean_kana("family_name_kana")

    def clean_given_name_kana(self):
        return self._clean_kana("given_name_kana")

    def clean_individual_number(self):
        return unicodedata.normalize("NFKC", self.cleaned_data["individual_number"]).replace("-", "").replace(" ", "")

    def person_values(self):
        d = self.cleaned_data
        keys = ["family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "sex",
                "individual_number", "honseki", "hittosha", "is_foreign", "nationality", "residence_status",
                "stay_expiry", "residence_card_no", "alias_name"]
        return {k: d.get(k) for k in keys if k in d}


class BirthForm(PersonFieldsForm):
    relationship = forms.ChoiceField(label="世帯主との続柄", choices=[(r, r) for r in ["子", "孫", "子の子"]])
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)
    field_order = ["family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "sex",
                   "relationship"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in ("is_foreign", "nationality", "residence_status", "stay_expiry", "residence_card_no", "alias_name"):
            del self.fields[f]
        if self.household is not None and not self.is_bound:
            head = queries.active_members(self.household)
            if head:
                self.fields["family_name"].initial = head[0].family_name
                self.fields["family_name_kana"].initial = head[0].family_name_kana
                self.fields["honseki"].initial = head[0].honseki
                self.fields["hittosha"].initial = head[0].hittosha


class MoveInForm(ChouazaAddressMixin, PersonFieldsForm):
    address = forms.CharField(label="住所（町字・番地）", max_length=200)
    address_katagaki = forms.CharField(label="方書", max_length=120, required=False)
    postal_code = forms.CharField(label="郵便番号", max_length=8, required=False)
    previous_address = forms.CharField(label="前住所", max_length=200, required=False)
    resident_code = forms.CharField(label="住民票コード", max_length=11, required=False,
                                    help_text="転出証明書に記載のコード（空欄なら新たに付番）")
    household_no = forms.CharField(label="加わる世帯の世帯番号", max_length=10, required=False,
                                   help_text="空欄なら新しい世帯の世帯主として記載")
    relationship = forms.ChoiceField(label="世帯主との続柄", required=False,
                                     choices=[("", "（新しい世帯の世帯主）")] + [(r, r) for r in RELATIONSHIPS])
    change_date = WarekiDateField(label="異動日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def clean_household_no(self):
        no = self.cleaned_data["household_no"].strip()
        if not no:
            return None
        hh = queries.find_household_by_no(no.zfill(10))
        if hh is None:
            raise forms.ValidationError("その世帯番号の現存する世帯はありません")
        return hh

    def person_values(self):
        v = super().person_values()
        for k in ("address", "address_katagaki", "postal_code", "previous_address", "resident_code",
                  "relationship"):
            v[k] = self.cleaned_data.get(k)
        return v


class ExOfficioEntryForm(MoveInForm):
    intake = False  # 職権: no 届出人
    note = forms.CharField(label="職権記載の理由", max_length=200)


MOVE_MODES = [("all", "世帯全員で転居する"), ("new", "転居先で新しい世帯をつくる（世帯主を指定）"),
              ("join", "転居先の世帯に加わる（世帯合併）")]


class MoveWithinForm(ChouazaAddressMixin, ChangeForm):
    """転居. One household has one address: when the household has other members, the clerk chooses whether
    everyone moves, or the movers (the person and the members ticked) start a new household or join one at the
    new address. Nothing is preselected."""

    address = forms.CharField(label="新しい住所（町字・番地）", max_length=200)
    address_katagaki = forms.CharField(label="方書", max_length=120, required=False)
    postal_code = forms.CharField(label="郵便番号", max_length=8, required=False)
    household_mode = forms.ChoiceField(label="世帯の扱い", choices=MOVE_MODES, widget=forms.RadioSelect,
                                       error_messages={"required": "世帯全員で転居するか、新しい世帯をつくるか、"
                                                                   "転居先の世帯に加わるかを選んでください"})
    companions = forms.MultipleChoiceField(label="一緒に転居する世帯員", required=False,
                                           widget=forms.CheckboxSelectMultiple,
                                           help_text="新しい世帯・転居先の世帯に加わる場合のみ")
    new_household_head = forms.ChoiceField(label="新しい世帯の世帯主", required=False,
                                           help_text="新しい世帯をつくる場合のみ（転居する人から選びます）")
    join_household_no = forms.CharField(label="加わる世帯の世帯番号", max_length=10, required=False,
                                        help_text="転居先の世帯に加わる場合のみ。住所はその世帯の住所と同じにします")
    remaining_head = forms.ChoiceField(label="元の世帯に残る人の新しい世帯主", required=False,
                                       help_text="世帯主が転居し、元の世帯に残る人がいる場合のみ")
    change_date = WarekiDateField(label="異動日（転居日）")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        members = queries.active_members(self.person.household) if self.person is not None else []
        others = [m for m in members if m.pk != getattr(self.person, "pk", None)]
        if not others:  # alone in the household: it moves, or joins a household at the new address
            for name in ("companions", "new_household_head", "remaining_head"):
                del self.fields[name]
            self.fields["household_mode"].choices = [("all", "この世帯のまま転居する"), MOVE_MODES[2]]
            self.fields["household_mode"].initial = "all"
            self.fields["household_mode"].required = False
        label = lambda m: f"{m.family_name}　{m.given_name}（{m.relationship}）"  # noqa: E731
        if others:
            self.fields["companions"].choices = [(str(m.pk), label(m)) for m in others]
            self.fields["new_household_head"].choices = [("", "（選択してください）")] + [
                (str(m.pk), label(m)) for m in members]
            self.fields["remaining_head"].choices = [("", "（選択してください）")] + [
                (str(m.pk), label(m)) for m in others]
        for m in members:
            self.fields[f"rel_{m.pk}"] = forms.ChoiceField(
                label=f"{m.family_name}　{m.given_name} の転居先での続柄", required=False,
                choices=[("", "—")] + [(r, r) for r in RELATIONSHIPS],
                help_text="新しい世帯・加わる世帯の世帯主から見た続柄（転居する人だけ。新しい世帯主本人は不要）")

    def clean_join_household_no(self):
        no = (self.cleaned_data.get("join_household_no") or "").strip()
        if not no:
            return None
        hh = queries.find_household_by_no(no.zfill(10)) if no.isdigit() else None
        if hh is None:
            raise forms.ValidationError("その世帯番号の現存する世帯はありません")
        return hh

    def clean(self):
        d = super().clean()
        mode = d.get("household_mode") or "all"
        if mode == "new" and "new_household_head" in self.fields and not d.get("new_household_head"):
            self.add_error("new_household_head", "新しい世帯の世帯主を選んでください")
        if mode == "join" and "join_household_no" in self.fields and not d.get("join_household_no") \
                and "join_household_no" not in self.errors:
            self.add_error("join_household_no", "加わる世帯の世帯番号を入力してください")
        return d

    def move_options(self):
        """The action's keyword arguments for the household part of the 転居."""
        d = self.cleaned_data
        mode = d.get("household_mode") or "all"
        if mode == "all":
            return {"with_household": True}
        if "companions" not in self.fields:  # alone: joining another household
            return {"join_household": d.get("join_household_no"),
                    "relationships": {self.person.pk: d.get(f"rel_{self.person.pk}") or ""}}
        ids = set(d.get("companions") or [])
        companions = [m for m in queries.active_members(self.person.household) if str(m.pk) in ids]
        return {
            "companions": companions,
            "new_household_head": self.member("new_household_head") if mode == "new" else None,
            "join_household": d.get("join_household_no") if mode == "join" else None,
            "relationships": {int(k[4:]): v for k, v in d.items() if k.startswith("rel_") and v},
            "remaining_head": self.member("remaining_head"),
        }


class _NewHeadMixin:
    def add_new_head(self):
        if self.person is not None and self.person.is_head:
            choices = self.member_choices(self.person.household, exclude=self.person)
            if len(choices) > 1:
                self.fields["new_head"] = forms.ChoiceField(
                    label="新しい世帯主", choices=choices, required=False,
                    help_text="世帯主が抜け、世帯に住民が残る場合は必須です")


class MoveOutForm(ChangeForm):
    """転出, of the person and the members ticked (複数転出). If the head leaves and members stay, the clerk picks
    the new head among those who stay (the action checks it)."""

    destination = forms.CharField(label="転出先の住所", max_length=200)
    planned_date = WarekiDateField(label="転出予定日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.person is None:
            return
        others = self.member_choices(self.person.household, exclude=self.person, empty=False)
        if others:
            self.fields["companions"] = forms.MultipleChoiceField(
                label="一緒に転出する世帯員", required=False, widget=forms.CheckboxSelectMultiple, choices=others,
                help_text="同じ届出で転出する世帯員にチェック（世帯全員ならすべて）")
            self.fields["new_head"] = forms.ChoiceField(
                label="残る世帯の新しい世帯主", required=False,
                choices=[("", "（選択してください）")] + others,
                help_text="世帯主が転出し、世帯に残る人がいる場合は必須（残る人から選びます）")

    def companions(self):
        ids = set(self.cleaned_data.get("companions") or [])
        return [m for m in queries.active_members(self.person.household) if str(m.pk) in ids]


class MoveOutConfirmForm(ChangeForm):
    intake = False  # 職権: no 届出人
    destination = forms.CharField(label="確定した転出先の住所", max_length=200)
    notice_date = WarekiDateField(label="転入通知受理日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the planned 転出先 is an address: never prefilled for a protected person (the form does not know the user;
        # the read policy says who is protected)
        if self.person is not None and not self.is_bound and not policy.person_is_protected(self.person):
            self.fields["destination"].initial = self.person.move_out_destination


class DeathForm(_NewHeadMixin, ChangeForm):
    death_date = WarekiDateField(label="死亡日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_new_head()


class RemovalForm(_NewHeadMixin, ChangeForm):
    intake = False  # 職権: no 届出人
    change_date = WarekiDateField(label="消除日")
    note = forms.CharField(label="職権消除の理由", max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_new_head()


KEEP_NUMBER_HELP = ("登録されている個人番号は表示しません。変更するときだけ12桁を入力してください"
                    "（空欄のままなら変わりません）")


class CorrectionForm(PersonFieldsForm):
    intake = False  # 職権: no 届出人
    change_date = WarekiDateField(label="修正の異動日")
    note = forms.CharField(label="職権修正の理由", max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.number_visible:
            # the read policy masks 個人番号 for this reader: never in the form, and empty means "unchanged"
            self.fields["individual_number"].help_text = KEEP_NUMBER_HELP
        if self.person is not None and not self.is_bound:
            for name in self.fields:
                if hasattr(self.person, name) and name != "expected_version":
                    if name == "individual_number" and not self.number_visible:
                        continue
                    self.fields[name].initial = getattr(self.person, name)

    @property
    def number_visible(self) -> bool:
        """Whether the reader may see 個人番号 (policy.for_staff); no reader given: not."""
        return self.reader is not None and self.reader.individual_number

    def changes(self):
        out = {}
        for k, v in self.person_values().items():
            if k == "individual_number" and not v and not self.number_visible:
                continue  # not shown, left empty: the stored number is kept
            if v is None and k in ("stay_expiry",):
                pass
            elif v is None:
                v = ""
            out[k] = v
        return out


class HeadChangeForm(ChangeForm):
    new_head = forms.ChoiceField(label="新しい世帯主")
    former_head_relationship = forms.ChoiceField(label="元の世帯主の新しい続柄",
                                                 choices=[(r, r) for r in RELATIONSHIPS])
    change_date = WarekiDateField(label="異動日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hh = self.household
        self.fields["new_head"].choices = [c for c in self.member_choices(hh) if not c[0] or
                                           str(c[0]) != str(hh.head_id)]
        for m in queries.active_members(hh):
            if m.pk == hh.head_id:
                continue
            # every member's 続柄 is restated relative to the new head: the clerk confirms each one (the current
            # one is offered first); the new head's own field is ignored
            choices = [(r, r) for r in RELATIONSHIPS]
            if m.relationship not in RELATIONSHIPS:
                choices.insert(0, (m.relationship, m.relationship))
            self.fields[f"rel_{m.pk}"] = forms.ChoiceField(
                label=f"{m.family_name}　{m.given_name} の新しい続柄", required=False, choices=choices,
                initial=m.relationship,
                help_text=f"新しい世帯主から見た続柄（今の続柄: {m.relationship}）。新しい世帯主になる人は不要です")

    def relationships(self):
        return {int(name[4:]): v for name, v in self.cleaned_data.items() if name.startswith("rel_") and v}


class SplitForm(ChangeForm):
    members = forms.MultipleChoiceField(label="分離する住民", widget=forms.CheckboxSelectMultiple)
    new_head = forms.ChoiceField(label="新しい世帯の世帯主")
    relationship = forms.ChoiceField(label="新しい世帯での続柄（世帯主以外）",
                                     choices=[(r, r) for r in RELATIONSHIPS])
    remaining_head = forms.ChoiceField(label="元の世帯の新しい世帯主", required=False,
                                       help_text="世帯主が分離する場合のみ")
    change_date = WarekiDateField(label="異動日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = self.member_choices(self.household)
        self.fields["members"].choices = choices[1:]
        self.fields["new_head"].choices = choices
        self.fields["remaining_head"].choices = choices

    def selected(self):
        ids = set(self.cleaned_data.get("members") or [])
        return [m for m in queries.active_members(self.household) if str(m.pk) in ids]


class MergeForm(ChangeForm):
    target_household_no = forms.CharField(label="合併先の世帯番号", max_length=10)
    relationship = forms.ChoiceField(label="合併先の世帯主との続柄", choices=[(r, r) for r in RELATIONSHIPS])
    change_date = WarekiDateField(label="異動日")
    notification_date = WarekiDateField(label="届出日")
    note = forms.CharField(label="備考", max_length=200, required=False)

    def clean_target_household_no(self):
        no = self.cleaned_data["target_household_no"].strip()
        hh = queries.find_household_by_no(no.zfill(10)) if no.isdigit() else None
        if hh is None:
            raise forms.ValidationError("その世帯番号の現存する世帯はありません")
        return hh

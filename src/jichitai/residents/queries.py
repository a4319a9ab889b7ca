"""Every read of the register goes through here.

- Querysets come from the scoped managers (the current municipality only; another tenant's id is a 404).
- What reaches a template is a `PersonView`, never a model. What of a person a user may see — DV等支援措置
  addresses, 個人番号 — is decided by the one read policy (`jichitai.privacy.policy`), never here.
- Each view of a person and each search is written to the audit log.
"""
import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.http import Http404

from jichitai import moji
from jichitai.audit.actions import record_event
from jichitai.common.wareki import DateInputError, format_wareki, parse_date
from jichitai.moji.kana import kana_key, name_key
from jichitai.privacy import policy
from jichitai.privacy.policy import ADDRESS_FIELDS, WITHHELD  # noqa: F401 — re-exported for readers' templates

from . import rows
from .actions import address_key
from .models import SNAPSHOT_FIELDS, ChangeKind, Household, Person, PersonHistory, Status

PAGE_SIZE = 20


class PersonView:
    """A read-only, redacted view of a person (current row or history snapshot) for one user."""

    def __init__(self, data: dict, user, *, person_protected: bool, pk=None, version=None, household_id=None,
                 municipality_name=""):
        reader = user if isinstance(user, policy.Reader) else policy.for_staff(user)
        # address_withheld: anything withheld (also 前住所 alone, for a member who left a protected household);
        # the address itself only when the policy withholds the address fields
        self._data, self.address_withheld = policy.redact(data, reader, person_protected=person_protected)
        self.current_address_withheld = policy.withholds_address(reader, person_protected=person_protected,
                                                                 snapshot=data)
        self.pk = pk
        self.version = version
        self.household_id = household_id
        self.municipality_name = municipality_name
        self.match_reason = ""
        self.individual_number_visible = reader.individual_number

    def __getattr__(self, name):
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def full_name(self):
        return f"{self._data.get('family_name', '')}\u3000{self._data.get('given_name', '')}".strip("\u3000")

    @property
    def full_kana(self):
        return f"{self._data.get('family_name_kana', '')}\u3000{self._data.get('given_name_kana', '')}".strip("\u3000")

    @property
    def full_address(self):
        if self.current_address_withheld:
            return WITHHELD
        parts = [self.municipality_name + self._data.get("address", ""), self._data.get("address_katagaki", "")]
        return "\u3000".join(p for p in parts if p)

    @property
    def status_label(self):
        if self._data.get("status") == Status.REMOVED:
            return f"除票（{self._data.get('removal_reason') or '消除'}）"
        return "住民"

    @property
    def is_removed(self):
        return self._data.get("status") == Status.REMOVED

    @property
    def sex_label(self):
        return {"1": "男", "2": "女"}.get(self._data.get("sex"), "")

    @property
    def birth_date_wareki(self):
        return format_wareki(_as_date(self._data.get("birth_date")))

    def date_wareki(self, name):
        return format_wareki(_as_date(self._data.get(name)))

    def items(self):
        return self._data.items()


def _as_date(v):
    if isinstance(v, str) and v:
        return dt.date.fromisoformat(v)
    return v


def _person_data(p: Person) -> dict:
    data = {f: getattr(p, f) for f in SNAPSHOT_FIELDS if f != "household_no"}
    data["household_no"] = p.household.household_no if "household" in p._state.fields_cache else None
    data["atena_no"] = p.atena_no
    data["last_change_date"] = p.last_change_date
    return data


def present(p: Person, user, municipality, *, protected: set | None = None) -> PersonView:
    """`protected`: the protected pks of a batch (policy.protected_person_ids), when presenting many rows."""
    is_protected = (p.pk in protected) if protected is not None else policy.person_is_protected(p)
    return PersonView(_person_data(p), user, person_protected=is_protected, pk=p.pk, version=p.version,
                      household_id=p.household_id, municipality_name=municipality.name)


# ---------------------------------------------------------------- single records

def get_person_for_update(person_id) -> Person:
    """For the actions layer: the scoped row, or 404 (another municipality's id is indistinguishable from none)."""
    try:
        pk = int(person_id)
        person = rows.load_person(pk) if 0 < pk < 2**63 else None
    except (ValueError, TypeError):
        person = None
    if person is None:
        raise Http404("no such person")
    return person


def get_household(household_id) -> Household:
    try:
        return Household.objects.get(pk=household_id)
    except (Household.DoesNotExist, ValueError, TypeError):
        raise Http404("no such household") from None


def view_person(request, person_id) -> tuple[Person, PersonView]:
    """Open a person's record: scoped fetch, audit of the view, redacted presentation."""
    person = get_person_for_update(person_id)
    record_event(request.municipality, "resident.view", actor=request.user, request=request,
                 object_type="person", object_id=person.pk, detail={"atena_no": person.atena_no})
    return person, present(person, request.user, request.municipality)


@dataclass
class HistoryEntry:
    history_no: int
    kind_label: str
    change_kind: str
    change_date: dt.date
    change_date_wareki: str
    notification_date: dt.date | None
    processed_at: dt.datetime
    operator: str
    terminal: str
    note: str
    view: PersonView
    changed: list
    intake: object = None  # the 届出の受付 (Intake) of the change, if recorded


FIELD_LABELS = {f.name: str(f.verbose_name) for f in Person._meta.fields}
FIELD_LABELS["household_no"] = "世帯番号"


def person_history(person: Person, user, municipality) -> list[HistoryEntry]:
    rows = list(PersonHistory.objects.filter(person=person).select_related(
        "intake", "intake__received_by", "intake__decided_by").order_by("history_no"))
    # protection now applies to every snapshot, also those recorded before it began
    person_protected = policy.person_is_protected(person)
    out = []
    previous = {}
    for h in rows:
        snap = h.snapshot
        changed = [FIELD_LABELS.get(k, k) for k in SNAPSHOT_FIELDS if previous and previous.get(k) != snap.get(k)]
        view = PersonView(snap, user, person_protected=person_protected, pk=person.pk,
                          municipality_name=municipality.name)
        if view.address_withheld:
            changed = [c for c in changed if c not in {FIELD_LABELS[f] for f in ADDRESS_FIELDS}] + (
                ["住所等（非表示）"] if any(previous.get(f) != snap.get(f) for f in ADDRESS_FIELDS) and previous else []
            )
        out.append(HistoryEntry(
            history_no=h.history_no, kind_label=ChangeKind(h.change_kind).label, change_kind=h.change_kind,
            change_date=h.change_date, change_date_wareki=format_wareki(h.change_date),
            notification_date=h.notification_date, processed_at=h.processed_at, operator=h.operator,
            terminal=h.terminal, note=h.note, view=view, changed=changed, intake=h.intake,
        ))
        previous = snap
    return out


def household_members(household: Household, user, municipality, *, include_removed=False) -> list[PersonView]:
    qs = Person.objects.filter(household=household).select_related("household")
    if not include_removed:
        qs = qs.filter(status=Status.RESIDENT)
    members = sorted(qs, key=lambda p: (not p.is_head, p.birth_date, p.pk))
    protected = policy.protected_person_ids(members)
    return [present(p, user, municipality, protected=protected) for p in members]


def active_members(household: Household) -> list[Person]:
    """Rows for the actions' forms (choices); not for display."""
    return list(Person.objects.filter(household=household, status=Status.RESIDENT).order_by("-is_head", "birth_date"))


def find_household_by_no(household_no: str) -> Household | None:
    return Household.objects.filter(household_no=(household_no or "").strip(), is_active=True).first()


# ---------------------------------------------------------------- search

class SearchError(ValueError):
    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


@dataclass
class SearchCriteria:
    name: str = ""
    kana: str = ""
    given_name: str = ""  # 名だけで探す (the given_key index)
    birth_date: str = ""
    address: str = ""
    resident_code: str = ""
    atena_no: str = ""
    status: str = ""  # "", "resident", "removed"

    def is_empty(self):
        return not any([self.name, self.kana, self.given_name, self.birth_date, self.address, self.resident_code,
                        self.atena_no])

    def as_audit(self):
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class SearchPage:
    rows: list
    page: int
    has_next: bool
    has_previous: bool
    matched_by: str
    total: int = 0  # every match, not only this page
    too_broad: bool = False  # more than MAX_RESULTS matched: nothing listed, the clerk is asked to narrow


MAX_RESULTS = 500  # a search matching more lists nothing and says how many matched


MAXCHAR = "\U0010ffff"


def _prefix(qs, field, key):
    """A prefix match as a key range, so that a B-tree index on (municipality, key) answers it on both engines."""
    return qs.filter(**{f"{field}__gte": key, f"{field}__lt": key + MAXCHAR})


# The layers of a name match, loosest last; the label says in the result why a person matched.
NAME_LAYERS = [
    ("name_key", "完全一致"),
    ("name_sel_key", "異体字セレクタ・互換漢字を除いて一致"),
    ("name_deg_key", "MJ縮退（同じ字とみなす字形）で一致"),
    ("name_var_key", "異体字（旧字・俗字等）で一致"),
]
KANA_LAYERS = [("kana_key", "フリガナ一致"), ("kana_loose_key", "フリガナのゆれ（長音・小書き・濁点等）で一致")]
MAX_EXACT = 5000  # with an exact criterion, at most this many rows are ranked by name / reading in Python


def _query_name_keys(text: str):
    return moji.name_keys(name_key(text))


def build_search(criteria: SearchCriteria, user, municipality, *, name_layer: int = 0, kana_layer: int = 0):
    """Validate criteria and build the scoped queryset for one layer of name / kana matching (shared by the
    search page and the benchmark). Layer k excludes what layer k−1 already matched, so layers never repeat rows."""
    errors = {}
    qs = Person.objects.all()
    order = None
    if criteria.resident_code:
        code = unicodedata.normalize("NFKC", criteria.resident_code).strip()
        if not code.isdigit() or len(code) != 11:
            errors["resident_code"] = "住民票コードは11桁の数字で入力してください"
        qs = qs.filter(resident_code=code)
        order = "resident_code"
    if criteria.atena_no:
        no = unicodedata.normalize("NFKC", criteria.atena_no).strip()
        if not no.isdigit():
            errors["atena_no"] = "宛名番号は数字で入力してください"
        else:
            qs = qs.filter(atena_no=no.zfill(10))
            order = order or "atena_no"
    if criteria.birth_date:
        try:
            qs = qs.filter(birth_date=parse_date(criteria.birth_date))
            order = order or "birth_date"
        except DateInputError as e:
            errors["birth_date"] = str(e).split(" / ")[0]
    if criteria.name:
        keys = _query_name_keys(criteria.name)
        field = NAME_LAYERS[name_layer][0]
        qs = _prefix(qs, field, keys[name_layer])
        if name_layer > 0:
            prev = NAME_LAYERS[name_layer - 1][0]
            qs = qs.exclude(**{f"{prev}__gte": keys[name_layer - 1], f"{prev}__lt": keys[name_layer - 1] + MAXCHAR})
        order = order or field
    if criteria.given_name:
        given = name_key(criteria.given_name.strip())
        if given:
            qs = _prefix(qs, "given_key", given)
            order = order or "given_key"
    if criteria.kana:
        strict, loose = moji.kana_keys(criteria.kana)
        if not moji.is_kana(criteria.kana):
            errors["kana"] = "フリガナはひらがな・カタカナで入力してください"
        layer = 1 if criteria.name else kana_layer  # with a name, the reading narrows leniently
        field = KANA_LAYERS[layer][0]
        qs = _prefix(qs, field, (strict, loose)[layer])
        if layer > 0 and not criteria.name:
            qs = qs.exclude(kana_key__gte=strict, kana_key__lt=strict + MAXCHAR)
        order = order or field
    if criteria.address:
        text = address_key(criteria.address)
        for prefix in (address_key(municipality.prefecture.name + municipality.name), address_key(municipality.name)):
            if text.startswith(prefix):
                text = text[len(prefix):]
        if text:
            qs = _prefix(qs, "address_key", text)
            order = order or "address_key"
            if policy.for_staff(user).address_search_excludes_protected:
                # matching a withheld address would itself reveal it
                qs = qs.exclude(policy.protected_q())
    if criteria.status in (Status.RESIDENT, Status.REMOVED):
        qs = qs.filter(status=criteria.status)
    elif criteria.status:
        errors["status"] = "状態の指定が正しくありません"
    if errors:
        raise SearchError(errors)
    # Ordered by the most selective criterion's key, then id: each search index is (municipality, key, id), so one
    # index both finds and orders the rows (no sort of every match, and SQLite picks it even without statistics).
    return qs.order_by(order or "atena_no", "id"), (order or "atena_no")


def _layers(criteria):
    if criteria.name:
        return [(i, 0, NAME_LAYERS[i][1]) for i in range(len(NAME_LAYERS))]
    if criteria.kana:
        return [(0, i, KANA_LAYERS[i][1]) for i in range(len(KANA_LAYERS))]
    return [(0, 0, "")]


_SELECTORS = ("\ufe00", "\ufe0f", "\U000e0100", "\U000e01ef")


def _followed_by_selector(stored: str, prefix: str) -> bool:
    nxt = stored[len(prefix):len(prefix) + 1]
    return bool(nxt) and (_SELECTORS[0] <= nxt <= _SELECTORS[1] or _SELECTORS[2] <= nxt <= _SELECTORS[3])


def _name_rank(p, keys):
    """(rank, reason) of a person for a typed name, or None. 完全一致 only when the stored name equals the input
    (辻 typed, 辻󠄂 registered is a selector-level match, not 完全一致); an equal key at a looser layer ranks above
    a prefix at that layer; a prefix ends where a variation selector would continue the last character."""
    stored = (p.name_key, p.name_sel_key, p.name_deg_key, p.name_var_key)
    for i in range(4):
        if stored[i] == keys[i]:
            return 2 * i, NAME_LAYERS[i][1]
        if stored[i].startswith(keys[i]) and not (i == 0 and _followed_by_selector(stored[i], keys[i])):
            return 2 * i + 1, ("前方一致" if i == 0 else f"前方一致（{NAME_LAYERS[i][1]}）")
    return None


def _kana_rank(p, strict, loose):
    if p.kana_key == strict:
        return 0, "フリガナ一致"
    if p.kana_key.startswith(strict):
        return 1, "フリガナ前方一致"
    if p.kana_loose_key.startswith(loose):
        return 2, KANA_LAYERS[1][1]
    return None


def _rank(p, criteria, name_keys, strict, loose):
    """(rank, reason) of a candidate, or None if it does not match the name / reading typed."""
    kana = _kana_rank(p, strict, loose) if criteria.kana else None
    if criteria.kana and kana is None:
        return None
    if name_keys is not None:
        named = _name_rank(p, name_keys)
        if named is None:
            return None
        rank, reason = named
        if criteria.kana and rank > 1:
            # a looser name match whose reading agrees strictly ranks just below the exact match; one whose
            # reading does not agree ranks last
            rank = 1.5 if kana[0] <= 1 else 10 + rank
        return rank, reason
    if kana is not None:
        return kana
    if criteria.given_name:
        return (0, "名が完全一致") if p.given_key == name_key(criteria.given_name.strip()) else (1, "名が前方一致")
    return 0, ""


def _candidates(criteria, user, municipality):
    """Every match as querysets whose union is the result (disjoint), by the layers of name / reading matching,
    or by the exact criterion when one is given (生年月日, 住民票コード, 宛名番号: few rows)."""
    from dataclasses import replace

    if (criteria.birth_date or criteria.resident_code or criteria.atena_no) and (criteria.name or criteria.kana):
        if criteria.kana and not moji.is_kana(criteria.kana):
            raise SearchError({"kana": "フリガナはひらがな・カタカナで入力してください"})
        return [build_search(replace(criteria, name="", kana=""), user, municipality)[0]]
    return [build_search(criteria, user, municipality, name_layer=n, kana_layer=k)[0]
            for n, k, _ in _layers(criteria)]


def search_page(criteria: SearchCriteria, user, municipality, page: int = 1) -> SearchPage:
    """One page of matches with the total. All matches are counted (each layer by its index); up to MAX_RESULTS
    are ranked — exact > prefix > selector dropped > MJ縮退 > variant family — and within a rank ordered by reading
    (五十音, then 宛名番号). A search matching more than MAX_RESULTS lists nothing and says how many matched:
    nothing is silently cut off."""
    sets = _candidates(criteria, user, municipality)
    counts = [qs.count() for qs in sets]
    order = "name" if criteria.name else "kana" if criteria.kana else "other"
    upper = sum(counts)
    exact_path = len(sets) == 1 and bool(criteria.name or criteria.kana)
    if upper > (MAX_EXACT if exact_path else MAX_RESULTS):
        return SearchPage(rows=[], page=1, has_next=False, has_previous=False, matched_by=order, total=upper,
                          too_broad=True)
    name_keys = _query_name_keys(criteria.name) if criteria.name else None
    strict, loose = moji.kana_keys(criteria.kana) if criteria.kana else ("", "")
    found = []
    for qs, n in zip(sets, counts):
        if not n:
            continue
        for p in qs.select_related("household")[:n]:
            ranked = _rank(p, criteria, name_keys, strict, loose)
            if ranked is not None:
                found.append((ranked[0], p.kana_key, p.atena_no, p, ranked[1]))
    total = len(found)
    if total > MAX_RESULTS:  # (an exact criterion with many rows left after the name / reading)
        return SearchPage(rows=[], page=1, has_next=False, has_previous=False, matched_by=order,
                          total=total, too_broad=True)
    found.sort(key=lambda f: (f[0], f[1], f[2]))
    page = max(1, page)
    start = (page - 1) * PAGE_SIZE
    rows = [(p, reason) for _, _, _, p, reason in found[start:start + PAGE_SIZE]]
    return SearchPage(rows=rows, page=page, has_next=total > start + PAGE_SIZE, has_previous=page > 1,
                      matched_by=order, total=total)


def ranked_search(criteria: SearchCriteria, user, municipality, page: int = 1):
    """[(person, reason)] of one page, best match first, and whether there is a next page."""
    result = search_page(criteria, user, municipality, page)
    return result.rows, result.has_next


def search_persons(request, criteria: SearchCriteria, page: int = 1) -> SearchPage:
    """Search the register; every search is audited with its query and the number of matches."""
    if criteria.is_empty():
        raise SearchError({"__all__": "検索条件を1つ以上入力してください"})
    page = max(1, min(int(page or 1), 500))
    result = search_page(criteria, request.user, request.municipality, page)
    record_event(request.municipality, "resident.search", actor=request.user, request=request,
                 object_type="search", detail={"query": criteria.as_audit(), "page": result.page,
                                               "results": len(result.rows), "total": result.total})
    views = []
    protected = policy.protected_person_ids(p for p, _ in result.rows)
    for p, reason in result.rows:
        v = present(p, request.user, request.municipality, protected=protected)
        v.match_reason = reason
        views.append(v)
    result.rows = views
    return result


# ---------------------------------------------------------------- dashboard

def dashboard_counts(municipality):
    today = dt.date.today()
    return {
        "residents": Person.objects.filter(status=Status.RESIDENT).count(),
        "removed": Person.objects.filter(status=Status.REMOVED).count(),
        "households": Household.objects.filter(is_active=True).count(),
        "changes_today": PersonHistory.objects.filter(processed_at__date=today).count(),
    }


def recent_changes(user, municipality, limit=10):
    rows = list(PersonHistory.objects.select_related("person").order_by("-processed_at", "-id")[:limit])
    protected = policy.protected_person_ids({h.person_id: h.person for h in rows}.values())
    return [
        {"person_id": h.person_id, "kind": ChangeKind(h.change_kind).label, "change_date": h.change_date,
         "processed_at": h.processed_at, "operator": h.operator,
         "name": PersonView(h.snapshot, user, person_protected=h.person_id in protected).full_name}
        for h in rows
    ]


# ---------------------------------------------------------------- 届出の受付 and 決裁待ち

def pending_intakes():
    """Changes waiting for 審査・決裁, oldest first."""
    from .models import Intake, IntakeStatus

    return list(Intake.objects.filter(status=IntakeStatus.PENDING).select_related("received_by").order_by("id"))


def returned_intakes(user, *, days=30):
    """The changes `user` received that were returned (差し戻し), newest first."""
    from django.utils import timezone

    from .models import Intake, IntakeStatus

    since = timezone.now() - dt.timedelta(days=days)
    return list(Intake.objects.filter(status=IntakeStatus.RETURNED, received_by=user, decided_at__gte=since)
                .select_related("received_by", "decided_by").order_by("-decided_at"))


def intake_counts(user) -> dict:
    """For the navigation: pending changes another staff member received (the user may decide them), and the
    user's own returned changes of the last 7 days."""
    from django.utils import timezone

    from jichitai.tenancy.roles import Perm, has_perm

    from .models import Intake, IntakeStatus

    out = {"pending": 0, "returned": 0}
    if has_perm(user, Perm.APPROVE_CHANGES):
        out["pending"] = Intake.objects.filter(status=IntakeStatus.PENDING).exclude(received_by=user).count()
    since = timezone.now() - dt.timedelta(days=7)
    out["returned"] = Intake.objects.filter(status=IntakeStatus.RETURNED, received_by=user,
                                            decided_at__gte=since).count()
    return out


def get_intake(intake_id):
    from .models import Intake

    intake = Intake.objects.select_related("received_by", "decided_by").filter(pk=intake_id).first()
    if intake is None:
        raise Http404("届出が見つかりません")
    return intake


# what the 決裁 screen shows of a held change's arguments, in this order
HELD_LABELS = {
    "address": "新しい住所（町字・番地）", "address_katagaki": "方書", "postal_code": "郵便番号",
    "destination": "転出先の住所", "planned_date": "転出予定日", "change_date": "異動日", "death_date": "死亡日",
    "notification_date": "届出日", "notice_date": "転入通知受理日", "with_household": "世帯全員で",
    "companions": "一緒に異動する世帯員", "members": "分離する住民", "new_household_head": "新しい世帯の世帯主",
    "join_household": "加わる世帯", "new_head": "新しい世帯主", "remaining_head": "元の世帯の新しい世帯主",
    "target": "合併先の世帯", "household": "世帯", "former_head_relationship": "元の世帯主の新しい続柄",
    "relationships": "続柄", "values": "記載する内容", "changes": "修正する内容", "note": "備考",
}
_HELD_ADDRESS = {"address", "address_katagaki", "postal_code", "destination", "previous_address"}


def _held_text(v):
    if isinstance(v, Person):
        return f"{v.full_name}（{v.relationship}）"
    if isinstance(v, Household):
        return f"世帯番号 {v.household_no}"
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, dt.date):
        return f"{format_wareki(v)}（{v.isoformat()}）"
    if isinstance(v, (list, tuple)):
        return "、".join(_held_text(x) for x in v) or "—"
    return "—" if v in (None, "") else str(v)


def _held_value(key, value, withhold):
    if key == "individual_number":  # never shown as typed (as on the confirmation page)
        return "（入力あり）"
    if withhold and key in _HELD_ADDRESS:
        return WITHHELD
    return _held_text(value)


def held_change(intake, user, municipality) -> dict:
    """The held change for the 決裁 screen: the persons it names as they are now (PersonView, through the read
    policy) and its arguments as rows. The new address of a protected person is withheld like any address."""
    from .actions import _decode

    args, kwargs = _decode(intake.payload["args"]), _decode(intake.payload["kwargs"])
    target = args[0] if args else None
    persons = [target] if isinstance(target, Person) else []
    household = target if isinstance(target, Household) else kwargs.get("household")
    if household is not None:
        persons += list(Person.objects.filter(household=household, status=Status.RESIDENT).select_related(
            "household").order_by("-is_head", "birth_date"))
    for k in ("companions", "members"):
        persons += [p for p in kwargs.get(k) or [] if p.pk not in {q.pk for q in persons}]
    protected = policy.protected_person_ids(persons) if persons else set()
    # The addresses are also withheld when the change itself makes someone protected (a 転入 or 職権修正 that sets
    # DV等支援措置) or moves the person into a household the policy protects (join_household).
    joined = kwargs.get("join_household")
    joined_protected = isinstance(joined, Household) and bool(policy.protected_person_ids(
        Person.objects.filter(household=joined, status=Status.RESIDENT)))
    sets_protection = any(bool((kwargs.get(k) or {}).get("dv_protected")) for k in ("values", "changes"))
    withhold = ((bool(protected) or joined_protected or sets_protection)
                and not policy.for_staff(user).dv_addresses)
    people = {p.pk: p for p in persons}
    rows_out = []
    for key, label in HELD_LABELS.items():
        v = kwargs.get(key)
        if v is None or v is False or (isinstance(v, (str, list, tuple, dict)) and not v):
            continue
        if key == "relationships":
            v = "、".join(f"{people[pk].full_name if pk in people else pk}: {rel}" for pk, rel in v.items() if rel)
        elif key in ("values", "changes"):
            v = "、".join(f"{FIELD_LABELS.get(k, k)}: {_held_value(k, x, withhold)}"
                         for k, x in v.items() if x not in (None, "", False))
        elif key in _HELD_ADDRESS and withhold:
            v = WITHHELD
        else:
            v = _held_text(v)
        rows_out.append((label, v or "—"))
    views = [present(p, user, municipality, protected=protected) for p in persons]
    return {"rows": rows_out, "persons": views, "target": target}

"""Every tenant-scoped read of the disaster app."""
from .models import DisasterActivation, Shelter


def activations():
    """The municipality's disasters, newest first."""
    return DisasterActivation.objects.select_related("disaster").order_by("-declared_at", "-id")


def open_activations():
    return activations().filter(ended_at__isnull=True)


def current_activation():
    """The most recently declared disaster still open for the municipality in scope, or None."""
    return open_activations().first()


def disaster_declared() -> bool:
    """Is a disaster declared (open) for the municipality in scope? The 避難行動要支援者名簿 may then be shared
    without the person's consent (災害対策基本法 第49条の11 第3項)."""
    return open_activations().exists()


def shelters(*, open_only: bool = False):
    qs = Shelter.objects.order_by("code")
    return qs.filter(is_open=True) if open_only else qs


def shelter(shelter_id: int):
    return Shelter.objects.filter(pk=shelter_id).first()


# ================================================================ evacuees, safety confirmation, PFIF, dashboard
# Every personal-data read below takes a privacy.policy Reader; DV-protected persons are judged by the policy only.
import datetime as _dt  # noqa: E402

from django.db.models import Count, Max, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from jichitai.privacy import policy  # noqa: E402

from .districts import district_of  # noqa: E402
from .models.evacuees import (  # noqa: E402
    Evacuee, EvacueeMovement, EvacueeStatus, LookupGrant, MatchState, PfifRecord, PfifStatus,
    Presence, SafetyNote,
)


# ---------------------------------------------------------------- 同一人物の統合: the merged view
# A person registered twice (at two shelters, at the desk and in a CSV) has one registration per place; once merged
# (actions.merge_evacuees), every other registration points to the primary (`merged_into`). Nothing is deleted. Every
# count and list of persons reads through the functions below: a merged person counts once, at the registration
# with the latest movement (where they checked in last); the others are "superseded".

def merged_view():
    """({primary id: [member ids, primary first]}, {primary id: current member id}) for every merged person. Small:
    only merged registrations are read; one query for them, one for their latest movements."""
    clusters = {}
    for pk, into in (Evacuee.objects.filter(merged_into__isnull=False).order_by("merged_into_id", "pk")
                     .values_list("pk", "merged_into_id")):
        clusters.setdefault(into, [into]).append(pk)
    if not clusters:
        return {}, {}
    ids = [i for ms in clusters.values() for i in ms]
    last = {eid: (at, mid) for eid, at, mid in EvacueeMovement.objects.filter(evacuee_id__in=ids).order_by()
            .values("evacuee_id").annotate(at=Max("at"), mid=Max("id")).values_list("evacuee_id", "at", "mid")}
    never = (_dt.datetime.min.replace(tzinfo=_dt.timezone.utc), 0)
    current = {p: max(ms, key=lambda i: (last.get(i, never), i)) for p, ms in clusters.items()}
    return clusters, current


def superseded_ids() -> set:
    """Registrations of merged persons other than the current one: left out of every count and list of persons."""
    clusters, current = merged_view()
    return {i for p, ms in clusters.items() for i in ms if i != current[p]}


def one_per_person(qs=None):
    """The registrations (of `qs`, default all) that stand for a person: every unmerged registration, and for a
    merged person only the current one."""
    qs = Evacuee.objects.all() if qs is None else qs
    sup = superseded_ids()
    return qs.exclude(pk__in=sup) if sup else qs


def persons_of(evs) -> list[tuple[list, "Evacuee"]]:
    """Group registrations into persons, in the order of `evs`: [(members, current)] — a merged person with all of
    its registrations (also those not in `evs`, primary first), `current` where the person is now."""
    clusters, current = merged_view()
    member_of = {m: p for p, ms in clusters.items() for m in ms}
    evs = list(evs)
    by_id = {e.pk: e for e in evs}
    need = {m for e in evs if e.pk in member_of for m in clusters[member_of[e.pk]]} - by_id.keys()
    if need:
        by_id.update({e.pk: e for e in Evacuee.objects.filter(pk__in=need).select_related("shelter")})
    out, seen = [], set()
    for e in evs:
        root = member_of.get(e.pk, e.pk)
        if root in seen:
            continue
        seen.add(root)
        out.append(([by_id[i] for i in clusters.get(root, [root])], by_id[current.get(root, root)]))
    return out


def person_consents(members, field: str) -> bool:
    """A merged person's consent to disclose: given on every registration (what they said at one shelter does not
    overrule a refusal at another)."""
    return all(getattr(e, field) for e in members)


def occupancy():
    """Open shelters with their current occupancy by day and by night against capacity (one query; a merged person
    counts once, at their current registration)."""
    day = Q(evacuees__status=EvacueeStatus.CHECKED_IN, evacuees__presence__in=[Presence.BOTH, Presence.DAY])
    night = Q(evacuees__status=EvacueeStatus.CHECKED_IN, evacuees__presence__in=[Presence.BOTH, Presence.NIGHT])
    sup = superseded_ids()
    if sup:
        day, night = day & ~Q(evacuees__pk__in=sup), night & ~Q(evacuees__pk__in=sup)
    rows = (Shelter.objects.filter(is_open=True).order_by("code")
            .annotate(day_count=Count("evacuees", filter=day), night_count=Count("evacuees", filter=night)))
    return list(rows)


def outside_counts():
    """Evacuees outside shelters by kind (在宅避難・車中泊・その他), each person once."""
    return dict(one_per_person(Evacuee.objects.filter(status=EvacueeStatus.OUTSIDE)).values_list("place_kind")
                .annotate(n=Count("id")).values_list("place_kind", "n"))


def _protected_among(person_ids) -> set:
    from jichitai.residents.models import Person

    ids = {i for i in person_ids if i}
    if not ids:
        return set()
    return policy.protected_person_ids(Person.objects.filter(pk__in=ids).only("pk", "dv_protected",
                                                                              "household_id"))


def evacuee_protection(evacuees) -> dict:
    """{evacuee id: True when the evacuee is, or may be (a match candidate), a DV-protected resident}. Decided per
    person: registrations merged into one person (同一人物として統合) share it, so that a protected resident's second
    registration (typed differently, linked to nobody) does not tell where that person is."""
    evacuees = list(evacuees)
    roots = {e.merged_into_id or e.pk for e in evacuees}
    members = {}  # root -> (person ids of every registration of that person, candidates included)
    for x in evacuees + list(Evacuee.objects.filter(Q(pk__in=roots) | Q(merged_into_id__in=roots))
                             .only("pk", "merged_into_id", "person_id", "match_candidates")):
        members.setdefault(x.merged_into_id or x.pk, set()).update(
            {x.person_id} | {c.get("person_id") for c in x.match_candidates or []})
    prot = _protected_among(set().union(*members.values()) if members else set())
    by_root = {r: bool(prot & ids) for r, ids in members.items()}
    return {e.pk: by_root[e.merged_into_id or e.pk] for e in evacuees}


def evacuee_views(evacuees, reader: policy.Reader, *, protection: dict | None = None) -> list[dict]:
    """What a reader sees of evacuees: a protected person's whereabouts (shelter, address, place) are withheld
    from readers without the DV right. `protection`: {id: bool} already decided by the caller (evacuee_protection,
    possibly widened), else decided here."""
    evacuees = list(evacuees)
    prot = evacuee_protection(evacuees) if protection is None else protection
    out = []
    for e in evacuees:
        hide = prot[e.pk] and not reader.dv_addresses
        w = reader.withheld_value
        out.append({
            "id": e.pk, "full_name": e.full_name, "kana": e.kana, "birth_text": e.birth_text,
            "birth_date": e.birth_date, "sex": e.get_sex_display() if e.sex else "", "injury": e.injury,
            "contact": w if hide else e.contact, "address": w if hide and e.address else e.address,
            "shelter": w if hide else (e.shelter.name if e.shelter_id else ""),
            "shelter_id": None if hide else e.shelter_id,
            "place": w if hide else e.get_place_kind_display(), "place_note": w if hide else e.place_note,
            "status": e.get_status_display(), "status_code": e.status, "presence": e.get_presence_display(),
            "match_state": e.match_state, "match_label": e.get_match_state_display(), "person_id": e.person_id,
            "group_key": e.group_key, "duplicate_group": e.duplicate_group, "consent_family": e.consent_family,
            "consent_acquaintance": e.consent_acquaintance, "consent_public": e.consent_public,
            "protected": prot[e.pk], "withheld": hide, "candidates": e.match_candidates or [],
            "merged_into_id": e.merged_into_id, "merged_auto": e.merged_auto, "merged_at": e.merged_at,
            "created_at": e.created_at, "activation_id": e.activation_id,
        })
    return out


def evacuees(*, shelter_id=None, status=None, match_state=None, q=None):
    qs = Evacuee.objects.select_related("shelter").order_by("-id")
    if shelter_id:
        qs = qs.filter(shelter_id=shelter_id)
    if status:
        qs = qs.filter(status=status)
    if match_state:
        qs = qs.filter(match_state=match_state)
    if q:
        qs = qs.filter(Q(full_name__contains=q) | Q(kana__contains=q))
    return qs


def evacuee_list(reader: policy.Reader, *, shelter_id=None, status=None, match_state=None, q=None, limit=300):
    """(rows as the reader may see them, total), one row per person (one_per_person). Filtering by shelter would tell where a protected evacuee is:
    for a reader without the DV right such evacuees are left out of a shelter's list (and of its total), as an
    address search leaves protected residents out."""
    qs = one_per_person(evacuees(shelter_id=shelter_id, status=status, match_state=match_state, q=q))
    if shelter_id and not reader.dv_addresses:
        evs = list(qs)
        prot = evacuee_protection(evs)
        evs = [e for e in evs if not prot[e.pk]]
        return evacuee_views(evs[:limit], reader), len(evs)
    return evacuee_views(qs[:limit], reader), qs.count()


def evacuee(evacuee_id):
    return Evacuee.objects.select_related("shelter", "activation").filter(pk=evacuee_id).first()


def movements(evacuee_id):
    return EvacueeMovement.objects.filter(evacuee_id=evacuee_id).select_related("shelter", "from_shelter")


def review_queue():
    """Evacuees waiting for a clerk (要確認), oldest first; a registration merged into another is not asked about
    (the person is matched on the primary)."""
    return (Evacuee.objects.filter(match_state=MatchState.REVIEW, merged_into__isnull=True)
            .select_related("shelter").order_by("id"))


def lookup_rows(limit=500):
    """広域避難: the persons not linked to an own resident (a merged person once, by the primary, and not when any of
    its registrations is linked), for matching against an origin's register."""
    qs = (Evacuee.objects.filter(merged_into__isnull=True).exclude(match_state=MatchState.LINKED)
          .exclude(merged__match_state=MatchState.LINKED).order_by("-id"))
    return list(qs[:limit])


def merged_registrations(e) -> list:
    """The registrations merged with `e` (an Evacuee): all members of its person but `e`, with their shelters and
    movements (the evacuee page shows where the person was registered)."""
    root = e.merged_into_id or e.pk
    qs = (Evacuee.objects.filter(Q(pk=root) | Q(merged_into_id=root)).exclude(pk=e.pk)
          .select_related("shelter").order_by("id"))
    return list(qs)


def duplicate_groups(activation_id: int, reader: policy.Reader):
    """重複候補 of one disaster: the registrations sharing a duplicate group (set when registered: the matcher's
    groups and, across registrations, the same resident or the same name and birth date), group by group.
    Returns (pending, merged): pending groups still hold more than one person; merged ones are one person."""
    from jichitai.residents.models import Person

    evs = list(Evacuee.objects.filter(activation_id=activation_id).exclude(duplicate_group="")
               .select_related("shelter").order_by("duplicate_group", "id"))
    # a candidate group in which one registration is (or may be) a protected resident: the others may be the same
    # person, so the whole group is treated as protected
    prot = evacuee_protection(evs)
    hidden_groups = {e.duplicate_group for e in evs if prot[e.pk]}
    prot = {e.pk: prot[e.pk] or e.duplicate_group in hidden_groups for e in evs}
    views = {v["id"]: v for v in evacuee_views(evs, reader, protection=prot)}
    people = {p.pk: p for p in Person.objects.filter(pk__in={e.person_id for e in evs if e.person_id})
              .only("pk", "atena_no", "family_name", "given_name")}
    groups = {}
    for e in evs:
        p = people.get(e.person_id) if e.match_state == MatchState.LINKED else None
        groups.setdefault(e.duplicate_group, []).append(
            {**views[e.pk], "linked_name": p.full_name if p else "", "atena_no": p.atena_no if p else ""})
    pending, merged = [], []
    for key, rows in groups.items():
        persons = {r["merged_into_id"] or r["id"] for r in rows}
        linked = {r["person_id"] for r in rows if r["match_state"] == MatchState.LINKED}
        g = {"key": key, "rows": rows, "persons": len(persons), "conflict": len(linked) > 1}
        (pending if len(persons) > 1 else merged).append(g)
    return pending, merged


def candidate_views(e, reader):
    """The matcher's candidates of one evacuee with the residents' details as the reader may see them."""
    from jichitai.residents.models import Person

    cands = e.match_candidates or []
    persons = {p.pk: p for p in Person.objects.filter(pk__in=[c.get("person_id") for c in cands])}
    prot = policy.protected_person_ids(persons.values())
    out = []
    for c in cands:
        p = persons.get(c.get("person_id"))
        if p is None:
            continue
        data, _ = policy.redact({"address": p.address}, reader, person_protected=p.pk in prot)
        out.append({**c, "name": p.full_name, "kana": p.full_kana, "birth_date": p.birth_date,
                    "sex": p.get_sex_display(), "address": data["address"], "atena_no": p.atena_no})
    return out


# ---------------------------------------------------------------- 安否確認

STATE_LABELS = {"alive": "生存確認", "dead": "死亡の情報", "missing": "行方不明", "sought": "捜索中（情報求む）",
                "unconfirmed": "未確認"}
_STATE_OF = {PfifStatus.IS_NOTE_AUTHOR: "alive", PfifStatus.BELIEVED_ALIVE: "alive",
             PfifStatus.BELIEVED_DEAD: "dead", PfifStatus.BELIEVED_MISSING: "missing",
             PfifStatus.INFORMATION_SOUGHT: "sought"}


def _safety_events():
    """(person id, when, state) for every note about a resident with a status, and every evacuee linked to a
    resident (registered at a shelter or outside one = seen alive)."""
    ev = [(pid, at, _STATE_OF[s]) for pid, at, s in SafetyNote.objects.filter(person__isnull=False)
          .exclude(status="").values_list("person_id", "entry_date", "status")]
    ev += [(pid, at, "alive") for pid, at in Evacuee.objects.filter(match_state=MatchState.LINKED)
           .values_list("person_id", "created_at")]
    return ev


def safety_states() -> dict:
    """{person id: latest state} for residents with any safety information."""
    latest = {}
    for pid, at, state in _safety_events():
        if pid not in latest or at >= latest[pid][0]:
            latest[pid] = (at, state)
    return {pid: s for pid, (_, s) in latest.items()}


def _residents():
    from jichitai.residents.models import Person, Status

    return list(Person.objects.filter(status=Status.RESIDENT).only(
        "pk", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "sex", "address",
        "dv_protected", "household_id", "atena_no").order_by("family_name_kana", "given_name_kana", "pk"))


HIDDEN_DISTRICT = "（支援措置のため地区を表示しません）"


def safety_board(reader: policy.Reader):
    """Counts by district (町字) and state. A protected resident's district is their whereabouts: for a reader
    without the DV right they are counted on a separate line without a district."""
    persons = _residents()
    prot = policy.protected_person_ids(persons)
    states = safety_states()
    board = {}
    for p in persons:
        d = HIDDEN_DISTRICT if p.pk in prot and not reader.dv_addresses else (district_of(p.address) or "（住所なし）")
        row = board.setdefault(d, {k: 0 for k in STATE_LABELS})
        row[states.get(p.pk, "unconfirmed")] += 1
    rows = [{"district": d, **c, "total": sum(c.values())} for d, c in sorted(board.items(), key=lambda x: (
        x[0] == HIDDEN_DISTRICT, x[0]))]
    totals = {k: sum(r[k] for r in rows) for k in (*STATE_LABELS, "total")}
    return rows, totals


def districts(reader):
    return sorted({district_of(p.address) for p in _residents() if p.address} - {""})


def unconfirmed(reader: policy.Reader, *, district: str = "", age_min=None, age_max=None,
                vulnerable_only: bool = False, limit: int = 500, today=None):
    """Residents without a confirming note (生存・本人・死亡), filtered. A district filter never finds a protected
    resident for a reader without the DV right (the match would reveal where they live); their address and district
    are withheld in the list. Returns (rows, total count)."""
    from .vulnerability import vulnerable_person_ids

    today = today or timezone.localdate()
    persons = _residents()
    prot = policy.protected_person_ids(persons)
    states = safety_states()
    vulnerable = vulnerable_person_ids(policy_municipality()) if vulnerable_only else None
    out = []
    for p in persons:
        if states.get(p.pk, "unconfirmed") in ("alive", "dead"):
            continue
        hidden = p.pk in prot and not reader.dv_addresses
        d = district_of(p.address)
        if district and (hidden or d != district):
            continue
        age = today.year - p.birth_date.year - ((today.month, today.day) < (p.birth_date.month, p.birth_date.day))
        if age_min is not None and age < age_min or age_max is not None and age > age_max:
            continue
        if vulnerable is not None and p.pk not in vulnerable:
            continue
        data, _ = policy.redact({"address": p.address}, reader, person_protected=p.pk in prot)
        out.append({"person_id": p.pk, "name": p.full_name, "kana": p.full_kana, "birth_date": p.birth_date,
                    "age": age, "sex": p.get_sex_display(), "district": reader.withheld_value if hidden else d,
                    "address": data["address"], "state": STATE_LABELS[states.get(p.pk, "unconfirmed")],
                    "atena_no": p.atena_no})
    return out[:limit], len(out)


def policy_municipality():
    from jichitai.tenancy.scope import require_municipality

    return require_municipality()


def notes_for(*, person_id=None, evacuee_id=None):
    qs = SafetyNote.objects.order_by("-entry_date", "-id")
    if person_id:
        return qs.filter(Q(person_id=person_id) | Q(evacuee__person_id=person_id))
    e = Evacuee.objects.filter(pk=evacuee_id).values_list("pk", "merged_into_id").first()
    if e is None:
        return qs.none()
    root = e[1] or e[0]  # a merged person's notes are the notes of every registration
    return qs.filter(Q(evacuee_id=root) | Q(evacuee__merged_into_id=root))


def recent_notes(limit=20):
    return SafetyNote.objects.select_related("evacuee", "pfif_record").order_by("-entry_date", "-id")[:limit]


# ---------------------------------------------------------------- dashboard

def confirmation_progress(points: int = 12):
    """[(time, confirmed residents so far)] from the current disaster's declaration to now."""
    act = current_activation()
    if act is None:
        return []
    start, end = min(act.declared_at, act.disaster.occurred_at), timezone.now()  # since the disaster occurred
    if end <= start:
        end = start + _dt.timedelta(hours=1)
    first = {}
    for pid, at, state in sorted(_safety_events(), key=lambda x: x[1]):
        if state in ("alive", "dead") and pid not in first:
            first[pid] = at
    times = sorted(first.values())
    step = (end - start) / points
    out, i = [], 0
    for k in range(points + 1):
        t = start + step * k
        while i < len(times) and times[i] <= t:
            i += 1
        out.append((t, i))
    return out


def resident_count():
    from jichitai.residents.models import Person, Status

    return Person.objects.filter(status=Status.RESIDENT).count()


# ---------------------------------------------------------------- PFIF export

def pfif_export_rows(municipality, *, min_entry_date=None):
    """Person records (dicts of PFIF 1.4 fields, with their notes) for the municipality's evacuees who consented
    to publication and are not — and may not be — DV-protected residents. Incremental: with `min_entry_date`, only
    persons whose record or notes were entered since then (notes: only the new ones)."""
    from .pfif import _SEX, _z, pfif_domain

    qs = Evacuee.objects.filter(consent_public=True).select_related("shelter").order_by("id")
    if min_entry_date is not None:
        qs = qs.filter(Q(updated_at__gte=min_entry_date) | Q(notes__entry_date__gte=min_entry_date)).distinct()
    # one person record per person: a merged person is the primary's record, where they are now (the current
    # registration), with the notes of every registration; published only if every registration consented and
    # none is (or may be) a protected resident
    persons = [(ms, cur) for ms, cur in persons_of(qs) if person_consents(ms, "consent_public")]
    prot = evacuee_protection([e for ms, _ in persons for e in ms])
    persons = [(ms, cur) for ms, cur in persons if not any(prot[e.pk] for e in ms)]
    persons.sort(key=lambda x: x[0][0].pk)
    notes = {}
    owner = {e.pk: ms[0].pk for ms, _ in persons for e in ms}
    nq = SafetyNote.objects.filter(evacuee_id__in=list(owner)).order_by("entry_date", "id")
    if min_entry_date is not None:
        nq = nq.filter(entry_date__gte=min_entry_date)
    for n in nq:
        notes.setdefault(owner[n.evacuee_id], []).append(n)
    dom = pfif_domain(municipality)
    pref = municipality.prefecture.name if municipality.prefecture_id else ""
    out = []
    for ms, cur in persons:
        e = ms[0]
        rid = f"{dom}/evacuee.{e.pk}"
        dob = e.birth_date.isoformat() if e.birth_date else ""
        desc = f"避難先: {cur.shelter.name}" if cur.shelter_id else f"居所: {cur.get_place_kind_display()}"
        out.append({
            "person_record_id": rid, "entry_date": _z(max(x.updated_at for x in ms)),
            "author_name": municipality.name,
            "source_name": f"{municipality.name}（自治体クラウド）", "source_date": _z(e.created_at),
            "full_name": e.full_name, "alternate_names": e.kana, "sex": _SEX.get(e.sex, ""),
            "date_of_birth": dob, "description": desc, "home_neighborhood": district_of(e.address),
            "home_city": municipality.name, "home_state": pref, "home_country": "JP",
            "notes": [{"note_record_id": f"{dom}/note.{n.pk}", "person_record_id": rid,
                       "entry_date": _z(n.entry_date), "author_name": n.author_name,
                       "source_date": _z(n.source_date),
                       "author_made_contact": "" if n.author_made_contact is None else
                       ("true" if n.author_made_contact else "false"),
                       "status": n.status, "text": n.text, "last_known_location": n.last_known_location}
                      for n in notes.get(e.pk, [])],
        })
    return out


def pfif_records():
    return PfifRecord.objects.order_by("-id")


# ---------------------------------------------------------------- 広域避難 (the origin's view of its grants)

def grants_given():
    return LookupGrant.objects.select_related("host").order_by("-granted_at", "-id")



# ---------------------------------------------------------------- 安否情報の照会への回答

INQUIRER_KINDS = {"family": "同居の親族", "acquaintance": "知人その他", "public": "一般（公表）"}


def answer_inquiry(name: str, inquirer: str, *, birth=None):
    """What may be answered to someone asking about `name` (安否情報の照会への回答): per evacuee found by the written
    name (spaces ignored) or reading, the answer allowed by that evacuee's consent for this kind of inquirer. A
    DV-protected resident (or an evacuee who may be one) is never confirmed to exist: the answer is the same as for
    nobody found. Returns the answers (dicts: full_name, answer)."""
    from jichitai.moji.kana import kana_key, name_key

    if inquirer not in INQUIRER_KINDS:
        raise ValueError(inquirer)
    nk, kk = name_key(name or ""), kana_key(name or "")
    if not nk:
        return []
    cands = [e for e in Evacuee.objects.select_related("shelter").order_by("id")
             if name_key(e.full_name) == nk or (kk and kana_key(e.kana) == kk)]
    if birth is not None:
        cands = [e for e in cands if e.birth_date in (None, birth)]
    persons = persons_of(cands)  # a merged person is answered once, where they are now
    prot = evacuee_protection([x for ms, _ in persons for x in ms])
    consent = {"family": "consent_family", "acquaintance": "consent_acquaintance", "public": "consent_public"}[inquirer]
    out = []
    for ms, e in persons:
        if any(prot[x.pk] for x in ms):
            continue  # never say anything, not even "no consent": that would confirm the person is here
        if not person_consents(ms, consent):
            out.append({"full_name": e.full_name, "answer": "回答への同意がないため、お答えできません。"})
            continue
        where = e.shelter.name if e.shelter_id else e.get_place_kind_display()
        out.append({"full_name": e.full_name, "answer": f"避難されています（{where}、{e.get_status_display()}）。"
                    + (f" 負傷・疾病: {e.injury}" if e.injury and inquirer != "public" else "")})
    return out

"""Every write of the disaster app: one function, one transaction, one audit event, validation with clear messages."""
import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.continuity import offline
from jichitai.tenancy.models import Municipality
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import require_municipality, tenant_scope

from .models import Disaster, DisasterActivation, Shelter
from .models.core import DisasterKind


def _validate_disaster(name: str, kind: str, occurred_at):
    errors = {}
    if not (name or "").strip():
        errors["name"] = "災害名を入力してください。"
    elif len(name.strip()) > 100:
        errors["name"] = "災害名は100文字以内で入力してください。"
    if kind not in DisasterKind.values:
        errors["kind"] = "種別を選んでください。"
    if not isinstance(occurred_at, dt.datetime):
        errors["occurred_at"] = "発生日時を入力してください。"
    elif occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = "発生日時が未来になっています。"
    if errors:
        raise ValidationError(errors)


def declare_disaster(user, *, name: str, kind: str, occurred_at, terminal: str = "system") -> DisasterActivation:
    """A municipality declares a disaster for itself (災害の宣言)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    _validate_disaster(name, kind, occurred_at)
    now = timezone.now()
    with transaction.atomic():
        d = Disaster.objects.create(name=name.strip(), kind=kind, occurred_at=occurred_at,
                                    created_by=user.username)
        act = DisasterActivation.objects.create(disaster=d, declared_at=now, declared_by=user.username)
        append(m, "disaster.declare", actor=user, terminal=terminal, object_type="disaster", object_id=str(d.pk),
               detail={"name": d.name, "kind": kind})
    return act


def declare_disaster_for(user, municipalities, *, name: str, kind: str, occurred_at,
                         terminal: str = "system") -> Disaster:
    """The platform operator declares one disaster for several municipalities at once; each municipality's own
    audit chain records it."""
    if not has_perm(user, Perm.MANAGE_TENANTS):
        raise PermissionDenied
    _validate_disaster(name, kind, occurred_at)
    munis = list(municipalities)
    if not munis:
        raise ValidationError({"municipalities": "対象の団体を1つ以上選んでください。"})
    now = timezone.now()
    with transaction.atomic():
        d = Disaster.objects.create(name=name.strip(), kind=kind, occurred_at=occurred_at,
                                    declared_by_operator=True, created_by=user.username)
        for m in munis:
            with tenant_scope(m):
                DisasterActivation.objects.create(disaster=d, declared_at=now, declared_by=user.username)
                append(m, "disaster.declare", actor=user, terminal=terminal, object_type="disaster",
                       object_id=str(d.pk), detail={"name": d.name, "kind": kind, "by_operator": True})
    return d


def end_disaster(user, activation_id: int, *, terminal: str = "system") -> DisasterActivation:
    """The municipality ends the disaster for itself (its records stay)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        act = DisasterActivation.objects.select_for_update().filter(pk=activation_id).first()
        if act is None:
            raise ValidationError("指定された災害が見つかりません。")
        if act.ended_at is not None:
            raise ValidationError("この災害はすでに終了しています。")
        act.ended_at = timezone.now()
        act.ended_by = user.username
        act.save(update_fields=["ended_at", "ended_by"])
        append(m, "disaster.end", actor=user, terminal=terminal, object_type="disaster",
               object_id=str(act.disaster_id))
    return act


SHELTER_FIELDS = ("code", "name", "kind", "address", "latitude", "longitude", "capacity_day", "capacity_night",
                  "contact_name", "contact_phone")


def save_shelter(user, data: dict, *, shelter_id: int | None = None, terminal: str = "system") -> Shelter:
    """Create or edit a shelter (the values come from a validated form or a CSV row)."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        if shelter_id is None:
            s = Shelter(municipality=m)
        else:
            s = Shelter.objects.select_for_update().filter(pk=shelter_id).first()
            if s is None:
                raise ValidationError("指定された避難所が見つかりません。")
        for f in SHELTER_FIELDS:
            if f in data:
                setattr(s, f, data[f])
        if Shelter.objects.filter(code=s.code).exclude(pk=s.pk).exists():
            raise ValidationError({"code": f"避難所コード {s.code} はすでに使われています。"})
        s.full_clean(exclude=["municipality"])
        created = s.pk is None
        s.save()
        append(m, "disaster.shelter_create" if created else "disaster.shelter_update", actor=user,
               terminal=terminal, object_type="shelter", object_id=str(s.pk), detail={"code": s.code})
    return s


def set_shelter_open(user, shelter_id: int, is_open: bool, *, terminal: str = "system") -> Shelter:
    """Open (開設) or close (閉鎖) a shelter."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    m = require_municipality()
    with transaction.atomic():
        s = Shelter.objects.select_for_update().filter(pk=shelter_id).first()
        if s is None:
            raise ValidationError("指定された避難所が見つかりません。")
        if s.is_open == bool(is_open):
            raise ValidationError("この避難所はすでに開設中です。" if is_open else "この避難所はすでに閉鎖されています。")
        now = timezone.now()
        s.is_open = bool(is_open)
        if is_open:
            s.opened_at, s.closed_at = now, None
        else:
            s.closed_at = now
        s.save(update_fields=["is_open", "opened_at", "closed_at", "updated_at"])
        append(m, "disaster.shelter_open" if is_open else "disaster.shelter_close", actor=user, terminal=terminal,
               object_type="shelter", object_id=str(s.pk), detail={"code": s.code})
    return s


def municipalities_by_code(codes):
    """For the operator's declaration form and command: the municipalities named by their codes."""
    found = {m.code: m for m in Municipality.objects.filter(code__in=list(codes))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationError(f"団体コードが見つかりません / unknown municipality code: {', '.join(missing)}")
    return [found[c] for c in codes]


# Japanese labels of this app's audit event codes (the audit screen's filter and 操作 column).
AUDIT_LABELS = {
    "disaster.declare": "災害の宣言", "disaster.end": "災害対応の終了",
    "disaster.shelter_create": "避難所の登録", "disaster.shelter_update": "避難所の変更",
    "disaster.shelter_open": "避難所の開設", "disaster.shelter_close": "避難所の閉鎖",
}

from .support_actions import AUDIT_LABELS as _SUPPORT_LABELS  # noqa: E402  (名簿・被災者台帳)

AUDIT_LABELS.update(_SUPPORT_LABELS)

# ================================================================ evacuees, safety notes, 広域避難, PFIF (#12 items 1,
# 2, 4, 7, 8). Rows are validated by evacuee_rows.clean_row (one validation for the desk, the CSV and the command).

from .models.evacuees import (  # noqa: E402
    Evacuee, EvacueeMovement, EvacueeStatus, LookupGrant, MatchState, MovementKind, PfifRecord,
    PfifStatus, Presence, SafetyNote,
)


def _need(user, perm):
    if not has_perm(user, perm):
        raise PermissionDenied


def _open_activation():
    act = DisasterActivation.objects.filter(ended_at__isnull=True).order_by("-declared_at", "-id").first()
    if act is None:
        raise ValidationError("宣言中の災害がありません。先に災害を宣言してください / no disaster is declared")
    return act


def _open_shelters_by_code():
    return {s.code: s for s in Shelter.objects.filter(is_open=True)}


def _register(user, m, act, rows, *, source, terminal, now):
    """Create evacuees (with their first movement), run the matcher on every row and link the 自動確定 ones.
    Rows are clean (evacuee_rows.clean_row); runs inside the caller's transaction. Returns (evacuees, counts)."""
    from jichitai.privacy.policy import for_staff

    from .matching_seam import match

    results = match(m, [{"name": r["full_name"], "kana": r["kana"], "birth": r["birth_text"], "sex": r["sex"],
                         "address": r["address"], "group": r["group_key"], "evacuee_id": None} for r in rows],
                    for_staff(user))
    from .bulk import insert_evacuees

    evs, moves = [], []
    for i, (r, res) in enumerate(zip(rows, results)):
        shelter = r["shelter"]
        top = res.candidates[0] if res.candidates else None
        if res.decision == "auto" and top:
            person_id, state = top["person_id"], MatchState.LINKED
        elif res.decision == "review" and res.candidates:
            person_id, state = None, MatchState.REVIEW
        else:
            person_id, state = None, MatchState.NONE
        evs.append({
            "municipality_id": m.pk, "activation_id": act.pk, "full_name": r["full_name"], "kana": r["kana"],
            "birth_text": r["birth_text"], "birth_date": r["birth_date"], "sex": r["sex"], "address": r["address"],
            "nationality": r["nationality"], "injury": r["injury"], "place_kind": r["place_kind"],
            "place_note": r["place_note"], "contact": r["contact"], "consent_family": r["consent_family"],
            "consent_acquaintance": r["consent_acquaintance"], "consent_public": r["consent_public"],
            "group_key": r["group_key"], "presence": r["presence"],
            "status": EvacueeStatus.CHECKED_IN if shelter else EvacueeStatus.OUTSIDE,
            "shelter_id": shelter.pk if shelter else None, "person_id": person_id, "match_state": state,
            "match_candidates": list(res.candidates), "duplicate_group": "",  # set by _group_duplicates
            "source": source, "created_at": now, "created_by": user.username, "updated_at": now})
        moves.append({"municipality_id": m.pk, "evacuee_id": i,
                      "kind": MovementKind.CHECK_IN if shelter else MovementKind.OUTSIDE,
                      "shelter_id": shelter.pk if shelter else None, "from_shelter_id": None,
                      "place_kind": r["place_kind"], "presence": r["presence"], "at": now,
                      "operator": user.username, "terminal": terminal})
    created = insert_evacuees(evs, moves)
    new_ids = list(created.values_list("pk", flat=True))
    _group_duplicates(user, m, act, evs, new_ids, [r.duplicate_group or "" for r in results], terminal, now)
    states = [e["match_state"] for e in evs]
    counts = {s: states.count(s) for s in (MatchState.LINKED, MatchState.REVIEW, MatchState.NONE)}
    return created, {"registered": len(evs), "auto_linked": counts[MatchState.LINKED],
                     "review": counts[MatchState.REVIEW], "none": counts[MatchState.NONE]}


# ---------------------------------------------------------------- 同一人物の統合 (duplicates across shelters)

def _identity(full_name, birth_date):
    """Same person by what was written: the characters of the name in any order (spaces dropped) and the full birth
    date — the matcher's rule for rows not confirmed (matching.api._duplicates), across registrations."""
    from jichitai.moji.kana import name_key

    nk = name_key(full_name or "")
    return ("n", "".join(sorted(nk)), birth_date) if nk and birth_date else None


def _group_duplicates(user, m, act, evs, new_ids, matcher_groups, terminal, now):
    """After a registration (inside its transaction): give the new registrations and the disaster's earlier ones
    that are the same person one duplicate group (重複候補) — the matcher's groups within the batch, and across
    registrations the same linked resident or the same name and birth date; rows that arrived together are never
    the same person. Where registrations of a group are linked to the same resident (自動確定 or confirmed), they
    are merged automatically (one audit event `disaster.evacuee_auto_merge` for the batch)."""
    from django.db.models import Q

    if not new_ids:
        return
    births = {e["birth_date"] for e in evs if e["birth_date"]}
    pids = {e["person_id"] for e in evs if e["person_id"]}
    cond = Q(birth_date__in=births) if births else Q(pk__in=[])
    if pids:
        cond |= Q(person_id__in=pids, match_state=MatchState.LINKED)
    # nodes: (id, name, birth, linked person, group_key, duplicate_group, dismissed, merged_into)
    nodes = [(i, e["full_name"], e["birth_date"], e["person_id"] if e["match_state"] == MatchState.LINKED else None,
              e["group_key"], "", False, None) for i, e in zip(new_ids, evs)]
    if births or pids:
        nodes += [(pk, n, b, p if st == MatchState.LINKED else None, g, dg, dis, into)
                  for pk, n, b, p, st, g, dg, dis, into in Evacuee.objects.filter(activation_id=act.pk).filter(cond)
                  .exclude(pk__gte=new_ids[0], pk__lte=new_ids[-1]).values_list(
                      "pk", "full_name", "birth_date", "person_id", "match_state", "group_key", "duplicate_group",
                      "duplicate_dismissed", "merged_into_id")]
    parent = {n[0]: n[0] for n in nodes}
    info = {n[0]: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        if info[a][4] and info[a][4] == info[b][4]:
            return  # arrived together: different people
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first = {}
    for i, g in zip(new_ids, matcher_groups):
        if g:
            union(first.setdefault(("m", g), i), i)
    for n in nodes:
        keys = [("p", n[3])] if n[3] else []
        ident = None if n[6] else _identity(n[1], n[2])  # 別人と確認済み: not grouped by name and birth again
        if ident:
            keys.append(ident)
        for k in keys:
            union(first.setdefault(k, n[0]), n[0])
    comps = {}
    for n in nodes:
        comps.setdefault(find(n[0]), []).append(n[0])
    from .bulk import set_duplicate_groups

    new = set(new_ids)
    merges, keyed = [], []
    for ids in comps.values():
        if len(ids) < 2 or not new & set(ids):
            continue
        keys = sorted({info[i][5] for i in ids} - {""})
        key = keys[0] if keys else f"D{min(ids)}"
        keyed += [(key, i) for i in ids if info[i][5] != key]
        # automatic merge: registrations linked to the same resident, at least one of them new
        by_person = {}
        for i in ids:
            if info[i][3]:
                by_person.setdefault(info[i][3], set()).add(i)
        for pid, same in by_person.items():
            if not new & same:
                continue
            roots = sorted({info[i][7] or i for i in same})
            if len(roots) >= 2:
                merges.append({"primary": roots[0], "merged": roots[1:], "person": pid})
    set_duplicate_groups(keyed)
    if merges:  # a registration of one of them linked to someone else: no automatic merge, staff decide (重複候補)
        allroots = [r for mg in merges for r in (mg["primary"], *mg["merged"])]
        linked_to = {}
        for pk, into, pid in (Evacuee.objects.filter(Q(pk__in=allroots) | Q(merged_into_id__in=allroots),
                                                     match_state=MatchState.LINKED)
                              .values_list("pk", "merged_into_id", "person_id")):
            linked_to.setdefault(into or pk, set()).add(pid)
        merges = [mg for mg in merges if all(linked_to.get(r, set()) <= {mg["person"]}
                                             for r in (mg["primary"], *mg["merged"]))]
    for mg in merges:
        _merge_rows(mg["primary"], mg["merged"], user, now, auto=True)
    if merges:
        append(m, "disaster.evacuee_auto_merge", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(merges[0]["primary"]), detail={"auto": True, "merges": merges})


def _merge_rows(primary_id, other_ids, user, now, *, auto):
    """Point the other registrations (and what was merged into them) to the primary; touch the primary (its PFIF
    record changed)."""
    from django.db.models import Q

    Evacuee.objects.filter(Q(pk__in=other_ids) | Q(merged_into_id__in=other_ids)).update(
        merged_into_id=primary_id, merged_at=now, merged_by=user.username, merged_auto=auto, updated_at=now)
    Evacuee.objects.filter(pk=primary_id).update(updated_at=now)


def merge_evacuees(user, evacuee_ids, *, terminal: str = "system") -> Evacuee:
    """同一人物として統合: registrations of one person (e.g. at two shelters) become one person. The primary is the
    registration linked to a resident (the earliest such), else the earliest 要確認 one, else the earliest; the
    others point to it and are kept with their check-in/out history. Refused: fewer than two, the same registration
    twice, one already merged into another, another disaster, registrations linked to different residents. Returns
    the primary."""
    from django.db.models import Q

    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    try:
        ids = [int(i) for i in evacuee_ids]
    except (TypeError, ValueError):
        raise ValidationError("統合する登録の指定が正しくありません。") from None
    if len(set(ids)) != len(ids):
        raise ValidationError("同じ登録を自分自身に統合することはできません。")
    if len(ids) < 2:
        raise ValidationError("統合する登録を2件以上選んでください。")
    with transaction.atomic():
        evs = list(Evacuee.objects.select_for_update().filter(pk__in=ids).order_by("id"))
        if len(evs) != len(ids) or any(e.municipality_id != m.pk for e in evs):
            raise ValidationError("指定された避難者が見つかりません / evacuee not found")
        for e in evs:
            if e.merged_into_id:
                raise ValidationError(f"{e.full_name} さんの登録（{e.pk}）はすでに別の登録（{e.merged_into_id}）に"
                                      "統合済みです。統合先の登録を選んでください。")
        if len({e.activation_id for e in evs}) > 1:
            raise ValidationError("別の災害の登録は統合できません。")
        members = list(Evacuee.objects.filter(Q(pk__in=ids) | Q(merged_into_id__in=ids)).order_by("id"))
        linked = {}
        for e in members:
            if e.match_state == MatchState.LINKED and e.person_id:
                linked.setdefault(e.person_id, e)
        if len(linked) > 1:
            names = "、".join(f"{e.full_name}（登録 {e.pk}）" for e in linked.values())
            raise ValidationError(f"別々の住民と照合済みの登録は統合できません: {names}。同じ人であれば、先に照合を"
                                  "見直してください（照合の確認）。")
        linked_roots = sorted({x.merged_into_id or x.pk for x in linked.values()})
        # the primary: the registration linked to a resident; else one waiting for a clerk's confirmation (要確認),
        # which must stay in the review queue (a merged registration is not asked about); else the earliest
        primary = (next((e for e in evs if e.pk in linked_roots), None)
                   or next((e for e in evs if e.match_state == MatchState.REVIEW), None) or evs[0])
        others = [e.pk for e in evs if e.pk != primary.pk]
        now = timezone.now()
        _merge_rows(primary.pk, others, user, now, auto=False)
        append(m, "disaster.evacuee_merge", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(primary.pk), detail={"primary": primary.pk, "merged": others, "auto": False,
                                                  "person": next(iter(linked), None)})
    primary.refresh_from_db()
    return primary


def unmerge_evacuee(user, evacuee_id: int, *, terminal: str = "system") -> Evacuee:
    """統合の取消: the registration is a person of its own again (it stays a 重複候補 of its group)."""
    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        if e.merged_into_id is None:
            if Evacuee.objects.filter(merged_into_id=e.pk).exists():
                raise ValidationError("この登録は統合先です。取り消すには、統合された側の登録で操作してください。")
            raise ValidationError("この登録は統合されていません。")
        was, was_auto = e.merged_into_id, e.merged_auto
        e.merged_into, e.merged_at, e.merged_by, e.merged_auto = None, None, "", False
        e.save()
        Evacuee.objects.filter(pk=was).update(updated_at=timezone.now())
        append(m, "disaster.evacuee_unmerge", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(e.pk), detail={"primary": was, "was_auto": was_auto})
    return e


def dismiss_duplicate(user, evacuee_id: int, *, terminal: str = "system") -> Evacuee:
    """別人: the registration is not the same person as the others of its duplicate group; it leaves the group and
    is not grouped by name and birth date again."""
    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        if not e.duplicate_group:
            raise ValidationError("この登録は重複候補ではありません。")
        if e.merged_into_id or Evacuee.objects.filter(merged_into_id=e.pk).exists():
            raise ValidationError("統合済みの登録です。別人とするには、先に統合を取り消してください。")
        group = e.duplicate_group
        e.duplicate_group, e.duplicate_dismissed = "", True
        e.save()
        append(m, "disaster.evacuee_not_duplicate", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(e.pk), detail={"group": group})
    return e


def register_evacuees(user, rows: list[dict], *, source: str = "desk", terminal: str = "system"):
    """Register a group of evacuees (a household at the reception desk: one person per line). `rows` are raw
    values (dicts of evacuee_rows.FIELDS); every row is validated first, and a bad row refuses the whole group with
    its line number. The matcher runs on every row; only 自動確定 links, 要確認 waits for a clerk."""
    from .evacuee_rows import clean_rows

    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        act = _open_activation()
        clean = clean_rows(rows, _open_shelters_by_code())
        now = timezone.now()
        created, counts = _register(user, m, act, clean, source=source, terminal=terminal, now=now)
        ids = list(created.values_list("pk", flat=True))
        append(m, "disaster.evacuees_register", actor=user, terminal=terminal, object_type="evacuee",
               object_id=f"{ids[0]}-{ids[-1]}", detail={"source": source, **counts})
        # on an offline kit: the same rows go to the outbox; syncing registers them on the platform (matched there)
        offline.record("evacuees_registered", {"rows": [dict(r) for r in rows], "source": source}, actor=user)
    return created, counts


def import_evacuees_csv(user, data: bytes | str, *, terminal: str = "system"):
    """Bulk entry from a CSV typed from a shelter's paper list (evacuee_rows.CSV_HEADERS). Every bad row is reported
    with its line number and nothing is written; otherwise all rows are registered in one transaction."""
    from .evacuee_rows import parse_csv

    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        act = _open_activation()
        clean = parse_csv(data, _open_shelters_by_code())
        now = timezone.now()
        created, counts = _register(user, m, act, clean, source="csv", terminal=terminal, now=now)
        ids = list(created.values_list("pk", flat=True))
        append(m, "disaster.evacuees_import", actor=user, terminal=terminal, object_type="evacuee",
               object_id=f"{ids[0]}-{ids[-1]}", detail={"source": "csv", **counts})
    return created, counts


def _not_offline(what: str):
    """Evacuee changes the offline kit's outbox does not carry are refused on a kit (they would be lost at sync)."""
    if offline.offline_mode():
        raise ValidationError(f"{what}はオフラインキットでは行えません（同期しても本庁に反映されないため）。"
                              "ネットワーク復旧後に本庁のシステムで行ってください。")


def _evacuee_for_update(evacuee_id):
    e = Evacuee.objects.select_for_update().filter(pk=evacuee_id).first()
    if e is None:
        raise ValidationError("指定された避難者が見つかりません / evacuee not found")
    return e


def move_evacuee(user, evacuee_id: int, kind: str, *, shelter_id: int | None = None, place_kind: str | None = None,
                 presence: str | None = None, place_note: str = "", terminal: str = "system") -> Evacuee:
    """Check in (入所), check out (退所), transfer (避難所間の移動) or move outside a shelter (在宅避難・車中泊).
    Appends one movement; the evacuee's current state follows."""
    from .models.core import EvacuationPlace

    _need(user, Perm.REGISTER_EVACUEES)
    _not_offline("避難所の入退所・移動")
    m = require_municipality()
    if kind not in MovementKind.values:
        raise ValidationError({"kind": "操作を選んでください。"})
    if presence and presence not in Presence.values:
        raise ValidationError({"presence": "在所（昼夜・夜間のみ・昼間のみ）を選んでください。"})
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        target = None
        if kind in (MovementKind.CHECK_IN, MovementKind.TRANSFER):
            target = Shelter.objects.filter(pk=shelter_id, is_open=True).first() if shelter_id else None
            if target is None:
                raise ValidationError({"shelter": "開設中の避難所を選んでください / choose an open shelter"})
        if kind == MovementKind.CHECK_IN and e.status == EvacueeStatus.CHECKED_IN:
            raise ValidationError(f"{e.full_name} さんはすでに入所中です（移動は「移動」で登録します）。")
        if kind in (MovementKind.CHECK_OUT, MovementKind.TRANSFER) and e.status != EvacueeStatus.CHECKED_IN:
            raise ValidationError(f"{e.full_name} さんは避難所に入所していません。")
        if kind == MovementKind.TRANSFER and target.pk == e.shelter_id:
            raise ValidationError({"shelter": "移動先が現在の避難所と同じです。"})
        if kind == MovementKind.OUTSIDE and place_kind not in (EvacuationPlace.HOME, EvacuationPlace.CAR,
                                                               EvacuationPlace.OTHER):
            raise ValidationError({"place_kind": "避難所以外の居所（在宅避難・車中泊・その他）を選んでください。"})
        from_shelter = e.shelter_id
        if kind in (MovementKind.CHECK_IN, MovementKind.TRANSFER):
            e.status, e.shelter, e.place_kind = EvacueeStatus.CHECKED_IN, target, EvacuationPlace.SHELTER
        elif kind == MovementKind.CHECK_OUT:
            e.status, e.shelter = EvacueeStatus.CHECKED_OUT, None
        else:
            e.status, e.shelter, e.place_kind = EvacueeStatus.OUTSIDE, None, place_kind
            e.place_note = (place_note or "")[:200]
        if presence:
            e.presence = presence
        e.save()
        EvacueeMovement.objects.create(evacuee=e, kind=kind, shelter=e.shelter, from_shelter_id=from_shelter,
                                       place_kind=e.place_kind, presence=e.presence, at=timezone.now(),
                                       operator=user.username, terminal=terminal)
        append(m, f"disaster.evacuee_{kind}", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(e.pk), detail={"shelter": e.shelter.code if e.shelter else None,
                                            "from": from_shelter, "place": e.place_kind})
    return e


def confirm_match(user, evacuee_id: int, person_id: int, *, terminal: str = "system") -> Evacuee:
    """A clerk confirms that the evacuee is this resident (one of the matcher's candidates)."""
    from jichitai.residents.models import Person

    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        ids = {c.get("person_id") for c in e.match_candidates or []}
        if int(person_id) not in ids:
            raise ValidationError("照合候補にない住民は選べません / not one of the candidates")
        p = Person.objects.filter(pk=person_id).first()
        if p is None:
            raise ValidationError("指定された住民が見つかりません。")
        if e.match_state == MatchState.LINKED and e.person_id == p.pk:
            raise ValidationError("すでにこの住民と確認済みです。")
        root = e.merged_into_id or e.pk
        from django.db.models import Q

        if (Evacuee.objects.filter(Q(pk=root) | Q(merged_into_id=root), match_state=MatchState.LINKED)
                .exclude(pk=e.pk).exclude(person_id=p.pk).exists()):
            raise ValidationError("同一人物として統合した別の登録が、別の住民と照合済みです。統合を取り消してから"
                                  "照合してください。")
        e.person, e.match_state = p, MatchState.LINKED
        e.save()
        append(m, "disaster.evacuee_link", actor=user, terminal=terminal, object_type="evacuee", object_id=str(e.pk),
               detail={"person": p.pk, "atena_no": p.atena_no})
    return e


def mark_non_resident(user, evacuee_id: int, *, terminal: str = "system") -> Evacuee:
    """該当なし: the evacuee is kept as a non-resident (a visitor, a resident of elsewhere)."""
    _need(user, Perm.REGISTER_EVACUEES)
    m = require_municipality()
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        was = e.person_id
        e.person, e.match_state = None, MatchState.NONE
        e.save()
        append(m, "disaster.evacuee_unlink", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(e.pk), detail={"previous_person": was})
    return e


def set_consent(user, evacuee_id: int, *, family: bool, acquaintance: bool, public: bool,
                terminal: str = "system") -> Evacuee:
    """The evacuee's consent to disclose (家族・知人・公表), as they said it; every change audited."""
    _need(user, Perm.REGISTER_EVACUEES)
    _not_offline("開示の同意の変更")
    m = require_municipality()
    with transaction.atomic():
        e = _evacuee_for_update(evacuee_id)
        e.consent_family, e.consent_acquaintance, e.consent_public = bool(family), bool(acquaintance), bool(public)
        e.save()
        append(m, "disaster.evacuee_consent", actor=user, terminal=terminal, object_type="evacuee",
               object_id=str(e.pk), detail={"family": e.consent_family, "acquaintance": e.consent_acquaintance,
                                            "public": e.consent_public})
    return e


def add_safety_note(user, *, person_id: int | None = None, evacuee_id: int | None = None, status: str = "",
                    text: str = "", author_name: str = "", author_made_contact: bool | None = None,
                    last_known_location: str = "", terminal: str = "system") -> SafetyNote:
    """One safety note (安否情報) about a resident or an evacuee, with a PFIF status. Notes are never changed: a
    correction is a new note."""
    from jichitai.residents.models import Person

    _need(user, Perm.CONFIRM_SAFETY)
    m = require_municipality()
    errors = {}
    if bool(person_id) == bool(evacuee_id):
        errors["person"] = "住民か避難者のどちらか一方を指定してください。"
    if status not in PfifStatus.values:
        errors["status"] = "状態を選んでください。"
    if not (text or "").strip():
        errors["text"] = "内容を入力してください。"
    elif len(text) > 2000:
        errors["text"] = "内容は2000文字以内で入力してください。"
    if len(author_name or "") > 200 or len(last_known_location or "") > 300:
        errors["author_name"] = "情報提供者は200文字、場所は300文字以内で入力してください。"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        person = evacuee = None
        if person_id:
            person = Person.objects.filter(pk=person_id).first()
            if person is None:
                raise ValidationError({"person": "指定された住民が見つかりません。"})
        else:
            evacuee = Evacuee.objects.filter(pk=evacuee_id).first()
            if evacuee is None:
                raise ValidationError({"person": "指定された避難者が見つかりません。"})
            person = evacuee.person  # a linked evacuee's note is about the resident too
        now = timezone.now()
        n = SafetyNote.objects.create(person=person, evacuee=evacuee, status=status, text=text.strip(),
                                      author_name=(author_name or "").strip() or m.name,
                                      author_made_contact=author_made_contact,
                                      last_known_location=(last_known_location or "").strip(), source_date=now,
                                      entry_date=now, operator=user.username, terminal=terminal)
        if evacuee is not None:
            evacuee.save(update_fields=["updated_at"])  # the PFIF person record changed (incremental feed)
        append(m, "disaster.safety_note", actor=user, terminal=terminal, object_type="safety_note",
               object_id=str(n.pk), detail={"status": status, "person": getattr(person, "pk", None),
                                            "evacuee": getattr(evacuee, "pk", None)})
        # on an offline kit: to the outbox. Residents have the same ids in the kit and on the platform; an evacuee
        # registered offline has not (the sync applies a note about him only when he is linked to a resident)
        offline.record("safety_note", {"person_id": getattr(person, "pk", None), "evacuee_id": getattr(evacuee, "pk", None),
                                       "evacuee_name": getattr(evacuee, "full_name", ""), "status": status,
                                       "text": n.text, "author_name": n.author_name,
                                       "author_made_contact": author_made_contact,
                                       "last_known_location": n.last_known_location}, actor=user)
    return n


# ---------------------------------------------------------------- 広域避難: lookup grants

MAX_GRANT_DAYS = 90


def _validate_grant(origin, host, expires_at, reason):
    errors = {}
    if host is None:
        errors["host"] = "受入団体が見つかりません。"
    elif host.pk == origin.pk:
        errors["host"] = "自団体には許可できません。"
    now = timezone.now()
    if not isinstance(expires_at, dt.datetime) or expires_at <= now:
        errors["expires_at"] = "有効期限は現在より後の日時にしてください。"
    elif expires_at > now + dt.timedelta(days=MAX_GRANT_DAYS):
        errors["expires_at"] = f"有効期限は{MAX_GRANT_DAYS}日以内にしてください（延長は新しい許可で）。"
    if not (reason or "").strip():
        errors["reason"] = "理由を入力してください。"
    if errors:
        raise ValidationError(errors)


def grant_lookup(user, host_code: str, *, expires_at, reason: str, terminal: str = "system") -> LookupGrant:
    """The origin municipality (in scope) lets `host_code` look up its residents (minimal fields) until
    `expires_at`. Audited on both chains."""
    _need(user, Perm.DISASTER_RESPONSE)
    origin = require_municipality()
    host = Municipality.objects.filter(code=(host_code or "").strip(), is_active=True).first()
    _validate_grant(origin, host, expires_at, reason)
    with transaction.atomic():
        act = DisasterActivation.objects.filter(ended_at__isnull=True).order_by("-declared_at").first()
        g = LookupGrant.objects.create(host=host, activation=act, reason=reason.strip(), granted_at=timezone.now(),
                                       granted_by=user.username, expires_at=expires_at)
        _audit_grant(origin, host, g, "disaster.grant_create", user, terminal)
    return g


def grant_lookup_by_operator(user, origin_code: str, host_code: str, *, expires_at, reason: str,
                             terminal: str = "system") -> LookupGrant:
    """The platform operator grants on the origin's behalf — only while a disaster is declared for the origin."""
    _need(user, Perm.MANAGE_TENANTS)
    origin = Municipality.objects.filter(code=(origin_code or "").strip()).first()
    if origin is None:
        raise ValidationError({"origin": "被災団体が見つかりません。"})
    host = Municipality.objects.filter(code=(host_code or "").strip(), is_active=True).first()
    _validate_grant(origin, host, expires_at, reason)
    with transaction.atomic(), tenant_scope(origin):
        act = DisasterActivation.objects.filter(ended_at__isnull=True).order_by("-declared_at").first()
        if act is None:
            raise ValidationError({"origin": "被災団体に宣言中の災害がないため、運用者は許可できません。"})
        g = LookupGrant.objects.create(host=host, activation=act, reason=reason.strip(), granted_at=timezone.now(),
                                       granted_by=user.username, by_operator=True, expires_at=expires_at)
        _audit_grant(origin, host, g, "disaster.grant_create", user, terminal)
    return g


def revoke_grant(user, grant_id: int, *, origin_code: str | None = None, terminal: str = "system") -> LookupGrant:
    """Revoke a grant: the origin's staff (in scope), or the operator naming the origin."""
    if origin_code is not None:
        _need(user, Perm.MANAGE_TENANTS)
        origin = Municipality.objects.filter(code=origin_code).first()
        if origin is None:
            raise ValidationError("被災団体が見つかりません。")
    else:
        _need(user, Perm.DISASTER_RESPONSE)
        origin = require_municipality()
    with transaction.atomic(), tenant_scope(origin):
        g = LookupGrant.objects.select_for_update().filter(pk=grant_id).first()
        if g is None:
            raise ValidationError("指定された許可が見つかりません。")
        if g.revoked_at is not None:
            raise ValidationError("この許可はすでに取り消されています。")
        g.revoked_at, g.revoked_by = timezone.now(), user.username
        g.save(update_fields=["revoked_at", "revoked_by"])
        _audit_grant(origin, g.host, g, "disaster.grant_revoke", user, terminal)
    return g


def _audit_grant(origin, host, g, action, user, terminal):
    detail = {"grant": g.pk, "origin": origin.code, "host": host.code,
              "expires_at": g.expires_at.isoformat(), "by_operator": g.by_operator}
    append(origin, action, actor=user, terminal=terminal, object_type="lookup_grant", object_id=str(g.pk),
           detail=detail)
    append(host, action, actor=user, terminal=terminal, object_type="lookup_grant", object_id=str(g.pk),
           detail=detail)


# ---------------------------------------------------------------- PFIF import

def import_pfif(user, data: bytes, *, source_domain: str, terminal: str = "system"):
    """Import a PFIF document (1.1–1.4). Records are checked one by one: good ones are stored (person records as
    PfifRecord, notes as SafetyNote), every bad one is reported with its reason — none is dropped silently. A
    document that cannot be read at all (not XML, DOCTYPE/entities, not PFIF) refuses the whole import."""
    from .pfif import parse_document

    _need(user, Perm.CONFIRM_SAFETY)
    m = require_municipality()
    persons, problems = parse_document(data, source_domain=source_domain)  # raises ValidationError if unreadable
    now = timezone.now()
    stored_p = stored_n = 0
    with transaction.atomic():
        existing = set(PfifRecord.objects.filter(record_id__in=[p["person_record_id"] for p in persons])
                       .values_list("record_id", flat=True))
        known_notes = set(SafetyNote.objects.exclude(note_record_id="").values_list("note_record_id", flat=True))
        for p in persons:
            rid = p["person_record_id"]
            if rid in existing:
                rec = PfifRecord.objects.get(record_id=rid)
                if not p.get("existing"):  # a person record sent again: kept as first received, and said so
                    problems.append({"record": rid, "line": p.get("line"),
                                     "reason": "取込済みの人物レコードです（重複、内容は更新しません） / already imported"})
            else:
                rec = PfifRecord.objects.create(record_id=rid, full_name=p["full_name"], source_date=p["source_date"],
                                                entry_date=now, expiry_date=p.get("expiry_date"),
                                                data=p["fields"], imported_by=user.username)
                existing.add(rid)
                stored_p += 1
            for n in p["notes"]:
                if n["note_record_id"] in known_notes:
                    problems.append({"record": n["note_record_id"], "line": n.get("line"),
                                     "reason": "取込済みのノートです（重複） / note already imported"})
                    continue
                SafetyNote.objects.create(pfif_record=rec, status=n["status"], author_name=n["author_name"],
                                          author_made_contact=n["author_made_contact"], text=n["text"],
                                          last_known_location=n["last_known_location"],
                                          source_date=n["source_date"], entry_date=now,
                                          note_record_id=n["note_record_id"], operator=user.username,
                                          terminal=terminal)
                known_notes.add(n["note_record_id"])
                stored_n += 1
        report = {"persons": stored_p, "notes": stored_n, "problems": problems}
        append(m, "disaster.pfif_import", actor=user, terminal=terminal, object_type="pfif",
               detail={"domain": source_domain, "persons": stored_p, "notes": stored_n, "problems": len(problems)})
    return report


AUDIT_LABELS.update({
    "disaster.evacuees_register": "避難者の登録", "disaster.evacuees_import": "避難者の一括登録（CSV）",
    "disaster.evacuee_check_in": "避難所への入所", "disaster.evacuee_check_out": "避難所からの退所",
    "disaster.evacuee_transfer": "避難所間の移動", "disaster.evacuee_outside": "避難所外での避難",
    "disaster.evacuee_link": "避難者と住民の照合確定", "disaster.evacuee_unlink": "避難者を住民以外として確定",
    "disaster.evacuee_consent": "安否情報の開示同意の変更", "disaster.safety_note": "安否情報の記録",
    "disaster.grant_create": "広域避難の照会許可", "disaster.grant_revoke": "広域避難の照会許可の取消",
    "disaster.crossarea_lookup": "広域避難の照会", "disaster.pfif_import": "PFIFの取込",
    "disaster.pfif_export": "PFIFの出力", "disaster.safety_board": "安否確認の集計の閲覧",
    "disaster.unconfirmed_list": "安否未確認者の一覧の閲覧", "disaster.evacuee_list": "避難者一覧の閲覧",
    "disaster.evacuee_view": "避難者の閲覧", "disaster.review_view": "照合の確認画面の閲覧",
    "disaster.crossarea_refused": "広域避難の照会（拒否）", "disaster.inquiry": "安否情報の照会への回答",
    "disaster.evacuee_merge": "避難者の重複登録の統合", "disaster.evacuee_auto_merge": "避難者の重複登録の自動統合（照合）",
    "disaster.evacuee_unmerge": "避難者の統合の取消", "disaster.evacuee_not_duplicate": "重複候補を別人として確定",
    "disaster.duplicates_view": "重複候補の閲覧",
})

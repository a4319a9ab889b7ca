"""広域避難: a host municipality looks up its evacuees in an origin municipality's register, under a grant.

The only cross-tenant code of the disaster app (allow-listed in tests/test_db_guard.py). Every lookup:

1. reads the grant inside `cross_tenant(...)` (the grant row is the origin's) and refuses unless it names the
   host in scope, is not revoked and has not expired;
2. runs the matcher on the ORIGIN's register inside `tenant_scope(origin)` — never across tenants — with an export
   reader without DV rights;
3. drops every candidate who is DV-protected in the origin (privacy.policy), returns nobody for 該当なし and only
   candidates scoring the matcher's REVIEW_MIN_SCORE or more, with minimal fields only (MINIMAL_FIELDS: no
   宛名番号, 住民票コード, 個人番号, address, household, and no birth date — only whether it matched);
   an operator's grant stops when the disaster that justified it ends; the grant is read FOR UPDATE in the
   lookup's transaction, so a revocation cannot race it;
4. appends one audit entry to the origin's chain and one to the host's, in the same transaction; a refused
   lookup is audited as `disaster.crossarea_refused` (host; origin too when the grant is theirs).
"""
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from jichitai.audit.actions import append
from jichitai.privacy import policy
from jichitai.tenancy.roles import Perm, has_perm
from jichitai.tenancy.scope import cross_tenant, require_municipality, tenant_scope

from .districts import district_of
from .matching_seam import match
from .models.evacuees import LookupGrant

MINIMAL_FIELDS = ("name", "kana", "birth", "sex", "district", "score", "reasons")


class GrantRefused(PermissionDenied):
    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def grants_received():
    """Grants given to the municipality in scope (the host), newest first, active or not."""
    host = require_municipality()
    with cross_tenant("広域避難: grants naming this host are rows of their origin municipalities"):
        return list(LookupGrant.all_tenants.select_related("municipality").filter(host_id=host.pk)
                    .order_by("-granted_at", "-id"))


def _grant_for_host(grant_id, host, *, lock=False):
    with cross_tenant("広域避難: read one grant of its origin to check it names this host"):
        q = LookupGrant.all_tenants.select_related("municipality", "host").filter(pk=grant_id)
        if lock:  # inside the lookup's transaction: a revocation waits for the lookup, or the lookup sees it
            q = q.select_for_update(of=("self",))
        g = q.first()
        ended = g is not None and g.by_operator and _activation_ended(g)
    if g is None or g.host_id != host.pk:
        return None, "照会の許可がありません / no grant for this municipality"
    if g.revoked_at is not None:
        return g, "照会の許可は取り消されています / the grant was revoked"
    if g.expires_at <= timezone.now():
        return g, "照会の許可の有効期限が切れています / the grant has expired"
    if ended:
        return g, "運用者による照会の許可は、災害の宣言が終了したため無効です / the disaster has ended"
    return g, ""


def _activation_ended(g) -> bool:
    """An operator's grant is justified by the origin's declared disaster: it stops when that disaster ends."""
    from .models.core import DisasterActivation

    if g.activation_id is None:
        return True
    ended_at = DisasterActivation.all_tenants.filter(pk=g.activation_id).values_list("ended_at", flat=True).first()
    return ended_at is not None


def _minimal_candidates(r, persons, protected):
    """Only candidates the matcher would put before a person (score ≥ REVIEW_MIN_SCORE), none for 該当なし, no
    DV-protected person; the birth date itself is never handed over, only whether it matched."""
    from jichitai.matching.api import REVIEW_MIN_SCORE

    if r.decision == "none":
        return [], False
    cands, withheld = [], False
    for c in r.candidates:
        p = persons.get(c["person_id"])
        if (c["score"] or 0) < REVIEW_MIN_SCORE:
            continue
        if p is None or p.pk in protected:
            withheld = True
            continue
        reasons = list(c["reasons"])
        birth = next((x for x in reasons if x.startswith("生年")), "生年月日の照合なし")
        cands.append({"name": p.full_name, "kana": p.full_kana, "birth": birth, "sex": p.get_sex_display(),
                      "district": district_of(p.address), "score": c["score"], "reasons": reasons})
    return cands, withheld


def _refuse(user, host, g, grant_id, why, terminal):
    """A refused lookup is audited too: on the host's chain, and on the origin's when the grant is theirs."""
    detail = {"grant": grant_id, "host": host.code, "reason": why}
    with transaction.atomic():
        append(host, "disaster.crossarea_refused", actor=user, terminal=terminal, object_type="lookup_grant",
               object_id=str(grant_id), detail=detail)
        if g is not None and g.host_id == host.pk:
            append(g.municipality, "disaster.crossarea_refused", actor=user, terminal=terminal,
                   object_type="lookup_grant", object_id=str(grant_id), detail=detail)
    raise GrantRefused(why)


def lookup(user, grant_id: int, rows: list[dict], *, terminal: str = "system") -> list[dict]:
    """Match the host's rows (matcher rows: name, kana, birth, sex, address, evacuee_id) against the origin's
    register. Returns per row: evacuee_id, decision, candidates with MINIMAL_FIELDS only."""
    if not has_perm(user, Perm.DISASTER_RESPONSE):
        raise PermissionDenied
    host = require_municipality()
    if not rows:
        raise ValidationError("照会する避難者がいません / no rows")
    if len(rows) > 5000:
        raise ValidationError("1回に照会できるのは5000人までです / at most 5000 rows")
    with transaction.atomic():
        g, why = _grant_for_host(grant_id, host, lock=True)
        if not why:
            return _lookup_granted(user, host, g, rows, terminal)
    _refuse(user, host, g, grant_id, why, terminal)


def _lookup_granted(user, host, g, rows, terminal):
    from jichitai.residents.models import Person

    origin = g.municipality
    reader = policy.for_export(user, include_protected_addresses=False, purpose=f"crossarea:{host.code}")
    with tenant_scope(origin):
        results = match(origin, rows, reader)
        ids = {c["person_id"] for r in results for c in r.candidates}
        persons = {p.pk: p for p in Person.objects.filter(pk__in=ids)}
        protected = policy.protected_person_ids(persons.values())
    out, returned = [], 0
    for row, r in zip(rows, results):
        cands, withheld = _minimal_candidates(r, persons, protected)
        decision = r.decision if cands else "none"
        if decision == "auto" and withheld:
            decision = "review"
        returned += len(cands)
        out.append({"evacuee_id": row.get("evacuee_id"), "decision": decision, "candidates": cands})
    detail = {"grant": g.pk, "origin": origin.code, "host": host.code, "rows": len(rows),
              "candidates_returned": returned}
    append(origin, "disaster.crossarea_lookup", actor=user, terminal=terminal, object_type="lookup_grant",
           object_id=str(g.pk), detail=detail)
    append(host, "disaster.crossarea_lookup", actor=user, terminal=terminal, object_type="lookup_grant",
           object_id=str(g.pk), detail=detail)
    return out


def all_grants(limit: int = 200):
    """For the platform operator: every grant (no personal data: origin, host, dates, reason), newest first."""
    with cross_tenant("広域避難: the operator lists grants of every origin (no personal data)"):
        return list(LookupGrant.all_tenants.select_related("municipality", "host")
                    .order_by("-granted_at", "-id")[:limit])

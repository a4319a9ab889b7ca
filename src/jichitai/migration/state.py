"""A digest of what migrations left in the register of one municipality: used to prove that an interrupted and
resumed import ends in the same state as an uninterrupted one (ids and commit times excluded)."""
import hashlib
import json

from jichitai.residents.models import Household, Person, PersonHistory
from jichitai.tenancy.models import NumberSequence

from .models import LegacyKey, MigrationChunk, MigrationRow, MigrationRun, PersonExtra


def state_digest(municipality) -> dict:
    h = hashlib.sha256()

    def feed(tag, rows):
        n = 0
        for r in rows:
            r = [bytes(x).hex() if isinstance(x, (bytes, memoryview)) else x for x in r]
            h.update(json.dumps([tag, *r], ensure_ascii=False, default=str, sort_keys=True).encode())
            n += 1
        return n

    skip = {"id", "household_id", "municipality_id"}
    pfields = [f.attname for f in Person._meta.concrete_fields if f.attname not in skip]
    persons = Person.all_tenants.filter(municipality=municipality)
    counts = {
        "persons": feed("p", persons.order_by("atena_no").values_list("household__household_no", *pfields)),
        "households": feed("h", Household.all_tenants.filter(municipality=municipality).order_by("household_no")
                           .values_list("household_no", "head__atena_no", "is_active")),
        "history": feed("y", PersonHistory.all_tenants.filter(municipality=municipality)
                        .order_by("person__atena_no", "history_no")
                        .values_list("person__atena_no", "history_no", "change_kind", "change_date",
                                     "notification_date", "operator", "note", "snapshot")),
        "extras": feed("x", PersonExtra.all_tenants.filter(municipality=municipality)
                       .order_by("person__atena_no", "name").values_list("person__atena_no", "name", "value", "source")),
        "legacy_keys": feed("k", LegacyKey.objects.filter(municipality=municipality).order_by("vendor", "person_key")
                            .values_list("vendor", "person_key", "household_key", "person__atena_no", "line_no")),
        "outcome_rows": feed("o", MigrationRow.objects.filter(run__municipality=municipality)
                             .order_by("run__input_sha256", "line_no")
                             .values_list("line_no", "byte_offset", "outcome", "reason_code", "field", "reason_ja",
                                          "pending_codes", "raw")),
        "chunks": feed("c", MigrationChunk.objects.filter(run__municipality=municipality)
                       .order_by("run__input_sha256", "kind", "index")
                       .values_list("kind", "index", "first_line", "rows", "imported", "stats")),
        "runs": feed("r", MigrationRun.objects.filter(municipality=municipality).order_by("input_sha256")
                     .values_list("vendor", "input_sha256", "rows_read", "status")),
    }
    counts["sequences"] = dict(NumberSequence.objects.filter(municipality=municipality)
                               .values_list("name", "last_value"))
    feed("s", sorted(counts["sequences"].items()))
    return {"counts": counts, "sha256": h.hexdigest()}

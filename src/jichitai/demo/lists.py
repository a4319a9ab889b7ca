"""Demo content for the 町字 master and the lists: each demo town's 町字 CSV, generated from the same towns the
bulk load drew its addresses from (so every demo address matches its master), and a few certificates issued today
so that the 交付簿 and 日計表 have lines. Synthetic data only."""
import csv
import io
import random

from django.utils import timezone

from jichitai.moji.kana import kana_key
from jichitai.tenancy.scope import tenant_scope

from .bulk import make_generator


def chouaza_csv(m, n_hint, *, seed=2026) -> bytes:
    """The town's 町字 master as the CSV a municipality would provide (UTF-8 with BOM)."""
    gen = make_generator(m, n_hint, random.Random(f"{seed}-{m.code}"), timezone.localdate())
    kana = dict(gen.pools.towns)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["町字コード", "町字", "町字カナ", "丁目（から）", "丁目（まで）"])
    for i, (town, chome, max_chome, _postal) in enumerate(sorted(gen.towns, key=lambda t: kana_key(kana[t[0]])), 1):
        w.writerow([f"{i:04d}000", town, kana_key(kana[town]), 1 if chome else "", max_chome if chome else ""])
    return buf.getvalue().encode("utf-8-sig")


def seed_chouaza(m, n_hint, *, seed=2026):
    from jichitai.chouaza.actions import import_csv

    with tenant_scope(m):
        return len(import_csv(None, chouaza_csv(m, n_hint, seed=seed), terminal="demo", system=True).added)


def seed_issuances(m, clerk, *, seed=2026, count=8):
    """A few certificates issued today by the municipality's clerk (through certificates.actions). Skipped, with the
    reason returned, where issuing is refused (fonts missing, settings the municipality must set first)."""
    from jichitai.certificates.actions import CertificateRequest, issue_certificate
    from jichitai.residents.models import Person, Status

    rng = random.Random(f"{seed}-{m.code}-certificates")
    kinds = ["resident_copy"] * 5 + ["entry_certificate"] * 2 + ["resident_copy"]
    issued = 0
    with tenant_scope(m):
        pks = list(Person.objects.filter(status=Status.RESIDENT, dv_protected=False).order_by("pk")
                   .values_list("pk", flat=True)[:2000])
        for i in range(count):
            req = CertificateRequest(kind=kinds[i % len(kinds)], person_ids=[rng.choice(pks)], requester_kind="self",
                                     copies=rng.choice([1, 1, 2]), purpose="就職")
            try:
                outcome = issue_certificate(clerk, req, terminal="demo")
            except Exception as e:  # noqa: BLE001 — the demo continues; the reason is reported by seed_demo
                return issued, f"{type(e).__name__}: {e}"
            issued += not outcome.refused
    return issued, ""

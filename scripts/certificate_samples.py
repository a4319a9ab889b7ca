"""`make certificate-samples`: render every certificate kind to PNG for docs/certificates.md, from demo data.

Uses its own throwaway SQLite database in a temporary directory (the real demo database under var/ is untouched):
migrate, seed a small demo of 日田市 (44204, scale 0.01, seed 2026), pick persons from the demo data by querying,
issue each certificate through `jichitai.certificates.actions.issue_certificate` as the demo clerk, and convert each
PDF with poppler's `pdftoppm` to docs/certificates/<name>-<page>.png. All data are synthetic (the demo generator).

Needs: the Japanese fonts (`make fonts`: fonts-ipamj-mincho, fonts-ipaexfont) and `pdftoppm`
(Debian: `apt-get install poppler-utils`).

Usage: certificate_samples.py [--out DIR] [--dpi N] [--keep-pdfs DIR]
"""
import argparse
import datetime as dt
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CODES = ["44204"]          # 日田市: at scale 0.01 ≈ 700 residents, with households of 5+, foreign residents, 除票
SCALE = 0.01
SEED = 2026                # the demo generator's default seed, fixed here
CLERK = "admin-44204"  # may see DV-protected addresses, so any demo resident can be picked
TERMINAL = "certificate-samples"
MAX_PNG_BYTES = 250 * 1024


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "certificates",
                    help="where the PNGs go (default: docs/certificates)")
    ap.add_argument("--dpi", type=int, default=110, help="resolution of the PNGs (default 110, at most 150)")
    ap.add_argument("--keep-pdfs", type=pathlib.Path, default=None, help="also copy the PDFs to this directory")
    args = ap.parse_args()
    if not 50 <= args.dpi <= 150:
        ap.error("--dpi must be between 50 and 150")
    return args


def preflight():
    """Fail early, with the install command, before spending time on the database."""
    if not shutil.which("pdftoppm"):
        sys.exit("certificate-samples: pdftoppm not found. Install poppler's utilities:\n"
                 "  sudo apt-get install poppler-utils      (Debian/Ubuntu)")


def setup_django(tmp: pathlib.Path):
    os.environ["JICHITAI_VAR_DIR"] = str(tmp / "var")   # the SQLite file and the secret key live here
    os.environ.pop("DATABASE_URL", None)                 # never touch a configured PostgreSQL
    os.environ["DJANGO_SETTINGS_MODULE"] = "jichitai.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from jichitai.common.fonts import font_path

    if font_path("ipamjm.ttf") is None or font_path("ipaexm.ttf") is None:
        sys.exit("certificate-samples: IPAmj明朝 / IPAex明朝 not installed. Run `make fonts`, or:\n"
                 "  sudo apt-get install fonts-ipamj-mincho fonts-ipaexfont")


def has_ivs(text: str) -> bool:
    return any(0xE0100 <= ord(ch) <= 0xE01EF for ch in text or "")


def full_name(p) -> str:
    return f"{p.family_name}\u3000{p.given_name}".strip("\u3000")


def pick_persons(m, clerk, notes: list) -> dict:
    """The persons each sample is about, found by querying the demo register (deterministic for a fixed seed)."""
    from django.db.models import Count

    from jichitai.certificates.queries import household_candidates
    from jichitai.residents import actions as ra
    from jichitai.residents.models import Person, PersonHistory, Status

    residents = Person.objects.filter(status=Status.RESIDENT).select_related("household").order_by("atena_no")
    picked = {}

    # 個人票: a resident whose name carries an IVS (U+E0100–U+E01EF); the demo generator writes none at present,
    # so otherwise a married resident who is not the head (世帯主 and 続柄 then say something).
    ivs = [p for p in residents.filter(is_foreign=False)
           if has_ivs(p.family_name) or has_ivs(p.given_name)]
    if ivs:
        picked["individual"] = ivs[0]
        notes.append(f"個人票: {full_name(ivs[0])} has an IVS in the name")
    else:
        # none in the demo: register one synthetic resident whose names carry Moji_Joho IVS (葛+E0102, 辻+E0102),
        # so that the sample shows the IPAmj variant glyphs
        p = ra.register_move_in(ra.Actor(intake=ra.IntakeInput.in_person(), user=clerk, terminal=TERMINAL), values={
            "family_name": "葛\U000E0102城", "given_name": "辻\U000E0102郎", "family_name_kana": "カツラギ",
            "given_name_kana": "ツジロウ", "birth_date": dt.date(1980, 4, 1), "sex": "1",
            "address": "大字友田1234番地", "honseki": "大分県日田市大字友田1234番地",
            "hittosha": "葛\U000E0102城　辻\U000E0102郎", "previous_address": "福岡県久留米市東町1番1号"},
            change_date=dt.date(2024, 4, 1), notification_date=dt.date(2024, 4, 3))
        picked["individual"] = p
        notes.append("個人票: the demo data have no name with an IVS; registered the synthetic resident "
                     f"{full_name(p)} (葛+U+E0102, 辻+U+E0102)")

    # 個人票 with history: the resident with the most history rows (ties: lowest 宛名番号).
    counts = (PersonHistory.objects.filter(person__status=Status.RESIDENT, person__is_foreign=False)
              .values("person_id").annotate(n=Count("id")).order_by("-n", "person__atena_no"))
    top = counts.first()
    picked["history"] = Person.objects.select_related("household").get(pk=top["person_id"])

    # 世帯連記式: the largest household with at least 5 residents (a continuation page at the default 4 per page).
    sizes = (residents.values("household_id").annotate(n=Count("id")).filter(n__gte=5)
             .order_by("-n", "household__household_no"))
    big = sizes.first()
    if big is None:
        sys.exit("certificate-samples: the demo has no household with 5 or more residents (raise SCALE)")
    head = residents.filter(household_id=big["household_id"]).order_by("-is_head", "atena_no").first()
    picked["household"] = household_candidates(head)

    # 外国人住民: a 中長期在留者 (more items: 在留資格, 在留期間等, 在留カード等の番号), else any foreign resident.
    picked["foreign"] = (residents.filter(is_foreign=True, foreign_category="中長期在留者").first()
                         or residents.filter(is_foreign=True).first())
    if picked["foreign"] is None:
        sys.exit("certificate-samples: the demo has no foreign resident")

    removed = Person.objects.filter(status=Status.REMOVED).select_related("household").order_by("atena_no")
    # 除票: one who moved out (確定), which prints the most items (消除事由, 消除日, 転出先), else any 除票.
    picked["removed"] = removed.filter(move_out_state="確定").first() or removed.first()
    if picked["removed"] is None:
        sys.exit("certificate-samples: the demo has no 除票")

    # 転出証明書: a person with a move-out planned (the seed's stories make some); else register one.
    planned = removed.filter(move_out_state="予定").first()
    if planned is None:
        used = {p.pk for k, v in picked.items() for p in (v if isinstance(v, list) else [v])}
        single = next(p for p in residents.filter(is_foreign=False, is_head=True)
                      if p.pk not in used
                      and Person.objects.filter(household_id=p.household_id, status=Status.RESIDENT).count() == 1)
        today = dt.date.today()
        planned = ra.register_move_out(ra.Actor(intake=ra.IntakeInput.in_person(), user=clerk, terminal=TERMINAL), single,
                                       expected_version=single.version, destination="福岡県福岡市博多区博多駅前二丁目1番1号",
                                       planned_date=today + dt.timedelta(days=7), notification_date=today)
        notes.append(f"転出証明書: no planned move-out in the demo; registered one for {full_name(planned)}")
    picked["move_out"] = planned
    return picked


def samples(picked) -> list:
    """(file name, what it shows, CertificateRequest) for each sample, in the order of docs/certificates.md."""
    from jichitai.certificates.actions import CertificateRequest
    from jichitai.certificates.models import Kind, Layout, RequesterKind

    def req(kind, persons, **kw):
        persons = persons if isinstance(persons, list) else [persons]
        kw.setdefault("requester_kind", RequesterKind.SELF)
        return CertificateRequest(kind=kind, person_ids=[p.pk for p in persons], **kw)

    both = {"head_relationship": True, "honseki": True}
    return [
        ("resident-copy-individual", "住民票の写し 個人票（世帯主・続柄、本籍・筆頭者を記載）",
         req(Kind.RESIDENT_COPY, picked["individual"], options=both)),
        ("resident-copy-history", "住民票の写し 個人票（異動の履歴つき）",
         req(Kind.RESIDENT_COPY, picked["history"], options={**both, "history": True})),
        ("resident-copy-household", "住民票の写し 世帯連記式（続きの頁あり）",
         req(Kind.RESIDENT_COPY, picked["household"], layout=Layout.HOUSEHOLD, options=both,
             requester_kind=RequesterKind.SAME_HOUSEHOLD)),
        ("resident-copy-foreign", "外国人住民の住民票の写し（国籍・地域、在留資格等を記載）",
         req(Kind.RESIDENT_COPY, picked["foreign"], options={"head_relationship": True, "foreign_items": True})),
        ("removed-copy", "除票の写し",
         req(Kind.REMOVED_COPY, picked["removed"], options=both)),
        ("entry-certificate", "住民票記載事項証明書（世帯主・続柄を記載）",
         req(Kind.ENTRY_CERTIFICATE, picked["individual"], options={"head_relationship": True},
             requester_kind=RequesterKind.AGENT, requester_name="日田　一郎", purpose="勤務先への提出")),
        ("move-out-certificate", "転出証明書（世帯主・続柄、本籍・筆頭者を記載）",
         req(Kind.MOVE_OUT_CERTIFICATE, picked["move_out"], options=both)),
    ]


def to_png(pdf: bytes, name: str, work: pathlib.Path, out: pathlib.Path, dpi: int) -> list:
    src = work / f"{name}.pdf"
    src.write_bytes(pdf)
    prefix = work / name
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(src), str(prefix)], check=True)
    pages = sorted(work.glob(f"{name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for old in out.glob(f"{name}-*.png"):  # stale pages of an earlier, longer run
        if re.fullmatch(re.escape(name) + r"-\d+", old.stem):
            old.unlink()
    written = []
    for n, page in enumerate(pages, 1):
        dest = out / f"{name}-{n}.png"
        shutil.move(str(page), dest)
        written.append(dest)
    return written


def check_doc_links(out: pathlib.Path, written: list):
    """docs/certificates.md embeds the pages by name; a template change can change the page count. Say so."""
    doc = ROOT / "docs" / "certificates.md"
    if out.resolve() != (ROOT / "docs" / "certificates").resolve() or not doc.exists():
        return
    linked = set(re.findall(r"\(certificates/([\w-]+\.png)\)", doc.read_text(encoding="utf-8")))
    names = {p.name for p in written}
    for name in sorted(linked - names):
        print(f"  warning: docs/certificates.md links certificates/{name}, which this run did not write")
    for name in sorted(names - linked):
        print(f"  warning: docs/certificates/{name} is not linked from docs/certificates.md")


def main():
    args = parse_args()
    preflight()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jichitai-certificate-samples-") as tmpdir:
        tmp = pathlib.Path(tmpdir)
        setup_django(tmp)
        from django.core.management import call_command

        from jichitai.certificates.actions import issue_certificate
        from jichitai.demo.seed import seed_demo
        from jichitai.tenancy.models import Municipality, StaffUser
        from jichitai.tenancy.scope import tenant_scope

        call_command("migrate", verbosity=0, interactive=False)
        seed_demo(scale=SCALE, seed=SEED, codes=CODES, quiet=True)
        print(f"certificate-samples: demo seeded in {tmp} ({time.monotonic() - started:.1f} s)")

        m = Municipality.objects.select_related("prefecture").get(code=CODES[0])
        clerk = StaffUser.objects.get(username=CLERK)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.keep_pdfs:
            args.keep_pdfs.mkdir(parents=True, exist_ok=True)
        work = tmp / "pdf"
        work.mkdir()
        notes, written, too_big = [], [], []
        with tenant_scope(m):
            picked = pick_persons(m, clerk, notes)
            for name, label, req in samples(picked):
                outcome = issue_certificate(clerk, req, terminal=TERMINAL)
                if outcome.refused:
                    sys.exit(f"certificate-samples: {name} was refused: {outcome.message}")
                if args.keep_pdfs:
                    (args.keep_pdfs / f"{name}.pdf").write_bytes(outcome.pdf)
                pngs = to_png(outcome.pdf, name, work, args.out, args.dpi)
                iss = outcome.issuance
                print(f"  {label}: 発行番号 {iss.issue_no}, {iss.page_count} 頁, {len(req.person_ids)} 人")
                for png in pngs:
                    size = png.stat().st_size
                    print(f"    {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}  {size / 1024:.0f} KB")
                    if size > MAX_PNG_BYTES:
                        too_big.append(png)
                    written.append(png)
    for note in notes:
        print(f"  note: {note}")
    check_doc_links(args.out, written)
    for png in too_big:
        print(f"  warning: {png.name} is over {MAX_PNG_BYTES // 1024} KB (try a lower --dpi)")
    print(f"certificate-samples: wrote {len(written)} PNG files to {args.out} in {time.monotonic() - started:.1f} s "
          f"({args.dpi} dpi; synthetic demo data, seed {SEED})")


if __name__ == "__main__":
    main()

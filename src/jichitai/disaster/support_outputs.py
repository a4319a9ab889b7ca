"""The 避難行動要支援者名簿 as PDF (one district per page group, names in IPAmj明朝, through the certificate engine's
WeasyPrint set-up: certificates.render.render_html) and as CSV (UTF-8 with BOM, for spreadsheet software).
The rows come from support_queries.roster, which has already applied the read policy and the consent rule."""
import csv
import io

from django.template.loader import render_to_string
from django.utils import timezone

from jichitai.certificates.render import render_html
from jichitai.common.wareki import format_wareki

from . import support_queries as sq

CSV_HEADER = ["町字", "宛名番号", "氏名", "フリガナ", "生年月日", "年齢", "性別", "住所", "電話番号", "その他の連絡先",
              "避難支援等を必要とする事由", "避難支援等関係者", "避難支援等実施者", "避難先", "避難経路・避難方法", "留意事項",
              "平常時の提供への同意", "同意日"]

TITLES = {sq.PURPOSE_PROVISION: "避難行動要支援者名簿（避難支援等関係者への提供用）",
          sq.PURPOSE_INTERNAL: "避難行動要支援者名簿（庁内用）"}


def _supporters(r):
    return "／".join(f"{s.get_kind_display()} {s.name} {s.contact}".strip() for s in r.supporters)


def _implementers(r):
    return "／".join(s.name for s in r.supporters if s.implements_plan)


def roster_csv(rows) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for r in rows:
        w.writerow([r.district, r.atena_no, r.name, r.kana, r.birth_date.isoformat(), r.age, r.sex, r.address or "",
                    r.phone, r.other_contact, r.reason_text, _supporters(r), _implementers(r), r.plan_destination,
                    r.plan_route, r.plan_notes, r.consent, r.consent_date.isoformat() if r.consent_date else ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def roster_pdf(municipality, rows, *, purpose: str, basis: dict) -> bytes:
    now = timezone.localtime()
    html = render_to_string("disaster/pdf/roster.html", {
        "title": TITLES[purpose], "purpose": purpose, "municipality_label": f"{municipality.prefecture.name}"
        f"{municipality.name}", "groups": sq.by_district(rows), "basis": basis, "count": len(rows),
        "made": f"{format_wareki(now.date())} {now:%H:%M}",
        "provision": purpose == sq.PURPOSE_PROVISION,
    })
    return render_html(html).pdf

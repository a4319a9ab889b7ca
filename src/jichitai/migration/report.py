"""Writing the migration report: report.html, report.csv, report.json, and the rejected / held rows with their raw
bytes (rejects.dat / held.dat hold the records exactly as read, one per line, in input order)."""
import csv
import html
import json
from pathlib import Path

REASONS = {
    "length": "レコード長の誤り（途中で切れた行・文字コード違い） / wrong record length",
    "empty": "空行 / empty line",
    "encoding": "cp932 として読めない / not valid cp932",
    "control": "制御文字 / control characters",
    "halfwidth_kana": "半角カナ（文字コード違いの疑い） / half-width kana",
    "required": "必須項目が空 / required field empty",
    "date": "日付の誤り / bad date",
    "number": "数字の誤り / not a number",
    "code": "未定義のコード / unknown code",
    "flag": "フラグの誤り / bad flag",
    "kana": "フリガナの誤り / bad reading",
    "rule": "住民記録の規則違反 / register rule",
    "too_long": "桁あふれ / too long",
    "duplicate_resident_code": "住民票コードの重複（ファイル内） / duplicate resident code in the file",
    "duplicate_person_key": "旧宛名番号の重複 / duplicate legacy person key",
    "existing_resident_code": "住民票コードが登録済み / resident code already registered",
    "already_migrated": "別の移行で取込済み / imported by another migration",
    "no_household_key": "世帯番号なし / no household number",
    "no_head": "世帯主のいない世帯 / household without a head",
    "multiple_heads": "世帯主が複数 / several heads",
    "head_rejected": "世帯主が不正 / head of household rejected",
    "head_held": "世帯主が保留中 / head of household held",
    "gaiji_pending": "外字が未承認 / 外字 not approved",
    "duplicate_identical": "同一内容の重複行（1件として取込） / identical repeat, imported once",
    "fullwidth": "半角項目に全角文字 / full-width character in a half-width field",
    "record_type": "未定義のレコード種別 / unknown record type",
    "record_position": "ヘッダー・トレーラーの位置の誤り / header or trailer out of place",
}
WARNINGS = {
    "era_overflow": "元号の読み替え漏れ（変換して取込） / era overflow, converted",
    "duplicate_kept": "重複の先の行として取込 / kept as the first of a duplicate",
    "generation_fallback": "最新世代が不正のため前の世代を現在の記載に / fell back to an earlier generation",
}
CHECKS = {"record_count": "件数", "hash_total": "ハッシュ合計", "byte_sum": "バイト合計",
          "trailer_present": "トレーラーの有無"}
WARN_COLS = ["line", "offset", "code", "field", "field_offset", "ja", "en"]
EVIDENCE = {"juki": "住基ネット統一文字コード一致", "koseki": "戸籍統一文字番号一致",
            "mj_table": "ベンダー対応表のMJ図形名とUCSが一致（字形は未比較）",
            "manual": "目視確認（ベンダーの字形画像とMJ字形を比較）",
            "manual_ng": "手動承認（字形画像なし・字形は未比較）"}
STATUS = {"proposed": "確認待ち", "unmappable": "対応なし", "unregistered": "未登録（外字台帳に登録してください）"}
ROW_COLS = ["line", "offset", "reason_code", "field", "field_offset", "reason_ja", "reason_en", "pending",
            "household_key"]


def write_report(report: dict, out_dir, terminator=b"\n") -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = report.get("_raw", {})
    public = {k: v for k, v in report.items() if k != "_raw"}
    (out / "report.json").write_text(json.dumps(public, ensure_ascii=False, indent=1, default=str), "utf-8")
    with open(out / "warnings.csv", "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(WARN_COLS)
        for r in report.get("row_warnings", ()):
            w.writerow([r[c] if r[c] is not None else "" for c in WARN_COLS])
    for kind, rows in (("rejects", report["rejected"]), ("held", report["held"]),
                       ("duplicates", report.get("duplicates", []))):
        with open(out / f"{kind}.csv", "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(ROW_COLS + ["raw_hex"])
            for r in rows:
                w.writerow([r[c] if r[c] is not None else "" for c in ROW_COLS] + [raw.get(r["line"], b"").hex()])
        with open(out / f"{kind}.dat", "wb") as f:
            for r in rows:
                f.write(raw.get(r["line"], b"") + (terminator or b"\n"))
    with open(out / "report.csv", "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["section", "key", "value", "note"])
        for k, v in public["run"].items():
            w.writerow(["run", k, v, ""])
        w.writerow(["status", public.get("status", ""), public.get("status_ja", ""), ""])
        for reason in public.get("not_complete_because", ()):
            w.writerow(["not_complete_because", "", reason, ""])
        for k, v in public["counts"].items():
            w.writerow(["counts", k, v, ""])
        tr = public.get("trailer") or {}
        for ch in tr.get("checks", ()):
            w.writerow(["trailer_check", f"{ch['check']}:{ch['field']}", "ok" if ch["ok"] else "NG",
                        f"トレーラー {ch['expected']} / 実際 {ch['actual']}"])
        if tr.get("overridden"):
            w.writerow(["trailer_check", "overridden", "true", "操作者が不一致を承知で取り込みました"])
        for k, v in public.get("by_record_type", {}).items():
            w.writerow(["by_record_type", k, v, ""])
        for k, v in public.get("by_generation", {}).items():
            w.writerow(["by_generation", k, v, ""])
        for nc in public.get("not_carried", ()):
            w.writerow(["not_carried", nc["field"], nc["persons"], nc["ja"]])
        for k, v in (public.get("extras") or {}).get("persons_with_value", {}).items():
            w.writerow(["extras", k, v, "保存済み" if public["extras"].get("stored") else "未保存"])
        for k, v in sorted(_count(public.get("row_warnings", ()), "code").items()):
            w.writerow(["row_warnings", k, v, WARNINGS.get(k, "")])
        for k, v in public["rejected_by_reason"].items():
            w.writerow(["rejected_by_reason", k, v, REASONS.get(k, "")])
        for k, v in public["gaiji_mapped_by_evidence"].items():
            w.writerow(["gaiji_mapped_by_evidence", k, v, EVIDENCE.get(k, "")])
        for p in public["gaiji_pending"]:
            w.writerow(["gaiji_pending", p["code"], p["rows"], STATUS.get(p["registry_status"], p["registry_status"])])
        w.writerow(["fields", "checked_rows", public["fields_checked"], ""])
        for fname, d in public["field_errors"].items():
            for code, n in d.items():
                w.writerow(["field_errors", f"{fname}:{code}", n, REASONS.get(code, "")])
        for k, v in public.get("this_run", {}).items():
            w.writerow(["this_run", k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v, ""])
        for wtext in public["warnings"]:
            w.writerow(["warning", "", wtext, ""])
    (out / "report.html").write_text(_html(public), "utf-8")
    return {"dir": str(out)}


def _count(rows, key):
    out = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + 1
    return out


def _table(head, rows):
    e = html.escape
    h = "".join(f"<th>{e(str(x))}</th>" for x in head)
    b = "".join("<tr>" + "".join(f"<td>{e(str(x if x is not None else ''))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def _html(r: dict) -> str:
    e = html.escape
    c = r["counts"]
    parts = [
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>移行レポート / migration report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:13px}th{background:#eee}"
        ".ok{color:#070}.ng{color:#b00}</style></head><body>",
        f"<h1>データ移行レポート / legacy migration report{' （ドライラン / dry run）' if r.get('this_run', {}).get('dry_run') else ''}</h1>",
        _table(["項目 / item", "値 / value"], list(r["run"].items())),
        "<h2>件数 / counts</h2>",
        f"<p class='{'ok' if r.get('status') == 'completed' else 'ng'}'><strong>{e(r.get('status_ja', ''))}</strong>"
        + "".join(f"<br>{e(x)}" for x in r.get("not_complete_because", ())) + "</p>",
        _table(["読込 read", "取込（人） imported persons", "取込（履歴の世代） history lines", "不正 rejected",
                "保留 held", "重複（同一） duplicates", "ヘッダー・トレーラー control", "保留後取込 resolved",
                "合計 accounted"],
               [[c["read"], c["imported"], c.get("history_lines", 0), c["rejected"], c["held"],
                 c.get("duplicates", 0), c.get("control_records", 0), c["resolved_after_hold"], c["accounted"]]]),
        f"<p class='{'ok' if c['complete'] else 'ng'}'>"
        + ("全行が取込・不正・保留のいずれか一つに記録されています / every row is in exactly one place"
           if c["complete"] else "未完了です（上記の理由。チャンクが残っていれば再実行で続きから処理します） / "
           "not complete (see above; run again to resume pending chunks)")
        + "</p>",
        "<h2>トレーラーの検査 / trailer checks</h2>",
        _table(["検査 / check", "項目 / field", "トレーラー / written", "実際 / actual", "結果 / result"],
               [[CHECKS.get(ch["check"], ch["check"]), ch["field"], ch["expected"], ch["actual"],
                 "一致 ok" if ch["ok"] else "不一致 NG"] for ch in (r.get("trailer") or {}).get("checks", ())]),
        ("<p class='ng'>不一致を操作者が承知で取り込みました（--accept-trailer-mismatch） / imported despite the "
         "mismatch, by the operator's decision</p>" if (r.get("trailer") or {}).get("overridden") else ""),
        "<h2>レコード種別・世代別件数 / records by type and generation</h2>",
        _table(["種別 / type", "件数 / records"], list((r.get("by_record_type") or {}).items())),
        _table(["履歴番号 / generation", "件数 / records"], list((r.get("by_generation") or {}).items())),
        "<h2>取込先のない項目 / fields without a target</h2>",
        _table(["項目 / field", "値のある人 / persons", "保存 / stored"],
               [[k, v, "保存済み（人ごとの追加属性） / stored" if (r.get("extras") or {}).get("stored") else
                 "未保存 / not carried"] for k, v in ((r.get("extras") or {}).get("persons_with_value") or {}).items()]),
        "<h2>行ごとの警告 / row warnings</h2>",
        _table(["行 line", "位置 offset", "項目 field", "項目位置", "種類 / kind", "内容", "detail"],
               [[x["line"], x["offset"], x["field"], x["field_offset"], WARNINGS.get(x["code"], x["code"]), x["ja"],
                 x["en"]] for x in r.get("row_warnings", [])[:5000]]),
        "<h2>重複行（同一内容） / identical repeats</h2>",
        _table(["行 line", "位置 offset", "理由", "reason"],
               [[x["line"], x["offset"], x["reason_ja"], x["reason_en"]] for x in r.get("duplicates", [])[:5000]]),
        "<h2>不正の理由別件数 / rejected by reason</h2>",
        _table(["理由 / reason", "件数 / rows"], [[f"{k}: {RE}", v] for k, v in r["rejected_by_reason"].items()
                                               for RE in [REASONS.get(k, "")]]),
        "<h2>外字 / gaiji</h2><h3>置換済み（根拠別） / mapped by evidence</h3>",
        _table(["根拠 / evidence", "文字数 / characters"],
               [[f"{k}（{EVIDENCE.get(k, k)}）", v] for k, v in r["gaiji_mapped_by_evidence"].items()]),
        "<h3>未承認（コード別） / pending by code</h3>",
        _table(["Shift_JIS", "行数 / rows", "外字台帳 / registry"],
               [[p["code"], p["rows"], STATUS.get(p["registry_status"], p["registry_status"])]
                for p in r["gaiji_pending"]]),
        f"<h2>項目別の検査結果 / per-field validation</h2><p>検査した行 / rows checked: {r['fields_checked']}</p>",
        _table(["項目 / field", "誤り / error", "件数 / rows"],
               [[f, k, n] for f, d in r["field_errors"].items() for k, n in d.items()]),
        "<h2>不正な行 / rejected rows</h2>",
        _table(["行 line", "位置 offset", "項目 field", "項目位置", "理由", "reason"],
               [[x["line"], x["offset"], x["field"], x["field_offset"], x["reason_ja"], x["reason_en"]]
                for x in r["rejected"][:5000]]),
        "<h2>保留の行 / held rows</h2>",
        _table(["行 line", "位置 offset", "外字 pending", "理由", "reason"],
               [[x["line"], x["offset"], x["pending"], x["reason_ja"], x["reason_en"]] for x in r["held"][:5000]]),
    ]
    if r["warnings"]:
        parts.append("<h2>警告 / warnings</h2><ul>" + "".join(f"<li>{e(w)}</li>" for w in r["warnings"]) + "</ul>")
    if r.get("this_run"):
        parts.append("<h2>この実行 / this run</h2>" + _table(["項目", "値"], [[k, json.dumps(v, ensure_ascii=False)]
                                                                      for k, v in r["this_run"].items()]))
    parts.append("</body></html>")
    return "".join(parts)

"""The ICT-BCP plan's items and the facts the platform fills in (業務継続計画の項目と自動入力).

Items come from three sources (docs/reference: domain.md §9):
* 総務省「地方公共団体におけるICT部門の業務継続計画（BCP）策定に関するガイドライン」(2008, 2013改定) and its
  初動版 (the first ~72 hours for small municipalities): 検討体制, 業務継続方針, 被害想定, 重要業務の選定,
  必要なICT資源の洗い出し, 事前対策, 発災後の行動計画, 訓練, 維持・管理;
* 内閣府「市町村のための業務継続計画作成ガイド」の6要素 (the six essentials);
* the MIC checklist's ICT items: contacts and call-out of ICT staff and vendors, alternative ICT when the office or
  the data centre is unreachable, emergency power, communications.

An item the municipality has not written shows the text pre-filled from the platform (facts below), marked
自動入力; once written, the municipality's text is kept and the facts are shown beside it. Facts are live: contacts
from 職員管理, systems from what the municipality uses, backups and offline kits from the continuity records, drill
figures (RTO, RPO) from the drills.
"""
from dataclasses import dataclass

SECTIONS = [
    ("mic", "ICT部門の業務継続計画（初動版）の項目（総務省ガイドライン）", [
        ("structure", "検討体制（推進体制と責任者）"),
        ("policy", "業務継続の基本方針"),
        ("damage", "被害想定（庁舎・データセンター・通信）"),
        ("priority_work", "重要業務の選定（非常時優先業務と目標復旧時間）"),
        ("ict_resources", "必要なICT資源の洗い出し"),
        ("prevention", "事前対策"),
        ("action_plan", "発災後の行動計画（初動72時間）"),
        ("training", "訓練の計画と結果"),
        ("maintenance", "維持・管理（見直しの時期と方法）"),
    ]),
    ("cao", "業務継続に必須な6要素（内閣府）", [
        ("succession", "首長不在時の明確な代行順位及び職員の参集体制"),
        ("alt_office", "本庁舎が使用できなくなった場合の代替庁舎の特定"),
        ("supplies", "電気、水、食料等の確保"),
        ("comms", "災害時にもつながりやすい多様な通信手段の確保"),
        ("data_backup", "重要な行政データのバックアップ"),
        ("priority", "非常時優先業務の整理"),
    ]),
    ("ict", "ICT部門のチェック項目（総務省チェックリスト）", [
        ("contacts", "ICT担当職員・事業者の緊急連絡先と参集"),
        ("alt_ict", "庁舎・クラウド（データセンター）が使えないときの代替手段"),
        ("power", "非常用電源"),
        ("network", "通信手段（回線の冗長化）"),
    ]),
]
ITEMS = {key: label for _, _, items in SECTIONS for key, label in items}
MAX_ANSWER = 4000

# 非常時優先業務 of the resident-records system with the platform's standard target times (標準の例; the
# municipality adjusts them in its own text).
PRIORITY_WORK = [
    ("避難者名簿と住民記録の照合", "24時間以内", "災害対応 → 避難者の照合（オフラインキットでも可）"),
    ("安否確認・安否情報の提供", "24時間以内", "災害対応 → 安否確認"),
    ("避難行動要支援者名簿の提供", "宣言後ただちに", "災害対応 → 避難行動要支援者名簿"),
    ("住民票の写し等の交付", "72時間以内", "窓口（ネットワーク断時はオフライン発行）"),
    ("罹災証明書の交付", "1週間以内", "災害対応 → 被災者台帳"),
    ("転入・転出等の届出の受付", "72時間以内（受付のみ、記録は復旧後）", "窓口（オフライン受付は復旧後に同期）"),
]


@dataclass
class Item:
    key: str
    label: str
    text: str          # what the plan says: the municipality's text, or the pre-filled text
    prefilled: bool    # True when the text is the platform's (not yet written by the municipality)
    facts: list        # live facts from the platform shown beside the item


def _fmt_seconds(s):
    if s is None:
        return "未計測"
    return f"{s:.1f} 秒" if s < 120 else f"{s / 60:.1f} 分"


def prefill(facts: dict) -> dict:
    """The pre-filled text of every item from the platform's facts (see queries.plan_facts)."""
    admins = "、".join(facts["admins"]) or "（管理者が登録されていません）"
    drills = facts["drills"]
    drill_lines = [f"・{d['title']}（{d['scenario']}、{d['date']}）: 結果 {d['result']}、復旧時間 {d['rto']}、"
                   f"失われた更新 {d['rpo']}" for d in drills] or ["・実施した訓練はまだありません。"]
    fo = facts.get("failover")
    if fo:
        drill_lines.append(f"・プラットフォームの待機系への切替訓練（{fo['date']}、自動計測）: 復旧時間 {fo['rto']}、"
                           f"失われた更新 {fo['rpo']}")
    backup = facts["backup"]
    backup_line = (f"最後に検証したバックアップ: {backup}" if backup else
                   "検証済みのバックアップの記録がありません（jichitai backup と jichitai backup verify を実施してください）。")
    kits = facts["offline_kits"]
    lines = facts.get("offline_kit_lines", [])
    revoked = facts.get("offline_kits_revoked", 0)
    kit_line = (f"発行済みのオフラインキット: {kits} 件（有効 {kits - revoked} 件、失効 {revoked} 件）\n" +
                "\n".join(f"・{line}" for line in lines) if kits else
                "オフラインキットは発行されていません（ネットワーク断に備えて庁内・避難所用に発行してください）。")
    rto = facts["measured_rto"]
    work = "\n".join(f"・{w}（目標: {t}、手段: {how}）" for w, t, how in PRIORITY_WORK)
    return {
        "structure": f"責任者: {facts['municipality']}の情報システム担当管理者（{admins}）。\n"
                     "プラットフォーム運用者（自治体クラウド運用窓口）と共同で初動対応に当たる。",
        "policy": "住民の生命・身体の保護に直結する業務（避難者の照合、安否確認、要支援者名簿の提供）を最優先し、"
                  "次に住民票の写し等の交付を再開する。データは失わないこと（RPO 0）を原則とする。",
        "damage": "想定: 庁舎の被災（停電・立入不可）、ネットワークの断絶、データセンター（主系）の停止。"
                  "住民記録は自治体クラウドのデータセンターにあり、待機系への切替と庁内のオフラインキットで継続する。",
        "priority_work": work,
        "ict_resources": "\n".join(f"・{s}" for s in facts["systems"]),
        "prevention": f"{backup_line}\n{kit_line}\n"
                      "待機系（同期レプリケーション）への自動切替を運用者が維持する。",
        "action_plan": "0〜3時間: 参集・被害確認・オフラインキットの起動判断。\n"
                       "3〜24時間: 避難者の登録と照合、安否確認、要支援者名簿の提供。\n"
                       "24〜72時間: 証明書の交付再開（オフライン発行を含む）、オフラインでの受付の同期。",
        "training": "\n".join(drill_lines),
        "maintenance": "年1回以上、訓練の結果と職員・システムの変更を反映して見直す。"
                       f"現在の版: 第{facts['revision']}版。" if facts["revision"] else
                       "年1回以上、訓練の結果と職員・システムの変更を反映して見直す。",
        "succession": "",
        "alt_office": "",
        "supplies": "",
        "comms": "",
        "data_backup": f"{backup_line}\n{kit_line}\n"
                       f"待機系への切替訓練で計測した復旧時間: {_fmt_seconds(rto)}。",
        "priority": work,
        "contacts": "\n".join(f"・{c}" for c in facts["contacts"]) or "・（連絡先が登録されていません）",
        "alt_ict": f"{kit_line}\n"
                   f"データセンター停止時: 待機系へ自動切替（計測した復旧時間 {_fmt_seconds(rto)}、"
                   f"失われた更新 {facts['measured_rpo'] if facts['measured_rpo'] is not None else '未計測'}）。",
        "power": "",
        "network": "",
    }


def plan_items(answers: dict, facts: dict) -> list:
    """The plan as sections of items: the municipality's text where written, else the pre-filled text."""
    pre = prefill(facts)
    fact_lines = facts_by_item(facts)
    out = []
    for key, title, items in SECTIONS:
        rows = []
        for k, label in items:
            written = (answers or {}).get(k, "")
            rows.append(Item(k, label, written or pre.get(k, ""), not written, fact_lines.get(k, [])))
        out.append((key, title, rows))
    return out


def facts_by_item(facts: dict) -> dict:
    """Live facts shown beside the items they concern, whatever the written text says."""
    backup = facts["backup"] or "検証済みのバックアップなし"
    return {
        "structure": [f"管理者: {'、'.join(facts['admins']) or 'なし'}"],
        "data_backup": [f"最後に検証したバックアップ: {backup}", f"オフラインキット: {facts['offline_kits']} 件",
                        *[f"キット {line}" for line in facts.get("offline_kit_lines", [])]],
        "training": [f"訓練の実施: {len(facts['drills'])} 回",
                     f"計測した復旧時間（最新）: {_fmt_seconds(facts['measured_rto'])}"],
        "alt_ict": [f"オフラインキット: {facts['offline_kits']} 件",
                    *[f"キット {line}" for line in facts.get("offline_kit_lines", [])]],
        "contacts": [f"登録されている連絡先: {len(facts['contacts'])} 件"],
    }


def missing_items(items) -> list:
    """Labels of the items with no text at all (neither written nor pre-filled): the plan is incomplete."""
    return [it.label for _, _, rows in items for it in rows if not it.text.strip()]


# The timed steps of each drill scenario; the step marked `recovery` ends the measured recovery time (RTO).
STEPS = {
    "network_cut": [("ネットワーク断の確認と判断", False), ("オフラインキットの起動", False),
                    ("住民の検索・証明書のオフライン発行", True), ("避難者の登録・安否情報の記録", False),
                    ("回線復旧後の同期と確認", False)],
    "datacenter_down": [("主系停止の検知と連絡", False), ("待機系への切替の確認", False),
                        ("窓口業務の再開（住民検索・異動の登録）", True), ("失われた更新がないことの確認", False)],
    "restore": [("復元するバックアップの選定と検証", False), ("空のデータベースへの復元", False),
                ("監査ログの連鎖の検証", False), ("業務の再開", True)],
    "call_out": [("緊急連絡の発信", False), ("ICT担当職員の参集", False), ("事業者への連絡と到着", True),
                 ("参集状況の報告", False)],
}

"""Matching rows typed from shelters' lists to the resident register (docs/matching.md).

    from jichitai.matching.api import match_rows
    results = match_rows(municipality, rows, reader=policy.for_staff(user))

Each row is a dict with `name`, `kana`, `birth`, optional `sex`, `address`, `group` (people who arrived together)
and `evacuee_id`. Each result has a decision — `auto` (自動確定), `review` (要確認) or `none` (該当なし) —, the
ranked candidates with their score and reasons in Japanese, and a duplicate group shared by the rows that are the
same person (registered twice, e.g. at two shelters).

Method, in short: block on the register's own precomputed keys (full name at the variant layer in both orders,
loose kana in both orders, birth date, given name, and the households of what the rows arriving together matched),
score each candidate with fixed evidence weights (no training: the weights are log-odds chosen from how often each
kind of evidence agrees by chance in a register), and confirm automatically only when the evidence identifies one
person beyond reasonable doubt (`decide`).

DV等支援措置 (read policy `jichitai.privacy.policy`): a protected candidate is never 自動確定 — confirming where a
protected person is staying is left to a person, because a confirmed match feeds safety lists and exports. For a
reader without the DV right, the address of a protected candidate is neither compared nor shown: no reason says
whether the typed address matched (that would reveal the address), and the candidate's `address` is the policy's
withheld value. The candidate itself (name, 宛名番号) is shown as on the person page.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from django.utils import timezone

from jichitai import moji
from jichitai.privacy import policy
from jichitai.tenancy.scope import tenant_scope

from . import parallel, parse, queries

AUTO = "auto"
REVIEW = "review"
NONE = "none"
DECISION_LABELS = {AUTO: "自動確定", REVIEW: "要確認", NONE: "該当なし"}

# The safety rule for 自動確定 (docs/matching.md): all must hold.
AUTO_MIN_SCORE = 13.0      # rule A: enough evidence in total (a whole name 8+ and a birth date slipped 5)
AUTO_MIN_MARGIN = 5.0      # every rule: far ahead of the next candidate (namesakes)
AUTO_MIN_MARGIN_PART = 2.5  # rule A: ahead of a candidate who shares only part of the name (born that day)
REVIEW_MIN_SCORE = 8.0     # below: 該当なし (a visitor, kept as a non-resident)
MAX_CANDIDATES = 5
CHILD_MAX_AGE = 15         # a row giving only a given name is looked for among residents of this age or younger
_NICK_SUFFIXES = ("ちゃん", "チャン", "くん", "クン", "さん", "サン", "たん", "りん")

_LAYER_POINTS = {"exact": 10.0, "selector": 10.0, "degenerate": 9.5, "variant": 9.0}
_LAYER_REASON = {
    "exact": "氏名が一致（登録どおり）",
    "selector": "氏名が一致（異体字セレクタの違いのみ）",
    "degenerate": "氏名が一致（MJ縮退で同じ字: 髙=高 など）",
    "variant": "氏名が一致（異体字を同一視: 邊=辺 など）",
}


@dataclass
class Candidate:
    person_id: int
    atena_no: str
    resident_code: str
    name: str
    kana: str
    birth_date: dt.date | None
    sex: str
    address: str | None  # the policy's withheld value for a protected person and a reader without the right
    household_id: int
    protected: bool
    score: float
    reasons: list = field(default_factory=list)


@dataclass
class MatchResult:
    index: int                    # position of the row in the input
    evacuee_id: str
    decision: str                 # auto | review | none
    candidates: list              # [Candidate], best first
    duplicate_group: str = ""     # rows that are the same person share it ("" when alone)
    notes: list = field(default_factory=list)  # why this decision (Japanese)

    @property
    def decision_label(self) -> str:
        return DECISION_LABELS[self.decision]

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class _P(NamedTuple):
    """A candidate resident as read from the index (queries.COLUMNS)."""
    id: int
    atena_no: str
    resident_code: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str
    former_family_name_kana: str
    birth_date: object
    sex: str
    address: str
    address_key: str
    household_id: int
    dv_protected: bool
    name_key: str
    name_sel_key: str
    name_deg_key: str
    name_var_key: str
    kana_key: str
    kana_loose_key: str
    previous_address: str

    @property
    def pk(self):  # what policy.protected_person_ids reads
        return self.id


class _Light(NamedTuple):
    """A narrow candidate row (queries.LIGHT_COLUMNS), enough for blocking, _prefilter and _birth_filter."""
    id: int
    birth_date: object
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str
    kana_loose_key: str
    name_var_key: str


class _Memo:
    """Keys of family and given names, memoised (a register has a few thousand distinct names)."""

    def __init__(self, drop_prefixes):
        self.var, self.loose, self.addr, self.ymd = {}, {}, {}, {}
        self.drop = drop_prefixes

    def v(self, s):
        r = self.var.get(s)
        if r is None:
            r = self.var[s] = moji.name_keys(s)[3] if s else ""
        return r

    def k(self, s):
        r = self.loose.get(s)
        if r is None:
            r = self.loose[s] = moji.kana_keys(s)[1] if s else ""
        return r

    def a(self, s):
        r = self.addr.get(s)
        if r is None:
            key = parse.address_key(s, self.drop)
            r = self.addr[s] = (key, parse.town_of(key))
        return r

    def birth(self, b):
        r = self.ymd.get(b)
        if r is None:
            if isinstance(b, str):
                r = (int(b[:4]), int(b[5:7]), int(b[8:10]))
            else:
                r = (b.year, b.month, b.day)
            self.ymd[b] = r
        return r


def _one_day_apart(b, by, bm, bd) -> bool:
    """The written date and the registered one are a day apart across a month or year end (8月31日 / 9月1日)."""
    d = b.date
    if d is None or abs(d.year - by) > 1:
        return False
    try:
        return abs((d - dt.date(by, bm, bd)).days) == 1
    except ValueError:
        return False


def _age_on(y, m, d, today):
    return today.year - y - ((today.month, today.day) < (m, d))


def _edit1(a: str, b: str) -> bool:
    """a and b differ by exactly one substitution, insertion or deletion."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1 or a == b:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b)) == 1
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


class _RowKeys:
    """What a row is compared with: its whole-name keys in both orders and its name parts at every split."""

    __slots__ = ("parts", "kparts", "pairs", "kpairs", "kana_strict", "kana_full", "forms", "given_only", "nicks")

    def __init__(self, row: parse.Row):
        self.forms = {}
        for (e, s, d, v), sw in row.name_forms:
            self.forms.setdefault(v, (e, s, d, sw))
        self.parts = set()
        self.pairs = []
        self.given_only = ""
        self.nicks = {}
        if row.name_forms:
            v = row.name_forms[0][0][3]
            if len(row.tokens) >= 2:
                f = moji.name_keys(row.tokens[0])[3]
                g = v[len(f):] if len(row.tokens) == 2 and v.startswith(f) else moji.name_keys(
                    "".join(row.tokens[1:]))[3]
                self.pairs = [(f, g, False), (g, f, True)]
            else:
                for i in range(1, len(v)):
                    f, g = v[:i], v[i:]
                    self.pairs.append((f, g, False))
                    self.pairs.append((g, f, True))
                self.given_only = v
                self.parts.add(v)
            for f, g, _s in self.pairs:
                self.parts.add(f)
                self.parts.add(g)
        # a given name written in kana after a family name, maybe with ちゃん/くん: a nickname is compared with the
        # beginning of the registered given reading (ゆうちゃん → ユウコ)
        for f, g, _s in self.pairs:
            if f and g and moji.is_kana(g) and not moji.is_kana(f):
                for suf in _NICK_SUFFIXES:
                    if g.endswith(suf) and len(g) > len(suf):
                        g = g[: -len(suf)]
                        break
                k = moji.kana_keys(g)[1]
                if len(k) >= 2:
                    self.nicks.setdefault(f, k)
        self.kparts = set()
        self.kpairs = []
        self.kana_strict = {k[0] for k, _sw in row.kana_forms}
        self.kana_full = row.kana_forms[0][0][1] if row.kana_forms else ""
        if row.kana_forms:
            toks = row.kana_tokens
            if len(toks) >= 2:
                f, g = moji.kana_keys(toks[0])[1], moji.kana_keys("".join(toks[1:]))[1]
                self.kpairs = [(f, g, False), (g, f, True)]
                self.kparts.update((f, g))
            else:
                self.kparts.add(self.kana_full)


def _score(row: parse.Row, rk: _RowKeys, p: _P, memo: _Memo, today, *, address_allowed: bool,
           context_households: dict):
    """(points, reasons, evidence flags) of one candidate for one row."""
    pts = 0.0
    reasons = []
    fam_v, giv_v = memo.v(p.family_name), memo.v(p.given_name)
    # ---- name, written form
    kanji_pts, kanji_full, kanji_part, nickname = 0.0, False, "", False
    full = rk.forms.get(p.name_var_key)
    if full is not None:
        e, s, d, swapped = full
        layer = ("exact" if e == p.name_key else "selector" if s == p.name_sel_key
                 else "degenerate" if d == p.name_deg_key else "variant")
        kanji_pts, kanji_full = _LAYER_POINTS[layer], True
        reasons.append(_LAYER_REASON[layer] + ("（氏と名が逆の順）" if swapped else ""))
    elif rk.pairs or rk.parts:
        former_v = memo.v(p.former_family_name) if p.former_family_name else ""
        fam_hit = giv_hit = former_hit = False
        for f, g, _sw in rk.pairs:
            if g == giv_v and (f == former_v and former_v):
                former_hit = True
                break
            if f == fam_v:
                fam_hit = True
            if g == giv_v:
                giv_hit = True
        if former_hit:
            kanji_pts, kanji_full = 8.5, True
            reasons.append("旧氏と名が一致（旧氏で記載）")
        elif rk.given_only and giv_v == rk.given_only:
            kanji_pts, kanji_part = 4.5, "given_only"
            reasons.append("名のみの記載で名が一致（子どもなど）")
        elif fam_hit and giv_hit:
            kanji_pts, kanji_full = 8.0, True
            reasons.append("氏と名がそれぞれ一致")
        elif giv_hit:
            kanji_pts, kanji_part = 4.5, "given"
            reasons.append("名のみ一致（氏が違う: 婚姻などによる変更の可能性）")
        elif fam_hit:
            nick = rk.nicks.get(fam_v)
            gk = memo.k(p.given_name_kana) if nick else ""
            if nick and gk != nick and gk.startswith(nick):
                kanji_pts, kanji_part, nickname = 6.0, "nickname", True
                reasons.append("氏が一致し、名は愛称の可能性（名の読みの先頭が一致）")
            else:
                kanji_pts, kanji_part = 3.0, "family"
                reasons.append("氏のみ一致（名が違う: 通称・愛称の可能性）")
    # ---- name, reading
    kana_pts, kana_full, kana_given, kana_given_only = 0.0, False, False, False
    if rk.kana_full:
        loose_full = p.kana_loose_key
        hit = False
        if loose_full and loose_full in row.kana_loose_keys:
            hit = True
            strict = p.kana_key in rk.kana_strict
            swapped = row.kana_loose_keys[loose_full]
            kana_pts, kana_full = (8.5 if strict else 8.0), True
            reasons.append(("フリガナが一致" if strict else "フリガナがゆるく一致（長音・小書き・濁点の違い）")
                           + ("（氏と名が逆の順）" if swapped else ""))
        elif loose_full and len(loose_full) >= 4 and _edit1(rk.kana_full, loose_full) and (
                kanji_full or not rk.pairs):
            hit = True
            kana_pts, kana_full = 6.0, True
            reasons.append("フリガナが1文字違い（書き誤りの可能性）")
        else:
            fk, gk = memo.k(p.family_name_kana), memo.k(p.given_name_kana)
            fh = gh = False
            for f, g, _sw in rk.kpairs:
                fh = fh or f == fk
                gh = gh or g == gk
            if not rk.kpairs and row.single_token and rk.kana_full == gk:
                kana_pts = 4.0
                reasons.append("名のフリガナのみの記載で一致")
                hit = kana_given = True
                kana_given_only = True
            elif gh:
                kana_pts = 4.0
                reasons.append("名のフリガナのみ一致")
                hit = kana_given = True
            elif fh:
                kana_pts = 2.5
                reasons.append("氏のフリガナのみ一致")
                hit = True
        if kanji_full and not kana_full:
            if hit:
                reasons[-1] += "（ほかは別の読みの可能性）"
                kana_pts = 0.0
            else:
                reasons.append("フリガナは一致しません（同じ漢字の別の読みの可能性）")
                kana_pts = -1.0
    if kanji_full and kana_full:
        name_pts = kanji_pts + 1.0
    elif kanji_full or kana_full:
        name_pts = max(kanji_pts, kana_pts)
    else:
        name_pts = max(kanji_pts, kana_pts)
    if kanji_full and kana_pts < 0:
        name_pts = kanji_pts - 1.0
    name_strong = kanji_full or kana_full
    pts += name_pts
    # ---- birth
    by, bm, bd = memo.birth(p.birth_date)
    b = row.birth
    birth = "none"
    birth_fit = False  # a year and month, a year or an age that agrees exactly (not an age band)
    if b.kind == "date":
        y, m, d = b.year, b.month, b.day
        if (y, m, d) == (by, bm, bd):
            pts += 9.0
            birth = "exact"
            reasons.append("生年月日が完全一致")
        else:
            near = None
            if y == by and m == bd and d == bm:
                near = "日と月が入れ替わり"
            elif (y == by and m == bm and abs(d - bd) == 1) or _one_day_apart(b, by, bm, bd):
                near = "日が1日違い"
            elif d == bd and (abs(y * 12 + m - by * 12 - bm) == 1 or (y == by and {m, bm} == {1, 12})):
                near = "月が1か月違い"
            elif abs(y - by) == 1 and m == bm and d == bd:
                near = "年が1年違い（和暦の年の書き誤りなど）"
            if near:
                pts += 5.0
                birth = "near"
                reasons.append(f"生年月日が一部一致（{near}）")
            elif y == by and m == bm:
                # a day that is not a slip: no evidence either way (a namesake born in the same month must not come
                # within the margin of the person whose date was slipped)
                birth = "partial"
                reasons.append("生年月のみ一致（日が違う）")
            else:
                pts -= 6.0
                birth = "conflict"
                reasons.append("生年月日が一致しません")
    elif b.kind == "ym":
        if (b.year, b.month) == (by, bm):
            pts += 4.0
            birth = "partial"
            birth_fit = True
            reasons.append("生年月が一致（日の記載なし）")
        elif b.year == by:
            pts += 0.5
            birth = "partial"
            reasons.append("生年のみ一致（月が違う）")
        else:
            pts -= 4.0
            birth = "conflict"
            reasons.append("生年月が一致しません")
    elif b.kind == "year":
        if b.year == by:
            pts += 2.5
            birth = "partial"
            birth_fit = True
            reasons.append("生年が一致（年のみの記載）")
        elif abs(b.year - by) == 1:
            pts += 0.5
            birth = "partial"
            reasons.append("生年が1年違い")
        else:
            pts -= 4.0
            birth = "conflict"
            reasons.append("生年が一致しません")
    elif b.kind in ("age", "decade"):
        age = _age_on(by, bm, bd, today)
        label = b.text or f"{b.age_lo}歳"
        if b.age_lo <= age <= b.age_hi:
            gain = 2.0 if b.kind == "age" else 0.8
            pts += gain
            birth = "age"
            birth_fit = b.kind == "age"
            reasons.append(f"年齢（{label}）と整合（{age}歳）")
        elif b.kind == "age" and abs(age - b.age_lo) == 1:
            pts += 1.0
            birth = "age"
            reasons.append(f"年齢（{label}）と1歳違い（{age}歳）")
        else:
            pts -= 5.0
            birth = "conflict"
            reasons.append(f"年齢（{label}）と整合しません（{age}歳）")
    else:
        reasons.append("生年月日の記載なし")
    # ---- sex
    if row.sex and p.sex:
        if row.sex == p.sex:
            pts += 0.5
            reasons.append("性別が一致")
        else:
            pts -= 2.5
            reasons.append("性別が一致しません")
    # ---- address (never for a protected person and a reader without the right: it would reveal the address)
    address_exact = address_town = False
    if row.address_key and pts >= 6.0:  # compared for candidates with other evidence (the others are not shown)
        if not address_allowed:
            reasons.append("住所は照合に使っていません（支援措置）")
        else:
            akey, town = memo.a(p.address_key)
            if akey and akey == row.address_key:
                pts += 6.0
                address_exact = True
                reasons.append("住所が一致")
            elif akey and len(row.address_key) > len(row.town) + 1 and akey.startswith(row.address_key):
                pts += 3.0
                reasons.append("住所が一部一致（番地まで）")
            elif p.previous_address and memo.a(p.previous_address)[0] == row.address_key:
                # the address before the last move, as people still give it: as good as the registered one
                pts += 6.0
                address_exact = True
                reasons.append("住所が前住所と一致（転居前の住所で記載）")
            elif row.town and town == row.town:
                if row.address_key == row.town:
                    # only the 町字 written (no number: not a shelter's address), and it is where this person lives
                    pts += 5.0
                    address_town = True
                    reasons.append("住所の町字が一致（町字のみの記載）")
                else:
                    pts += 1.5
                    reasons.append("住所の町字が一致")
            else:
                reasons.append("住所は一致しません（旧住所・避難所の住所の可能性）")
    # ---- household context
    household = False
    others = context_households.get(p.household_id)
    if others:
        others = [i for i in others if i != row.index]
        if others:
            household = True
            pts += 6.0
            rows_txt = "・".join(f"{i + 1}行目" for i in sorted(others)[:3])
            reasons.append(f"同行者（{rows_txt}）が同じ世帯の住民と照合（世帯の文脈）")
    flags = {"name_strong": name_strong, "name_any": name_pts > 0,
             "name_given": kana_given or kanji_part in ("given", "given_only", "nickname"),
             "given_only": kana_given_only or kanji_part == "given_only",
             "given_only_kanji": kanji_part == "given_only", "kanji_full": kanji_full, "birth": birth,
             "birth_fit": birth_fit,
             "nickname": nickname,
             "address_exact": address_exact, "address_town": address_town, "household": household}
    return round(pts, 2), reasons, flags


def _prefilter(rk: _RowKeys, p: _P, memo: _Memo) -> bool:
    """A cheap test for candidates found by birth date or household only: some part of the name meets."""
    if memo.v(p.family_name) in rk.parts or memo.v(p.given_name) in rk.parts:
        return True
    if p.former_family_name and memo.v(p.former_family_name) in rk.parts:
        return True
    if rk.kparts and (memo.k(p.family_name_kana) in rk.kparts or memo.k(p.given_name_kana) in rk.kparts):
        return True
    if rk.kana_full and p.kana_loose_key and len(p.kana_loose_key) >= 4 and _edit1(rk.kana_full, p.kana_loose_key):
        return True
    return False


def decide(scored: list, flags_of: dict) -> tuple[str, list]:
    """The safety rule for 自動確定 (docs/matching.md). The top candidate must be at least AUTO_MIN_MARGIN points
    ahead of the next one (a namesake), nothing about the birth date may contradict it, it must not be DV-protected,
    and one of these must identify the person:
      A. the whole name meets (any layer, or the whole reading) and the birth date agrees exactly or nearly (a day
         or a month slipped, day and month swapped, the 和暦 year off by one), and the score is AUTO_MIN_SCORE or more;
      B. the whole name meets and someone who arrived with the row matched the same household;
      C. the given name meets (a child written by given name only, a married name) and someone who arrived with the
         row matched the same household;
      D. part of the name meets, the birth date agrees exactly or nearly and the address is the registered one (or
         the one before the last move, 前住所), or the birth date agrees exactly and only the candidate's 町字 is
         written;
      D2. the given name meets and the address is the registered one or the 前住所 (the household's address: a child
         written by given name only, a married name);
      E. the whole name meets and the address written is the registered one, the 前住所, or only the 町字 and it is
         the candidate's (a shared address is household context: a namesake elsewhere is told apart by it, a
         namesake at the same address keeps the margin low);
      (F, a given name only and the exact birth date, is not a rule: in a register of a million about 27 children
         share each birthday, and visitors' children met resident children of the same given name born the same day
         — a child written by given name only is confirmed through its household, C, or the address, D;)
      G. the whole name as written (in kanji, any layer; a reading alone is shared by too many) meets, a year and
         month, a year or an age agrees exactly, and no other resident of that name fits (the margin): the age tells
         namesakes of the register apart; the remaining risk is a visitor who is the namesake of a resident of the
         same age;
      H. the family name meets, the given name is a nickname (the beginning of the given reading, ± ちゃん/くん)
         and the birth date agrees exactly.
    Otherwise 要確認 when the top candidate scores REVIEW_MIN_SCORE or more, else 該当なし. Namesakes with no birth
    date therefore never pass alone: only household context (B, C) or the address (E) can confirm them."""
    if not scored or scored[0][0] < REVIEW_MIN_SCORE:
        return NONE, ["登録されている住民に該当する人が見つかりません（住民以外の可能性）"]
    s1, p1 = scored[0][0], scored[0][1]
    s2 = scored[1][0] if len(scored) > 1 else 0.0
    f = flags_of[p1.id]
    notes = []
    if p1._protected:  # policy.protected_person_ids: the read policy's rule, not a copy of it
        notes.append("支援措置対象者の可能性があるため自動確定しません（権限のある職員が確認してください）")
    margin = s1 - s2
    if f["name_strong"] and f["birth"] in ("exact", "near") and len(scored) > 1:
        # a whole name with its birth date against someone who shares only part of the name (born that day: a
        # married name, a nickname): a smaller margin is enough; against another whole-name match, the full one
        s2_whole = max((s for s, p in scored[1:] if flags_of[p.id]["name_strong"]), default=0.0)
        if s1 - s2_whole >= AUTO_MIN_MARGIN and s1 - s2 >= AUTO_MIN_MARGIN_PART:
            margin = AUTO_MIN_MARGIN
    if margin < AUTO_MIN_MARGIN:
        notes.append(f"近い得点の候補が他にあります（差 {s1 - s2:g}点: 同姓同名など）")
    if f["birth"] == "conflict":
        notes.append("生年月日の記載が候補と一致しません")
    birth_ok = f["birth"] in ("exact", "near")
    rule = None
    if f["name_strong"] and birth_ok and s1 >= AUTO_MIN_SCORE:
        rule = "氏名と生年月日"
    elif f["name_strong"] and f["household"]:
        rule = "氏名と同行の世帯"
    elif f["name_given"] and f["household"]:
        rule = "名と同行の世帯"
    elif f["name_any"] and ((birth_ok and f["address_exact"]) or (f["birth"] == "exact" and f["address_town"])):
        rule = "氏名の一部・生年月日・住所"
    elif f["name_strong"] and (f["address_exact"] or f["address_town"]):
        rule = "氏名と住所"
    elif f["name_given"] and f["address_exact"]:
        rule = "名と住所（世帯の住所）"
    elif f["nickname"] and f["birth"] == "exact":
        rule = "氏と愛称と生年月日"
    elif f["kanji_full"] and f["birth_fit"] and s1 >= AUTO_MIN_SCORE - 3:
        rule = "氏名と生年・年齢（同じ氏名で整合する人は一人）"
    if rule is None:
        if not f["name_any"]:
            notes.append("氏名が候補と一致しません")
        elif f["birth"] not in ("exact", "near"):
            notes.append("生年月日または同行の世帯で本人を確かめられません（同姓同名を区別できない）")
        else:
            notes.append(f"根拠が自動確定の基準に足りません（{s1:g}点）")
    if notes or rule is None:
        return REVIEW, notes
    return AUTO, [f"自動確定（{rule}）: {s1:g}点、次の候補との差 {s1 - s2:g}点"]


def match_rows(municipality, rows: list, *, reader: policy.Reader, today: dt.date | None = None,
               workers: int | None = None) -> list:
    """Match `rows` (dicts: name, kana, birth, sex, address, group, evacuee_id) to `municipality`'s register.
    Returns one MatchResult per row, in input order. `workers`: processes to use (default: one per core for a
    large run outside a transaction, see matching.parallel; 1 = this process only)."""
    with tenant_scope(municipality):
        return _match(municipality, rows, reader, today or timezone.localdate(), workers)


def _match(municipality, rows, reader, today, workers=None):
    prefixes = (municipality.prefecture.name + municipality.name, municipality.name)
    groups = [str(r.get("group") or "").strip() for r in rows]

    def part_of(indices):  # read, keyed and matched in the part's own process
        parsed = [parse.read_row(i, rows[i], today=today, drop_prefixes=prefixes) for i in indices]
        rks = {r.index: _RowKeys(r) for r in parsed}
        results = _match_part(parsed, rks, reader, today, prefixes)
        return [(res, _identity(r, rks[r.index])) for res, r in zip(results, parsed)]

    moji.name_keys("髙")  # the character tables loaded once, before any fork (the parts share them)
    done = parallel.run_parts(_shards(groups, workers), part_of)
    done.sort(key=lambda x: x[0].index)
    results = [res for res, _i in done]
    _duplicates(results, groups, [ident for _r, ident in done])
    return results


def _shards(groups, workers) -> list:
    """Row indexes cut in parts of about the same size, the rows of one group (受付グループ; `groups`: each row's)
    always in one part (their household context is worked out together). One part unless the run is large and
    cores are free."""
    n = parallel.workers(len(groups), workers)
    if n == 1:
        return [list(range(len(groups)))]
    parts = [[] for _ in range(n)]
    slot_of = {}
    for i, g in enumerate(groups):
        if g:
            j = slot_of.setdefault(g, len(slot_of) % n)
        else:
            j = min(range(n), key=lambda k: len(parts[k]))
        parts[j].append(i)
    return [p for p in parts if p]


def _identity(r, rk):
    """What tells two rows not confirmed apart as the same person: the characters of the name in any order (the
    same for every order and separator) or of the reading, and the full birth date; None without them."""
    d = r.birth.date
    if d is None:
        return None
    if r.name_forms:
        return ("n", "".join(sorted(r.name_forms[0][0][3])), d)
    if rk.kana_full:
        return ("k", "".join(sorted(rk.kana_full)), d)
    return None


def _match_part(parsed, rks, reader, today, prefixes):
    """Results of `parsed` (rows, in input order; `rks`: their keys by row index), duplicates not yet marked."""
    memo = _Memo(prefixes)

    # ---- blocking: narrow rows (queries.LIGHT_COLUMNS) from every block, the birth filter per row, then the full
    # rows of the candidates left (far fewer: most namesakes in a large register were born on another day)
    light: dict[int, _Light] = {}
    cand_ids: dict[int, set] = {r.index: set() for r in parsed}
    by_name, by_kana, by_date = {}, {}, {}
    for r in parsed:
        for k in r.name_var_keys:
            by_name.setdefault(k, []).append(r.index)

    def add(tuples, col, index_of):
        for t in tuples:
            p = light.get(t[0])
            if p is None:
                p = light[t[0]] = _Light(*t)
            for i in index_of.get(t[col], ()):
                cand_ids[i].add(p.id)

    add(queries.by_name_variant_light(by_name), 8, by_name)

    def settled(r):
        """The written name already found someone born on the row's (full) birth date or close to it: the reading
        and the birth date blocks could only add people who score far lower."""
        d = r.birth
        if d.kind != "date":
            return False
        for pid in cand_ids[r.index]:
            by, bm, bd = memo.birth(light[pid].birth_date)
            if (by, bm, bd) == (d.year, d.month, d.day) or (by == d.year and (bm == d.month or bm == d.day)):
                return True
        return False

    is_settled = {r.index: settled(r) for r in parsed}
    for r in parsed:
        if not is_settled[r.index]:
            for k in r.kana_loose_keys:
                by_kana.setdefault(k, []).append(r.index)
    add(queries.by_kana_loose_light(by_kana), 7, by_kana)
    # rows with a full birth date whose name did not already find someone born that day
    for r in parsed:
        d = r.birth.date
        if d and not is_settled[r.index] and not any(memo.birth(light[pid].birth_date) == (d.year, d.month, d.day)
                                                     for pid in cand_ids[r.index]):
            by_date.setdefault(d, []).append(r.index)
    date_index = {}
    for d, idx in by_date.items():
        date_index[d.isoformat()] = idx
        date_index[d] = idx
    # the birth-date block is the widest (≈ 30 residents per date in a million): keep those whose name meets in
    # some part
    for t in queries.by_birth_date_light(by_date):
        idx = date_index.get(t[1])
        if not idx:
            continue
        p = light.get(t[0]) or _Light(*t)
        for i in idx:
            if _prefilter(rks[i], p, memo):
                cand_ids[i].add(p.id)
                light.setdefault(p.id, p)
    # a child written by given name only finds nobody in the name and reading blocks, and nobody in the date block
    # when the date is slipped: the given name as written among the register's children (kanji), and the dates near
    # the one written (a day or a month off, day and month swapped, the year off by one) for a name in kana
    by_given, by_near = {}, {}
    for r in parsed:
        if not r.single_token or cand_ids[r.index]:
            continue
        if r.name_forms and len(r.tokens[0]) <= 4:
            by_given.setdefault(r.tokens[0], []).append(r.index)
        elif r.name_is_kana and r.birth.kind == "date":
            for d in _near_dates(r.birth):
                by_near.setdefault(d, []).append(r.index)
    if by_given:
        born_from = dt.date(today.year - CHILD_MAX_AGE - 1, 1, 1)
        for t in queries.by_given_key_light(by_given, born_from):
            p = light.get(t[0]) or _Light(*t)
            for i in by_given.get(t[3], ()):
                cand_ids[i].add(p.id)
                light.setdefault(p.id, p)
    if by_near:
        near_index = {}
        for d, idx in by_near.items():
            near_index[d.isoformat()] = idx
            near_index[d] = idx
        for t in queries.by_birth_date_light(by_near):
            p = light.get(t[0]) or _Light(*t)
            for i in near_index.get(t[1], ()):
                if _prefilter(rks[i], p, memo):
                    cand_ids[i].add(p.id)
                    light.setdefault(p.id, p)
    wanted = set()
    for r in parsed:
        kept = _birth_filter(r.birth, memo, light, cand_ids[r.index], today)
        cand_ids[r.index] = set(kept)
        wanted.update(kept)
    people: dict[int, _P] = {}
    for t in queries.by_ids(wanted):
        people[t[0]] = _P(*t)
    for i, ids in cand_ids.items():  # a candidate that left the register meanwhile
        if not people.keys() >= ids:
            cand_ids[i] = {pid for pid in ids if pid in people}

    protected = policy.protected_person_ids(people.values())

    def score_all(context, only=None, previous=None):
        out = {}
        for r in parsed:
            rk, ids = rks[r.index], cand_ids[r.index]
            if only is not None and r.group not in only:
                out[r.index] = previous[r.index]
                continue
            scored, flags_of, reasons_of = [], {}, {}
            for pid in ids:
                p = people[pid]
                allowed = reader.dv_addresses or pid not in protected
                s, why, flags = _score(r, rk, p, memo, today, address_allowed=allowed,
                                       context_households=context.get(r.group, {}) if r.group else {})
                scored.append((s, p))
                flags_of[pid] = flags
                reasons_of[pid] = why
            scored.sort(key=lambda x: (-x[0], x[1].id))
            out[r.index] = (scored, flags_of, reasons_of)
        return out

    first = score_all({})

    # ---- household context: what the rows arriving together matched, and those households' members
    groups: dict[str, list] = {}
    for r in parsed:
        if r.group:
            groups.setdefault(r.group, []).append(r.index)
    context: dict[str, dict] = {}
    hh_wanted = set()
    for g, idxs in groups.items():
        if len(idxs) < 2:
            continue
        ctx = {}
        for i in idxs:
            scored, flags_of, _ = first[i]
            if scored and scored[0][0] >= 12.0 and flags_of[scored[0][1].id]["name_any"]:
                s2 = scored[1][0] if len(scored) > 1 else 0.0
                if scored[0][0] - s2 >= 3.0:
                    hh = scored[0][1].household_id
                    ctx.setdefault(hh, []).append(i)
                    hh_wanted.add(hh)
        # households in which two rows of the group each find a different member by the whole name (no birth date
        # needed: namesakes of two people of one household are rare; a second such household keeps the margin low)
        seen: dict[int, dict] = {}
        for i in idxs:
            scored, flags_of, _ = first[i]
            for _s, p in scored:
                fl = flags_of[p.id]
                if fl["name_strong"] and fl["birth"] != "conflict":
                    seen.setdefault(p.household_id, {}).setdefault(i, set()).add(p.id)
        for hh, rows_of in seen.items():
            if len(rows_of) >= 2 and len(set().union(*rows_of.values())) >= 2:
                have = ctx.setdefault(hh, [])
                have.extend(i for i in rows_of if i not in have)
                hh_wanted.add(hh)
        if ctx:
            context[g] = ctx
    if hh_wanted:
        row_of = {r.index: r for r in parsed}
        members = queries.by_household(hh_wanted)
        for t in members:
            p = people.get(t[0])
            if p is None:
                p = people[t[0]] = _P(*t)
        protected = policy.protected_person_ids(people.values())
        by_hh: dict[int, list] = {}
        for t in members:
            by_hh.setdefault(t[13], []).append(t[0])
        for g, ctx in context.items():
            for i in groups[g]:
                for hh in ctx:
                    for pid in by_hh.get(hh, ()):
                        if pid not in cand_ids[i] and _prefilter_household(rks[i], row_of[i], people[pid], memo):
                            cand_ids[i].add(pid)
        final = score_all(context, only=context, previous=first)
    else:
        final = first

    # ---- decisions
    results = []
    for r in parsed:
        scored, flags_of, reasons_of = final[r.index]
        top = [(s, p) for s, p in scored if s > 0][:MAX_CANDIDATES]
        decision, notes = decide([(s, _Prot(p, p.id in protected)) for s, p in top], flags_of)
        cands = []
        for s, p in top:
            is_prot = p.id in protected
            data, _w = policy.redact({"address": p.address}, reader, person_protected=is_prot)
            by, bm, bd = memo.birth(p.birth_date)
            cands.append(Candidate(
                person_id=p.id, atena_no=p.atena_no, resident_code=p.resident_code,
                name=f"{p.family_name}　{p.given_name}".strip("　"),
                kana=f"{p.family_name_kana}　{p.given_name_kana}".strip("　"),
                birth_date=dt.date(by, bm, bd), sex=p.sex, address=data["address"], household_id=p.household_id,
                protected=is_prot, score=s, reasons=reasons_of[p.id]))
        results.append(MatchResult(index=r.index, evacuee_id=r.evacuee_id, decision=decision, candidates=cands,
                                   notes=notes))
    _same_person_in_group(results, parsed)
    return results


class _Prot:
    """A candidate with its protection now (policy.protected_person_ids), for decide()."""

    __slots__ = ("p", "_protected")

    def __init__(self, p, prot):
        self.p, self._protected = p, prot

    def __getattr__(self, name):
        return getattr(self.p, name)


def _birth_filter(b, memo, people, ids, today):
    """The candidates whose birth date could be the row's (exact, slipped, swapped, off by a year; the same year
    for a year or an age) — the others score far below and cannot change a decision — or all of them if none
    could (then the best of them is shown for review)."""
    if b.kind == "none" or len(ids) <= 3:
        return ids
    keep = []
    if b.kind == "date":
        y, m, d = b.year, b.month, b.day
        for pid in ids:
            by, bm, bd = memo.birth(people[pid].birth_date)
            if (by == y and (bm == m or bm == d or bd == d)) or (abs(by - y) == 1 and bd == d and (
                    bm == m or {m, bm} == {1, 12})) or (abs(by - y) <= 1 and bd in (1, 28, 29, 30, 31)
                                                        and _one_day_apart(b, by, bm, bd)):
                keep.append(pid)
    elif b.kind in ("ym", "year"):
        for pid in ids:
            if abs(memo.birth(people[pid].birth_date)[0] - b.year) <= 1:
                keep.append(pid)
    else:
        lo, hi = today.year - b.age_hi - 2, today.year - b.age_lo + 1
        for pid in ids:
            if lo <= memo.birth(people[pid].birth_date)[0] <= hi:
                keep.append(pid)
    return keep or ids


def _near_dates(b) -> list:
    """The calendar dates a written date may have been slipped from (a day or a month off, day and month swapped,
    the year off by one)."""
    out = []
    y, m, d = b.year, b.month, b.day
    base = b.date
    if base is not None:
        out += [base - dt.timedelta(days=1), base + dt.timedelta(days=1)]
    for yy, mm, dd in ((y, m - 1, d), (y, m + 1, d), (y, d, m), (y - 1, m, d), (y + 1, m, d)):
        try:
            out.append(dt.date(yy, mm, dd))
        except (ValueError, TypeError):
            pass
    return [x for x in dict.fromkeys(out) if x != base]


def _prefilter_household(rk, row, p, memo) -> bool:
    """A household member of what the row's companions matched is a candidate when some part of the name, or the
    birth date, meets (a child written by given name only, a nickname with the right birth date)."""
    if _prefilter(rk, p, memo):
        return True
    d = row.birth
    if d.kind == "date":
        return memo.birth(p.birth_date) == (d.year, d.month, d.day)
    return False


def _same_person_in_group(results, parsed):
    """Two rows that arrived together are two people: if both were confirmed to the same resident, neither is."""
    seen: dict[tuple, list] = {}
    for res, r in zip(results, parsed):
        if r.group and res.decision == AUTO:
            seen.setdefault((r.group, res.top.person_id), []).append(res)
    for same in seen.values():
        if len(same) > 1:
            for res in same:
                res.decision = REVIEW
                res.notes = ["同じ受付の別の行が同じ住民に照合されました（確認してください）"]


def _duplicates(results, groups, idents):
    """Rows that are the same person get one duplicate group: confirmed to the same resident, or — for rows not
    confirmed — the same name (any order, any kana form) and the same full birth date. Rows of one group are
    never merged (people arriving together are different people)."""
    parent = list(range(len(results)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        if groups[a] and groups[a] == groups[b]:
            return
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_person: dict[int, int] = {}
    by_identity: dict[tuple, int] = {}
    for res, ident in zip(results, idents):
        if res.decision == AUTO:
            pid = res.top.person_id
            if pid in by_person:
                union(by_person[pid], res.index)
            else:
                by_person[pid] = res.index
        if ident is None:
            continue
        if ident in by_identity:
            union(by_identity[ident], res.index)
        else:
            by_identity[ident] = res.index
    members: dict[int, list] = {}
    for i in range(len(results)):
        members.setdefault(find(i), []).append(i)
    n = 0
    for root in sorted(members):
        idx = members[root]
        if len(idx) < 2:
            continue
        n += 1
        gid = f"D{n:05d}"
        for i in idx:
            results[i].duplicate_group = gid
            others = "・".join(f"{j + 1}行目" for j in idx if j != i)
            results[i].notes.append(f"重複登録の可能性: {others}と同じ人（重複グループ {gid}）")

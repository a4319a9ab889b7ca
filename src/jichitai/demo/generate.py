"""Synthetic households for one municipality: plain Python dicts, no database.

`TownGenerator.household()` returns one household: a list of person dicts (the head first) with the register's
fields, plus `_hist`, the person's history as (change_kind, change_date, notification_date, snapshot overrides)
from 履歴番号 1 on. The bulk loader (`jichitai.demo.bulk`) numbers them and writes them.

The town is meant to look like a rural Kyushu municipality: many elderly people living alone or as couples,
families with children, some three-generation households, young singles in apartments, about 2% foreign residents
and a few 除票 (deaths and departures). Names and towns come from the `gimei` data (see `jichitai.demo.data`).
"""
import datetime as dt
import re
import string

from .data import (APARTMENT_STEMS, COUNTRY_FULL, FOREIGN, FOREIGN_POOL, KANJI_NUM, OTHER_PLACES, PERIODS,
                   PREFECTURES, WeightedPool, latin_kana, name_pools)

MALE, FEMALE = "1", "2"
FW_SPACE = "\u3000"

HOUSEHOLD_TYPES = WeightedPool(
    ["elderly_single", "elderly_couple", "couple", "nuclear", "single_parent", "three_gen", "young_single",
     "middle_single", "parent_adult_child", "shared", "foreign"],
    [16, 16, 12, 13, 4, 7, 11, 8, 7, 1, 1.3],
)
FOREIGN_HOUSEHOLD_TYPES = WeightedPool(["trainees", "single", "family", "special_permanent"], [35, 30, 20, 15])
MIXED_WIFE = WeightedPool(["フィリピン", "中国", "韓国", "ベトナム", "ブラジル"], [40, 30, 15, 10, 5])
OTHER_PLACE_POOL = WeightedPool([p for p, _ in OTHER_PLACES], [w for _, w in OTHER_PLACES])

# Removal (除票) probabilities, applied per person after a household is built.
P_REMOVED_DEATH = 0.12      # of people aged 75+ (not heads of larger households)
P_REMOVED_MOVE_OUT = 0.12   # of people aged 18–35 (not heads of larger households)


def _period_days(period: str) -> int:
    """"1年3月" → 455, "6月" → 180."""
    m = re.fullmatch(r"(?:(\d+)年)?(?:(\d+)月)?", period)
    return int(m.group(1) or 0) * 365 + int(m.group(2) or 0) * 30 if m else 365


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class TownGenerator:
    """Generates the households of one municipality, reproducibly from `rng`."""

    def __init__(self, *, code: str, name: str, rng, today: dt.date, postal_prefix: str = "", n_hint: int = 10000,
                 prefecture_name: str | None = None):
        self.code = code
        self.name = name
        self.rng = rng
        self.today = today
        self.prefecture = prefecture_name or PREFECTURES.get(code[:2], "")
        self.pools = name_pools()
        self.postal_prefix = postal_prefix or "8" + code[3:5]
        n_towns = max(6, min(400, n_hint // 600))
        towns = rng.sample(self.pools.towns, min(n_towns, len(self.pools.towns)))
        self.towns = []
        postal_seen = set()
        for town, _kana in towns:
            chome = rng.random() < 0.5
            while True:
                postal = f"{self.postal_prefix}-{rng.randrange(1, 10000):04d}"
                if postal not in postal_seen:
                    postal_seen.add(postal)
                    break
            self.towns.append((town, chome, rng.randint(2, 6) if chome else 0, postal))
        self.town_pool = WeightedPool(self.towns, [rng.paretovariate(1.3) for _ in self.towns])
        self._card_seen = set()

    # ---------------------------------------------------------------- small helpers
    def date_between(self, lo: dt.date, hi: dt.date) -> dt.date:
        if hi <= lo:
            return lo
        return dt.date.fromordinal(self.rng.randint(lo.toordinal(), hi.toordinal()))

    def birth_for_age(self, age: int) -> dt.date:
        age = max(0, min(age, 104))
        hi = add_years(self.today, -age)
        lo = add_years(self.today, -age - 1) + dt.timedelta(days=1)
        return self.date_between(lo, hi)

    def family_name(self):
        return self.pools.family.pick(self.rng)

    def given_name(self, sex, birth: dt.date):
        rng = self.rng
        old = birth.year < 1960 or (birth.year < 1985 and rng.random() < 0.5)
        if sex == MALE:
            pool = self.pools.male_old if old else self.pools.male_all
        else:
            pool = self.pools.female_old if old else self.pools.female_all
        return pool[rng.randrange(len(pool))]

    def address(self):
        rng = self.rng
        town, chome, max_chome, postal = self.town_pool.pick(rng)
        if chome:
            text = f"{town}{KANJI_NUM[rng.randint(1, max_chome)]}丁目{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
        elif rng.random() < 0.7:
            text = f"{town}{rng.randint(1, 3200)}番地"
        else:
            text = f"{town}{rng.randint(1, 3200)}番地{rng.randint(1, 12)}"
        return text, postal

    def katagaki(self):
        rng = self.rng
        pre, suf = APARTMENT_STEMS[rng.randrange(len(APARTMENT_STEMS))]
        owner = self.family_name()[0]
        if suf in ("荘", "アパート"):
            return f"{pre}{owner}{suf}{rng.randint(1, 12)}号"
        return f"{pre}{owner}{suf}{rng.randint(1, 4)}{rng.randint(1, 8):02d}号"

    def elsewhere(self, with_number=True):
        rng = self.rng
        place = OTHER_PLACE_POOL.pick(rng)
        town = self.pools.towns[rng.randrange(len(self.pools.towns))][0]
        if rng.random() < 0.5:
            return f"{place}{town}{KANJI_NUM[rng.randint(1, 5)]}丁目{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
        return f"{place}{town}{rng.randint(1, 2500)}番地"

    def honseki_here(self):
        town = self.towns[self.rng.randrange(len(self.towns))][0]
        return f"{self.prefecture}{self.name}{town}{self.rng.randint(1, 3200)}番地"

    def honseki_elsewhere(self):
        rng = self.rng
        place = OTHER_PLACE_POOL.pick(rng)
        town = self.pools.towns[rng.randrange(len(self.pools.towns))][0]
        return f"{place}{town}{rng.randint(1, 3200)}番地"

    def card_no(self):
        rng = self.rng
        while True:
            letters = string.ascii_uppercase
            no = (rng.choice(letters) + rng.choice(letters) + f"{rng.randrange(10**8):08d}"
                  + rng.choice(letters) + rng.choice(letters))
            if no not in self._card_seen:
                self._card_seen.add(no)
                return no

    # ---------------------------------------------------------------- persons
    def jp_person(self, sex, age, family, rel, *, given=None, birth=None):
        birth = birth or self.birth_for_age(age)
        g = given or self.given_name(sex, birth)
        return {
            "family_name": family[0], "family_name_kana": family[1], "given_name": g[0], "given_name_kana": g[1],
            "birth_date": birth, "sex": sex, "relationship": rel, "is_foreign": False, "is_head": False,
        }

    def foreign_person(self, nationality, sex, age, rel, *, family=None, status=None, birth=None):
        rng = self.rng
        spec = FOREIGN[nationality]
        birth = birth or self.birth_for_age(age)
        fam = family if family is not None else spec["family"][rng.randrange(len(spec["family"]))]
        given = spec["male" if sex == MALE else "female"]
        given = given[rng.randrange(len(given))]
        if spec["script"] == "kanji":
            p = {"family_name": fam[0], "family_name_kana": fam[1], "given_name": given[0], "given_name_kana": given[1]}
        elif fam:
            p = {"family_name": fam, "family_name_kana": latin_kana(fam), "given_name": given,
                 "given_name_kana": latin_kana(given)}
        else:  # no family name (Indonesia, Myanmar): the whole name is recorded as 氏
            p = {"family_name": given, "family_name_kana": latin_kana(given), "given_name": "", "given_name_kana": ""}
        p.update(birth_date=birth, sex=sex, relationship=rel, is_foreign=True, is_head=False, nationality=nationality)
        self.set_status(p, status or "永住者")
        return p

    def set_status(self, p, status):
        rng = self.rng
        p["residence_status"] = status
        if status == "特別永住者":
            p["foreign_category"] = "特別永住者"
            p["residence_status"] = ""
        elif rng.random() < 0.004:
            p["foreign_category"] = "一時庇護許可者"
            p["residence_status"] = ""
        else:
            p["foreign_category"] = "中長期在留者"
        periods = PERIODS.get(status, [""])
        p["period_of_stay"] = "" if p["foreign_category"] != "中長期在留者" else periods[rng.randrange(len(periods))]
        if p["foreign_category"] == "一時庇護許可者":
            p["period_of_stay"] = "6月"
        if p["period_of_stay"]:  # granted (or last renewed) some time ago, expiring within the period
            days = max(30, _period_days(p["period_of_stay"]))
            p["stay_expiry"] = self.today + dt.timedelta(days=rng.randint(20, days))
        if p["foreign_category"] != "一時庇護許可者":
            p["residence_card_no"] = self.card_no()

    # ---------------------------------------------------------------- households
    def household(self):
        kind = HOUSEHOLD_TYPES.pick(self.rng)
        members, extra = getattr(self, "_h_" + kind)()
        self._finish(members, kind, **extra)
        return members

    def _wife_of(self, husband_age, family, *, min_age=20, mixed_ok=True):
        rng = self.rng
        age = max(min_age, husband_age - rng.choice([-3, -2, -1, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6]))
        if mixed_ok and rng.random() < 0.035 and husband_age < 75:
            nat = MIXED_WIFE.pick(rng)
            status = "永住者" if rng.random() < 0.5 else "日本人の配偶者等"
            w = self.foreign_person(nat, FEMALE, age, "妻", status=status)
            if rng.random() < 0.6:  # 通称: the husband's family name and her own given name
                first = (w["given_name_kana"] or w["family_name_kana"]).split(" ")[0]
                if FOREIGN[nat]["script"] == "kanji":
                    w["alias_name"] = family[0] + FW_SPACE + w["given_name"]
                    w["alias_name_kana"] = family[1] + FW_SPACE + w["given_name_kana"]
                else:
                    w["alias_name"] = family[0] + FW_SPACE + first
                    w["alias_name_kana"] = family[1] + FW_SPACE + first
            return w
        w = self.jp_person(FEMALE, age, family, "妻")
        if rng.random() < 0.15:  # 旧氏 registered (possible since 2019)
            maiden = self.family_name()
            if maiden != family:
                w["former_family_name"], w["former_family_name_kana"] = maiden
        return w

    def _children(self, mother_age, n, family, rel="子", max_age=28):
        rng = self.rng
        out, ages = [], set()
        for _ in range(n):
            for _try in range(6):
                a = mother_age - rng.randint(22, 42)
                if 0 <= a <= max_age and a not in ages:
                    break
            else:
                continue
            ages.add(a)
            out.append(self.jp_person(rng.choice((MALE, FEMALE)), a, family, rel))
        out.sort(key=lambda p: p["birth_date"])
        return out

    def _n_children(self):
        return self.rng.choices((1, 2, 3, 4), (40, 43, 15, 2))[0]

    def _h_elderly_single(self):
        rng = self.rng
        sex = FEMALE if rng.random() < 0.72 else MALE
        age = int(rng.triangular(62, 102, 84))
        fam = self.family_name()
        p = self.jp_person(sex, age, fam, "世帯主")
        if sex == FEMALE and rng.random() < 0.8:  # a widow: 筆頭者 is her late husband
            husband = self.given_name(MALE, add_years(p["birth_date"], -3))
            return [p], {"hittosha": fam[0] + FW_SPACE + husband[0], "native": 0.6}
        return [p], {"native": 0.6}

    def _h_elderly_couple(self):
        age = int(self.rng.triangular(62, 97, 77))
        fam = self.family_name()
        return [self.jp_person(MALE, age, fam, "世帯主"), self._wife_of(age, fam, min_age=58)], {"native": 0.6}

    def _h_couple(self):
        age = int(self.rng.triangular(23, 78, 68))
        fam = self.family_name()
        return [self.jp_person(MALE, age, fam, "世帯主"), self._wife_of(age, fam)], {"native": 0.35}

    def _h_nuclear(self):
        rng = self.rng
        age = int(rng.triangular(27, 62, 46))
        fam = self.family_name()
        father = self.jp_person(MALE, age, fam, "世帯主")
        mother = self._wife_of(age, fam, min_age=22)
        kids = self._children(age_on(mother["birth_date"], self.today), self._n_children(), fam)
        if rng.random() < 0.05:  # the wife is head of household
            father["relationship"], mother["relationship"] = "夫", "世帯主"
            return [mother, father, *kids], {"native": 0.4}
        return [father, mother, *kids], {"native": 0.4}

    def _h_single_parent(self):
        rng = self.rng
        sex = FEMALE if rng.random() < 0.85 else MALE
        age = int(rng.triangular(24, 56, 38))
        fam = self.family_name()
        parent = self.jp_person(sex, age, fam, "世帯主")
        kids = self._children(age, rng.choice((1, 1, 2, 2, 3)), fam, max_age=22)
        if not kids:
            kids = [self.jp_person(rng.choice((MALE, FEMALE)), rng.randint(0, 12), fam, "子")]
        dv = rng.random() < 0.05
        return [parent, *kids], {"native": 0.3, "dv": dv, "hittosha": parent["family_name"] + FW_SPACE
                                 + parent["given_name"] if sex == FEMALE else None}

    def _h_three_gen(self):
        rng = self.rng
        fam = self.family_name()
        if rng.random() < 0.5:  # middle-aged head with his parents and children
            age = int(rng.triangular(42, 68, 52))
            head = self.jp_person(MALE, age, fam, "世帯主")
            wife = self._wife_of(age, fam, min_age=38, mixed_ok=False)
            members = [head, wife]
            f_age = min(100, age + rng.randint(24, 34))
            if rng.random() < 0.45:
                members.append(self.jp_person(MALE, f_age, fam, "父"))
            members.append(self.jp_person(FEMALE, min(101, f_age - rng.randint(0, 4)), fam, "母"))
            members += self._children(age_on(wife["birth_date"], self.today), self._n_children(), fam, max_age=30)
            return members, {"native": 0.8, "generations": "parents"}
        age = int(rng.triangular(66, 90, 75))  # an elderly head with a married son and grandchildren
        head = self.jp_person(MALE, age, fam, "世帯主")
        wife = self._wife_of(age, fam, min_age=62, mixed_ok=False)
        son_age = max(28, age - rng.randint(25, 36))
        son = self.jp_person(MALE, son_age, fam, "子")
        son_wife = self._wife_of(son_age, fam, min_age=26)
        son_wife["relationship"] = "子の妻"
        members = [head, wife, son, son_wife]
        members += self._children(age_on(son_wife["birth_date"], self.today), rng.choice((1, 2, 2, 3)), fam,
                                  rel="孫", max_age=25)
        return members, {"native": 0.8, "generations": "son"}

    def _h_young_single(self):
        rng = self.rng
        sex = MALE if rng.random() < 0.55 else FEMALE
        p = self.jp_person(sex, int(rng.triangular(18, 40, 24)), self.family_name(), "世帯主")
        father = self.given_name(MALE, add_years(p["birth_date"], -30))
        return [p], {"native": 0.15, "apartment": 0.75, "hittosha": p["family_name"] + FW_SPACE + father[0],
                     "honseki_elsewhere": 0.6, "dv": sex == FEMALE and rng.random() < 0.01}

    def _h_middle_single(self):
        rng = self.rng
        sex = MALE if rng.random() < 0.6 else FEMALE
        p = self.jp_person(sex, int(rng.triangular(38, 72, 62)), self.family_name(), "世帯主")
        return [p], {"native": 0.4, "apartment": 0.3}

    def _h_parent_adult_child(self):
        rng = self.rng
        fam = self.family_name()
        sex = FEMALE if rng.random() < 0.75 else MALE
        age = int(rng.triangular(70, 100, 86))
        parent = self.jp_person(sex, age, fam, "世帯主")
        child = self.jp_person(rng.choice((MALE, FEMALE)), max(38, age - rng.randint(24, 38)), fam, "子")
        return [parent, child], {"native": 0.7}

    def _h_shared(self):
        rng = self.rng
        age = rng.randint(22, 70)
        head = self.jp_person(rng.choice((MALE, FEMALE)), age, self.family_name(), "世帯主")
        other = self.jp_person(rng.choice((MALE, FEMALE)), max(18, age + rng.randint(-8, 8)), self.family_name(),
                               "同居人")
        return [head, other], {"native": 0.2, "apartment": 0.4}

    def _h_foreign(self):
        rng = self.rng
        kind = FOREIGN_HOUSEHOLD_TYPES.pick(rng)
        if kind == "trainees":
            nat = rng.choices(["ベトナム", "インドネシア", "ミャンマー", "フィリピン", "中国", "ネパール"],
                              [45, 18, 14, 10, 8, 5])[0]
            sex = rng.choice((MALE, FEMALE))
            status = "技能実習" if rng.random() < 0.6 else "特定技能"
            members = [self.foreign_person(nat, sex, int(rng.triangular(19, 38, 24)), "世帯主", status=status)]
            for _ in range(rng.choice((1, 2, 2, 3))):
                members.append(self.foreign_person(nat, sex, int(rng.triangular(19, 38, 24)), "同居人",
                                                   status=status))
            return members, {"native": 0.0, "apartment": 0.9, "abroad": 0.7}
        if kind == "single":
            nat = FOREIGN_POOL.pick(rng)
            status = rng.choices(["留学", "技術・人文知識・国際業務", "特定技能", "技能実習"], [30, 35, 20, 15])[0]
            if nat in ("米国",):
                status = "技術・人文知識・国際業務"
            p = self.foreign_person(nat, rng.choice((MALE, FEMALE)), int(rng.triangular(19, 45, 26)), "世帯主",
                                    status=status)
            return [p], {"native": 0.0, "apartment": 0.85, "abroad": 0.5}
        if kind == "family":
            nat = rng.choices(["中国", "ベトナム", "ネパール", "フィリピン", "ブラジル", "米国", "台湾"],
                              [30, 20, 20, 10, 10, 5, 5])[0]
            head_status = rng.choices(["永住者", "技術・人文知識・国際業務", "定住者"], [50, 35, 15])[0]
            if nat != "ブラジル" and head_status == "定住者":
                head_status = "永住者"
            dep_status = "家族滞在" if head_status == "技術・人文知識・国際業務" else head_status
            age = int(rng.triangular(26, 55, 36))
            head = self.foreign_person(nat, MALE, age, "世帯主", status=head_status)
            fam = head["family_name"] if FOREIGN[nat]["script"] == "latin" else (head["family_name"],
                                                                                  head["family_name_kana"])
            if FOREIGN[nat]["family"] == [""]:
                fam = ""
            wife = self.foreign_person(nat, FEMALE, max(22, age - rng.randint(0, 5)), "妻", status=dep_status)
            members = [head, wife]
            for _ in range(rng.choice((1, 1, 2))):
                a = age_on(wife["birth_date"], self.today) - rng.randint(22, 38)
                if a >= 0:
                    members.append(self.foreign_person(nat, rng.choice((MALE, FEMALE)), a, "子", family=fam,
                                                       status=dep_status))
            return members, {"native": 0.0, "apartment": 0.5, "abroad": 0.4}
        # special permanent residents (特別永住者), mostly with a Japanese 通称
        age = int(rng.triangular(40, 95, 72))
        head = self.foreign_person("韓国", MALE, age, "世帯主", status="特別永住者")
        members = [head]
        if rng.random() < 0.6:
            members.append(self.foreign_person("韓国", FEMALE, max(35, age - rng.randint(0, 5)), "妻",
                                               status="特別永住者"))
        if rng.random() < 0.85:
            alias_family = self.family_name()
            for p in members:
                g = self.given_name(p["sex"], p["birth_date"])
                p["alias_name"] = alias_family[0] + FW_SPACE + g[0]
                p["alias_name_kana"] = alias_family[1] + FW_SPACE + g[1]
        return members, {"native": 0.7, "apartment": 0.1}

    # ---------------------------------------------------------------- registration, flags, removals
    def _finish(self, members, kind, *, native=0.4, apartment=0.15, hittosha=None, honseki_elsewhere=0.3, dv=False,
                abroad=0.0, generations=None):
        rng, today = self.rng, self.today
        head = members[0]
        head["is_head"] = True
        address, postal = self.address()
        katagaki = self.katagaki() if rng.random() < apartment else ""
        honseki = self.honseki_elsewhere() if rng.random() < honseki_elsewhere else self.honseki_here()
        head_name = head["family_name"] + FW_SPACE + head["given_name"]
        for p in members:
            p["address"], p["postal_code"], p["address_katagaki"] = address, postal, katagaki

        # 本籍・筆頭者 (Japanese only)
        for p in members:
            if p["is_foreign"]:
                continue
            rel = p["relationship"]
            if rel in ("世帯主", "妻", "夫", "子"):
                p["honseki"], p["hittosha"] = honseki, hittosha or head_name
            elif rel in ("父", "母"):
                father = next((m for m in members if m["relationship"] == "父"), None)
                name = father["given_name"] if father else self.given_name(MALE, p["birth_date"])[0]
                p["honseki"], p["hittosha"] = honseki, p["family_name"] + FW_SPACE + name
            elif rel in ("子の妻", "孫"):
                son = next(m for m in members if m["relationship"] == "子")
                p["honseki"], p["hittosha"] = honseki, son["family_name"] + FW_SPACE + son["given_name"]
            else:  # 同居人
                p["honseki"] = self.honseki_elsewhere()
                p["hittosha"] = p["family_name"] + FW_SPACE + p["given_name"]
        if generations == "son":  # the married son has his own 戸籍
            for p in members:
                if p["relationship"] == "子":
                    p["hittosha"] = p["family_name"] + FW_SPACE + p["given_name"]

        # 住民となった日: born here, or moved in (with the 前住所)
        is_native = rng.random() < native
        head_birth = head["birth_date"]
        if is_native:
            arrival = None
        else:
            lo = add_years(head_birth, 20 if not head["is_foreign"] else 18)
            arrival = self.date_between(min(lo, today - dt.timedelta(days=30)), today - dt.timedelta(days=5))
        prev_household = self.elsewhere()
        if head["is_foreign"] and rng.random() < abroad:
            prev_household = COUNTRY_FULL[head["nationality"]]
        for p in members:
            birth = p["birth_date"]
            rel = p["relationship"]
            if arrival is None:
                if rel in ("妻", "夫", "子の妻", "同居人") or (p["is_foreign"] and rel != "子"):
                    # married in (or came to live here) from elsewhere
                    lo = max(add_years(birth, 20), add_years(head_birth, 20))
                    date = self.date_between(min(lo, today - dt.timedelta(days=40)), today - dt.timedelta(days=10))
                    self._register_move_in(p, date, self.elsewhere())
                else:
                    self._register_birth(p)
            elif birth >= arrival:
                self._register_birth(p)
            else:
                self._register_move_in(p, arrival, prev_household)
            if p["is_foreign"] and age_on(birth, today) == 0 and (today - birth).days < 60:
                p["foreign_category"], p["residence_status"], p["period_of_stay"] = "出生による経過滞在者", "", ""
                p["stay_expiry"], p["residence_card_no"] = None, ""

        # flags
        head_age = age_on(head_birth, today)
        nhi_household = 65 <= head_age < 75 or rng.random() < 0.25
        child_recipient = None
        for p in members:
            if p["relationship"] in ("子", "孫") and age_on(p["birth_date"], today) < 15:
                parent_rels = ("世帯主", "夫") if p["relationship"] == "子" else ("子",)
                child_recipient = next((m for m in members if m["relationship"] in parent_rels
                                        and m["sex"] == MALE), None) or next(
                    (m for m in members if m["relationship"] in parent_rels + ("子の妻", "妻")), head)
                break
        for p in members:
            age = age_on(p["birth_date"], today)
            p["elector"] = (not p["is_foreign"] and age >= 18
                            and p["became_resident_date"] <= today - dt.timedelta(days=92))
            p["care_insurance"] = age >= 65
            p["late_elderly_medical"] = age >= 75
            p["nhi"] = age < 75 and (nhi_household or (p.get("residence_status") == "留学"))
            p["national_pension"] = 20 <= age < 60 and (p["nhi"] or (p["relationship"] in ("妻", "子の妻")
                                                                     and rng.random() < 0.4))
            p["child_allowance"] = (age < 15 and p["relationship"] in ("子", "孫")) or p is child_recipient
            p["adult_ward"] = age >= 80 and rng.random() < 0.004
            p["dv_protected"] = dv and (p is head or age < 20)
            if rng.random() < 0.015 or (today - p["birth_date"]).days < 21:
                p["individual_number"] = ""  # not (yet) recorded
            else:
                p.pop("individual_number", None)  # the loader assigns one

        # removals (除票): deaths of the very old, departures of young adults
        alone = len(members) == 1
        for p in members:
            if p["is_head"] and not alone:
                continue
            age = age_on(p["birth_date"], today)
            last = p["became_resident_date"]
            if age >= 75 and rng.random() < P_REMOVED_DEATH:
                date = self.date_between(max(last + dt.timedelta(days=1), today - dt.timedelta(days=3 * 365)),
                                         today - dt.timedelta(days=3))
                notif = min(today, date + dt.timedelta(days=rng.randint(0, 6)))
                p.update(status="removed", removal_reason="死亡", removal_date=date)
                p["_hist"].append(("death", date, notif, {"notification_date": notif}))
                p["notification_date"] = notif
            elif (18 <= age <= 35 and (alone or p["relationship"] in ("子", "孫", "同居人"))
                  and rng.random() < P_REMOVED_MOVE_OUT):
                dest = self.elsewhere()
                planned = self.date_between(max(last + dt.timedelta(days=1), today - dt.timedelta(days=2 * 365)),
                                            today + dt.timedelta(days=14))
                notif = min(today, planned - dt.timedelta(days=rng.randint(0, 14)))
                notif = max(notif, last)
                p.update(status="removed", removal_reason="転出", removal_date=planned, move_out_destination=dest,
                         notification_date=notif)
                pre = {"status": "removed", "removal_reason": "転出", "removal_date": planned.isoformat(),
                       "move_out_state": "予定", "move_out_destination": dest, "notification_date": notif.isoformat(),
                       "move_in_notice_date": None}
                notice = planned + dt.timedelta(days=rng.randint(3, 25))
                if notice <= today:
                    p["move_out_state"], p["move_in_notice_date"] = "確定", notice
                    p["_hist"].append(("move_out_planned", planned, notif, pre))
                    p["_hist"].append(("move_out_confirmed", notice, None, {}))
                else:
                    p["move_out_state"] = "予定"
                    p["_hist"].append(("move_out_planned", planned, notif, {}))
        if alone and members[0].get("status") == "removed":
            members[0]["_household_inactive"] = True

    def _register_birth(self, p):
        birth = p["birth_date"]
        notif = min(self.today, birth + dt.timedelta(days=self.rng.randint(1, 14)))
        p.update(became_resident_date=birth, address_date=birth, notification_date=notif, previous_address="")
        p["_hist"] = [("birth", birth, notif, {})]

    def _register_move_in(self, p, date, previous):
        notif = min(self.today, date + dt.timedelta(days=self.rng.randint(0, 13)))
        p.update(became_resident_date=date, address_date=date, notification_date=notif, previous_address=previous)
        p["_hist"] = [("move_in", date, notif, {})]

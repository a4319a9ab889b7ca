"""Static data for the demo: the pilot municipalities (domain.md §2), name pools and foreign names.

Japanese family names, given names and town names (kanji with their readings) come from the data files of the
`gimei` package 0.2.3 (MIT licence, Copyright (c) 2015 nabetama, https://github.com/nabetama/gimei). Its given
names are mostly modern; for people born before the 1960s we draw from an era-typical subset (…子 for women,
…夫/…雄/…郎 and the like for men) so that a 90-year-old is not called 陽翔.
Foreign names below are common name elements, combined at random: they belong to nobody.
"""
import bisect
import functools
import itertools
import re
from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class PilotMunicipality:
    code: str
    name: str
    name_kana: str
    population: int
    postal_prefix: str  # first three digits of the (synthetic) postal codes


PREFECTURES = {"44": "大分県", "45": "宮崎県"}

PILOT_MUNICIPALITIES = [
    PilotMunicipality("44204", "日田市", "ヒタシ", 70685, "877"),
    PilotMunicipality("44206", "臼杵市", "ウスキシ", 41372, "875"),
    PilotMunicipality("44210", "杵築市", "キツキシ", 32514, "873"),
    PilotMunicipality("44211", "宇佐市", "ウサシ", 58829, "879"),
    PilotMunicipality("44213", "由布市", "ユフシ", 34932, "879"),
    PilotMunicipality("45203", "延岡市", "ノベオカシ", 130886, "882"),
    PilotMunicipality("45206", "日向市", "ヒュウガシ", 62913, "883"),
    PilotMunicipality("45207", "串間市", "クシマシ", 20708, "888"),
    PilotMunicipality("45383", "綾町", "アヤチョウ", 7294, "880"),
    PilotMunicipality("45421", "門川町", "カドガワチョウ", 18819, "889"),
]
PILOT_BY_CODE = {m.code: m for m in PILOT_MUNICIPALITIES}

# Places people move in from (前住所) and move out to (転出先): mostly nearby, some from the big cities.
OTHER_PLACES = [
    ("大分県大分市", 8), ("大分県別府市", 4), ("大分県中津市", 3), ("大分県佐伯市", 2), ("宮崎県宮崎市", 8),
    ("宮崎県都城市", 3), ("宮崎県延岡市", 2), ("福岡県福岡市博多区", 6), ("福岡県福岡市東区", 3),
    ("福岡県北九州市小倉北区", 4), ("福岡県久留米市", 3), ("熊本県熊本市中央区", 4), ("鹿児島県鹿児島市", 3),
    ("佐賀県佐賀市", 1), ("長崎県長崎市", 1), ("広島県広島市中区", 1), ("大阪府大阪市北区", 2),
    ("愛知県名古屋市中村区", 1), ("東京都世田谷区", 2), ("東京都練馬区", 1), ("神奈川県横浜市港北区", 1),
]

KANJI_NUM = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]

APARTMENT_STEMS = [
    ("コーポ", ""), ("メゾン", ""), ("ハイツ", ""), ("", "荘"), ("", "アパート"), ("グランシャリオ", ""),
    ("サンハイツ", ""), ("レジデンス", ""), ("パークサイド", ""), ("", "ハイム"),
]


@functools.lru_cache(maxsize=1)
def _gimei():
    pkg = resources.files("gimei") / "data"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names = yaml.load((pkg / "names.yml").read_text(encoding="utf-8"), Loader=loader)
    addresses = yaml.load((pkg / "addresses.yml").read_text(encoding="utf-8"), Loader=loader)
    return names, addresses["addresses"]


def _dedupe(rows):
    seen, out = set(), []
    for r in rows:
        key = (r[0], r[2])
        if key not in seen:
            seen.add(key)
            out.append((r[0], r[2]))  # (kanji, katakana)
    return out


_OLD_MALE = re.compile(r"(夫|雄|男|郎|蔵|吉|治|助|作|平|次|三|一|司|之|明|博|清|茂|実|勇|勝|進|正|昭|和|義|隆|弘|修|功|武|秀|彦)$")


class WeightedPool:
    """Items with cumulative weights: `pick(rng)` is one bisect."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclass
class NamePools:
    family: WeightedPool
    male_old: list
    male_all: list
    female_old: list
    female_all: list
    towns: list


@functools.lru_cache(maxsize=1)
def name_pools() -> NamePools:
    names, addresses = _gimei()
    family = _dedupe(names["last_name"])
    # gimei lists family names roughly by frequency: weight by rank (Zipf-like).
    family_pool = WeightedPool(family, [1.0 / (i + 8) ** 0.9 for i in range(len(family))])
    male = _dedupe(names["first_name"]["male"])
    female = _dedupe(names["first_name"]["female"])
    male_old = [n for n in male if _OLD_MALE.search(n[0]) and len(n[0]) <= 3]
    female_old = [n for n in female if n[0].endswith("子") and not re.search(r"[ぁ-ん]", n[0])]
    towns = [(t[0], t[2]) for t in addresses["town"] if re.fullmatch(r"[\u4e00-\u9fff々ヶ]{2,5}", t[0])]
    towns = list(dict.fromkeys(towns))
    return NamePools(family_pool, male_old, male, female_old, female, towns)


# ---------------------------------------------------------------- foreign residents
# nationality: (weight, family names, male given, female given, script)
# script "kanji": (kanji, kana) pairs; "latin": NAME → katakana dictionary below.
FOREIGN = {
    "ベトナム": dict(weight=30, script="latin",
                  family=["NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "PHAN", "VU", "DANG", "BUI", "DO", "HO", "NGO"],
                  male=["VAN AN", "VAN BINH", "VAN CUONG", "DUC DUNG", "VAN HUNG", "MINH TUAN", "VAN NAM",
                        "QUANG HUY", "DUC THANH", "VAN LONG"],
                  female=["THI LAN", "THI LINH", "THI MAI", "THI TRANG", "THI THAO", "THI HUONG", "THI HOA",
                          "THI NGOC", "THI HANG", "THI PHUONG"]),
    "中国": dict(weight=18, script="kanji",
               family=[("王", "ワン"), ("李", "リ"), ("張", "チョウ"), ("劉", "リュウ"), ("陳", "チン"), ("楊", "ヤン"),
                       ("趙", "チョウ"), ("黄", "コウ"), ("周", "シュウ"), ("呉", "ゴ")],
               male=[("偉", "ウェイ"), ("強", "チャン"), ("磊", "レイ"), ("軍", "ジュン"), ("洋", "ヤン"), ("勇", "ヨン"),
                     ("杰", "ジエ"), ("濤", "タオ"), ("明", "ミン"), ("超", "チャオ"), ("建華", "ジエンホア")],
               female=[("芳", "ファン"), ("静", "ジン"), ("敏", "ミン"), ("麗", "リー"), ("艶", "イエン"), ("娟", "ジュエン"),
                       ("秀英", "シウイン"), ("桂英", "グイイン"), ("麗娟", "リージュエン"), ("春梅", "チュンメイ")]),
    "フィリピン": dict(weight=14, script="latin",
                   family=["SANTOS", "REYES", "CRUZ", "BAUTISTA", "GARCIA", "MENDOZA", "RAMOS", "AQUINO",
                           "VILLANUEVA", "DELA CRUZ"],
                   male=["JOSE", "MARK ANTHONY", "JOHN PAUL", "RICARDO", "JUN", "MICHAEL"],
                   female=["MARIA CRISTINA", "ANGELICA", "ROSALIE", "MARIA LOURDES", "JOCELYN", "MARICEL",
                           "JENNIFER", "ANALYN"]),
    "韓国": dict(weight=10, script="kanji",
               family=[("金", "キム"), ("李", "イ"), ("朴", "パク"), ("崔", "チェ"), ("鄭", "チョン"), ("姜", "カン"),
                       ("趙", "チョ"), ("尹", "ユン"), ("張", "チャン"), ("林", "イム")],
               male=[("民俊", "ミンジュン"), ("智勲", "ジフン"), ("英浩", "ヨンホ"), ("成浩", "ソンホ"), ("相旭", "サンウク"),
                     ("在民", "ジェミン"), ("東哲", "ドンチョル")],
               female=[("瑞妍", "ソヨン"), ("秀珍", "スジン"), ("美淑", "ミスク"), ("恩恵", "ウネ"), ("英子", "ヨンジャ"),
                       ("順子", "スンジャ"), ("貞姫", "ジョンヒ")]),
    "インドネシア": dict(weight=8, script="latin", family=[""],
                     male=["AGUS SETIAWAN", "RIZKY PRATAMA", "BUDI SANTOSO", "DIMAS SAPUTRA", "ADI NUGROHO",
                           "FAJAR HIDAYAT"],
                     female=["SITI NURHALIZA", "DEWI LESTARI", "PUTRI AMELIA", "RINA WULANDARI", "INDAH PERMATASARI"]),
    "ネパール": dict(weight=8, script="latin",
                 family=["SHRESTHA", "GURUNG", "TAMANG", "RAI", "MAGAR", "THAPA", "ADHIKARI", "KARKI"],
                 male=["RAM", "BIKASH", "SUNIL", "PRAKASH", "SANTOSH", "RAJESH"],
                 female=["SITA", "ANITA", "SARITA", "GITA", "PUJA", "SABINA"]),
    "ミャンマー": dict(weight=6, script="latin", family=[""],
                   male=["AUNG KYAW", "ZAW MIN", "HTET AUNG", "KYAW ZIN", "MIN THU", "THET NAING"],
                   female=["MYA MYA", "THIN THIN AYE", "SU SU HLAING", "NWE NI", "KHIN MAR", "EI PHYU"]),
    "ブラジル": dict(weight=4, script="latin",
                 family=["SILVA", "SANTOS", "OLIVEIRA", "SOUZA", "PEREIRA", "COSTA", "NAKAMURA SILVA"],
                 male=["LUCAS", "GABRIEL", "RAFAEL", "PEDRO HENRIQUE", "MARCOS"],
                 female=["ANA CAROLINA", "JULIANA", "FERNANDA", "MARIANA", "PATRICIA"]),
    "台湾": dict(weight=3, script="kanji",
               family=[("陳", "チェン"), ("林", "リン"), ("黄", "ホアン"), ("張", "チャン"), ("李", "リー"), ("王", "ワン"),
                       ("呉", "ウー"), ("劉", "リウ"), ("蔡", "ツァイ"), ("楊", "ヤン")],
               male=[("志明", "ジーミン"), ("家豪", "ジアハオ"), ("冠宇", "グアンユー"), ("建宏", "ジエンホン"), ("俊傑", "ジュンジエ")],
               female=[("淑芬", "シューフェン"), ("雅婷", "ヤーティン"), ("怡君", "イージュン"), ("美玲", "メイリン"),
                       ("佳穎", "ジアイン")]),
    "米国": dict(weight=2, script="latin",
               family=["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "MILLER", "DAVIS", "WILSON"],
               male=["JOHN MICHAEL", "DAVID", "JAMES", "ROBERT", "CHRISTOPHER"],
               female=["SARAH", "EMILY ANNE", "JESSICA", "JENNIFER", "ASHLEY"]),
}
FOREIGN_POOL = WeightedPool(list(FOREIGN), [v["weight"] for v in FOREIGN.values()])

LATIN_KANA = {
    "NGUYEN": "グエン", "TRAN": "チャン", "LE": "レ", "PHAM": "ファム", "HOANG": "ホアン", "PHAN": "ファン", "VU": "ヴー",
    "DANG": "ダン", "BUI": "ブイ", "DO": "ドー", "HO": "ホー", "NGO": "ゴー", "VAN": "ヴァン", "THI": "ティ", "AN": "アン",
    "BINH": "ビン", "CUONG": "クオン", "DUC": "ドゥック", "DUNG": "ズン", "HUNG": "フン", "MINH": "ミン", "TUAN": "トゥアン",
    "NAM": "ナム", "QUANG": "クアン", "HUY": "フイ", "THANH": "タイン", "LONG": "ロン", "LAN": "ラン", "LINH": "リン",
    "MAI": "マイ", "TRANG": "チャン", "THAO": "タオ", "HUONG": "フオン", "HOA": "ホア", "NGOC": "ゴック", "HANG": "ハン",
    "PHUONG": "フオン",
    "SANTOS": "サントス", "REYES": "レイエス", "CRUZ": "クルス", "BAUTISTA": "バウティスタ", "GARCIA": "ガルシア",
    "MENDOZA": "メンドーサ", "RAMOS": "ラモス", "AQUINO": "アキノ", "VILLANUEVA": "ビリャヌエバ", "DELA": "デラ",
    "JOSE": "ホセ", "MARK": "マーク", "ANTHONY": "アンソニー", "JOHN": "ジョン", "PAUL": "ポール", "RICARDO": "リカルド",
    "JUN": "ジュン", "MICHAEL": "マイケル", "MARIA": "マリア", "CRISTINA": "クリスティナ", "ANGELICA": "アンジェリカ",
    "ROSALIE": "ロザリー", "LOURDES": "ルルデス", "JOCELYN": "ジョスリン", "MARICEL": "マリセル", "JENNIFER": "ジェニファー",
    "ANALYN": "アナリン",
    "AGUS": "アグス", "SETIAWAN": "セティアワン", "RIZKY": "リズキー", "PRATAMA": "プラタマ", "BUDI": "ブディ",
    "SANTOSO": "サントソ", "DIMAS": "ディマス", "SAPUTRA": "サプトラ", "ADI": "アディ", "NUGROHO": "ヌグロホ",
    "FAJAR": "ファジャル", "HIDAYAT": "ヒダヤット", "SITI": "シティ", "NURHALIZA": "ヌルハリザ", "DEWI": "デウィ",
    "LESTARI": "レスタリ", "PUTRI": "プトリ", "AMELIA": "アメリア", "RINA": "リナ", "WULANDARI": "ウランダリ",
    "INDAH": "インダ", "PERMATASARI": "プルマタサリ",
    "SHRESTHA": "シュレスタ", "GURUNG": "グルン", "TAMANG": "タマン", "RAI": "ライ", "MAGAR": "マガル", "THAPA": "タパ",
    "ADHIKARI": "アディカリ", "KARKI": "カルキ", "RAM": "ラム", "BIKASH": "ビカス", "SUNIL": "スニル", "PRAKASH": "プラカス",
    "SANTOSH": "サントス", "RAJESH": "ラジェス", "SITA": "シタ", "ANITA": "アニタ", "SARITA": "サリタ", "GITA": "ギタ",
    "PUJA": "プジャ", "SABINA": "サビナ",
    "AUNG": "アウン", "KYAW": "チョー", "ZAW": "ゾー", "MIN": "ミン", "HTET": "テッ", "ZIN": "ジン", "THU": "トゥ",
    "THET": "テッ", "NAING": "ナイン", "MYA": "ミャ", "THIN": "ティン", "AYE": "エー", "SU": "ス", "HLAING": "ライン",
    "NWE": "ヌエ", "NI": "ニ", "KHIN": "キン", "MAR": "マー", "EI": "エイ", "PHYU": "ピュー",
    "SILVA": "シルバ", "OLIVEIRA": "オリベイラ", "SOUZA": "ソウザ", "PEREIRA": "ペレイラ", "COSTA": "コスタ",
    "NAKAMURA": "ナカムラ", "LUCAS": "ルーカス", "GABRIEL": "ガブリエル", "RAFAEL": "ハファエル", "PEDRO": "ペドロ",
    "HENRIQUE": "エンヒッキ", "MARCOS": "マルコス", "ANA": "アナ", "CAROLINA": "カロリーナ", "JULIANA": "ジュリアナ",
    "FERNANDA": "フェルナンダ", "MARIANA": "マリアナ", "PATRICIA": "パトリシア",
    "SMITH": "スミス", "JOHNSON": "ジョンソン", "WILLIAMS": "ウィリアムズ", "BROWN": "ブラウン", "JONES": "ジョーンズ",
    "MILLER": "ミラー", "DAVIS": "デイビス", "WILSON": "ウィルソン", "DAVID": "デイビッド", "JAMES": "ジェームズ",
    "ROBERT": "ロバート", "CHRISTOPHER": "クリストファー", "SARAH": "サラ", "EMILY": "エミリー", "ANNE": "アン",
    "JESSICA": "ジェシカ", "ASHLEY": "アシュリー",
}


def latin_kana(name: str) -> str:
    return " ".join(LATIN_KANA[w] for w in name.split())


COUNTRY_FULL = {
    "ベトナム": "ベトナム社会主義共和国", "中国": "中華人民共和国", "フィリピン": "フィリピン共和国", "韓国": "大韓民国",
    "インドネシア": "インドネシア共和国", "ネパール": "ネパール", "ミャンマー": "ミャンマー連邦共和国",
    "ブラジル": "ブラジル連邦共和国", "台湾": "台湾", "米国": "アメリカ合衆国",
}

# 在留資格 → possible 在留期間
PERIODS = {
    "技能実習": ["1年", "2年", "1年"],
    "特定技能": ["1年", "6月", "3年"],
    "留学": ["2年", "1年3月", "4年3月"],
    "家族滞在": ["1年", "3年", "5年"],
    "技術・人文知識・国際業務": ["1年", "3年", "5年"],
    "日本人の配偶者等": ["1年", "3年", "5年"],
    "定住者": ["3年", "5年"],
    "永住者": [""],
    "特別永住者": [""],
}

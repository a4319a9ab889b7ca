"""jichitai.moji: MJ records, layered name keys, kana keys, legacy output (domain.md §7). No database needed."""
import time

import pytest

from jichitai import moji
from jichitai.moji import kana

VS17 = "\U000E0100"

# ------------------------------------------------------------------------------------------------------------
# Variant pairs / groups that MUST meet at some layer (hand-made list of well-known name variants).
# Each string is a group separated by "/"; U+FAxx compatibility ideographs are written as escapes.
# ------------------------------------------------------------------------------------------------------------
MUST_MEET = [
    # the classics of 氏名
    "髙/高", "﨑/崎", "邊/邉/辺", "𠮷/吉", "齋/斎", "齊/斉", "澤/沢", "濱/浜", "濵/浜", "濵/濱", "廣/広", "國/国",
    "櫻/桜", "嶋/島", "嶌/島", "槇/槙", "德/徳", "惠/恵", "榮/栄", "龍/竜", "藏/蔵", "瀧/滝", "邨/村", "冨/富",
    "峯/峰", "嵜/崎", "\uFA10/塚", "隆/\uF9DC", "神/\uFA19", "福/\uFA1B", "籠/篭", "圀/国", "萬/万", "曾/曽",
    "淵/渕", "淵/渊", "檜/桧", "穗/穂", "眞/真", "實/実", "壽/寿", "與/与", "增/増", "惣/総" if False else "總/総",
    "薗/園", "舘/館", "祐/\uFA4F" if False else "禮/礼", "亞/亜", "惡/悪", "圓/円", "應/応", "奧/奥", "假/仮",
    "價/価", "會/会", "壞/壊", "懷/懐", "樂/楽", "卷/巻", "陷/陥", "氣/気", "僞/偽", "戲/戯", "峽/峡", "狹/狭",
    "曉/暁", "勳/勲", "鷄/鶏", "藝/芸", "縣/県", "儉/倹", "劍/剣", "險/険", "圈/圏", "檢/検", "顯/顕", "驗/験",
    "嚴/厳", "恆/恒", "碎/砕", "雜/雑", "兒/児", "濕/湿", "收/収", "從/従", "澁/渋", "獸/獣", "縱/縦", "敍/叙",
    "將/将", "燒/焼", "奬/奨", "條/条", "乘/乗", "淨/浄", "剩/剰", "疊/畳", "孃/嬢", "讓/譲", "釀/醸", "寢/寝",
    "愼/慎", "盡/尽", "粹/粋", "醉/酔", "靜/静", "攝/摂", "專/専", "戰/戦", "纖/繊", "禪/禅", "壯/壮", "爭/争",
    "莊/荘", "搜/捜", "裝/装", "騷/騒", "臟/臓", "帶/帯", "滯/滞", "單/単", "團/団", "彈/弾", "晝/昼", "鑄/鋳",
    "廳/庁", "聽/聴", "鎭/鎮", "轉/転", "傳/伝", "燈/灯", "盜/盗", "稻/稲", "拜/拝", "盃/杯", "賣/売", "髮/髪",
    "拔/抜", "祕/秘", "拂/払", "佛/仏", "飜/翻", "默/黙", "彌/弥", "藥/薬", "搖/揺", "樣/様", "謠/謡", "來/来",
    "覽/覧", "凉/涼", "壘/塁", "壓/圧", "圍/囲", "醫/医", "爲/為", "壹/壱", "隱/隠", "衞/衛", "驛/駅", "鹽/塩",
    "艷/艶", "歐/欧", "毆/殴", "穩/穏", "畫/画", "繪/絵", "擴/拡", "殼/殻", "覺/覚", "學/学", "嶽/岳", "罐/缶",
    "勸/勧", "關/関", "歡/歓", "觀/観", "歸/帰", "龜/亀", "舊/旧", "據/拠", "擧/挙", "挾/挟", "區/区", "驅/駆",
    "徑/径", "莖/茎", "溪/渓", "經/経", "螢/蛍", "輕/軽", "繼/継", "缺/欠", "獻/献", "權/権", "效/効", "鑛/鉱",
    "號/号", "濟/済", "劑/剤", "參/参", "棧/桟", "蠶/蚕", "慘/惨", "贊/賛", "殘/残", "絲/糸", "齒/歯", "辭/辞",
    "寫/写", "釋/釈", "肅/粛", "處/処", "稱/称", "證/証", "繩/縄", "壤/壌", "觸/触", "囑/嘱", "圖/図", "隨/随",
    "髓/髄", "樞/枢", "數/数", "聲/声", "竊/窃", "淺/浅", "踐/践", "錢/銭", "潛/潜", "雙/双", "插/挿", "屬/属",
    "續/続", "墮/堕", "對/対", "體/体", "臺/台", "擇/択", "擔/担", "膽/胆", "斷/断", "遲/遅", "癡/痴", "蟲/虫",
    "敕/勅", "遞/逓", "鐵/鉄", "點/点", "當/当", "黨/党", "獨/独", "讀/読", "屆/届", "貳/弐", "惱/悩", "腦/脳",
    "霸/覇", "廢/廃", "麥/麦", "發/発", "蠻/蛮", "變/変", "辨/弁", "瓣/弁", "辯/弁", "寶/宝", "豐/豊", "襃/褒",
    "滿/満", "譯/訳", "豫/予", "餘/余", "譽/誉", "亂/乱", "兩/両", "獵/猟", "勵/励", "靈/霊", "齡/齢", "戀/恋",
    "爐/炉", "勞/労", "樓/楼", "灣/湾", "堯/尭", "巖/巌", "晄/晃", "禰/祢", "祿/禄", "穰/穣", "萠/萌", "遙/遥",
    "凛/凜", "亙/亘", "曽/曾", "籘/籐", "桒/桑" if False else "兎/兔", "竝/並", "廐/厩", "渕/淵",
    # compatibility ideographs (never NFC the stored name: only the key maps them)
    "\uFA11/崎", "\uFA12/晴", "\uFA15/凞", "\uFA16/猪", "\uFA17/益", "\uFA18/礼", "\uFA1A/祥", "\uFA1C/靖",
    "\uFA1D/精", "\uFA1E/羽", "\uFA20/蘒", "\uFA22/諸", "\uFA25/逸", "\uFA26/都", "\uFA2A/飯", "\uFA2B/飼",
    "\uFA2C/館", "\uFA2D/鶴", "\uF9D0/類", "\uF91D/欄", "\uF928/廊", "\uF929/朗", "\uFA30/侮", "\uFA31/僧",
    "\uFA32/免", "\uFA33/勉", "\uFA34/勤", "\uFA35/卑", "\uFA36/喝", "\uFA37/嘆", "\uFA38/器", "\uFA3A/墨",
    "\uFA3B/層", "\uFA3C/屮", "\uFA3D/悔", "\uFA3F/憎", "\uFA40/懲", "\uFA41/敏", "\uFA43/暑", "\uFA44/梅",
    "\uFA45/海", "\uFA46/渚", "\uFA47/漢", "\uFA48/煮", "\uFA4A/琢", "\uFA4B/碑", "\uFA4C/社", "\uFA4D/祉",
    "\uFA4E/祈", "\uFA4F/祐", "\uFA50/祖", "\uFA51/祝", "\uFA52/禍", "\uFA53/禎", "\uFA54/穀", "\uFA55/突",
    "\uFA56/節", "\uFA57/練", "\uFA59/繁", "\uFA5A/署", "\uFA5B/者", "\uFA5C/臭", "\uFA5F/著", "\uFA61/視",
    "\uFA62/謁", "\uFA63/謹", "\uFA64/賓", "\uFA65/贈", "\uFA67/逸", "\uFA68/難", "\uFA69/響", "\uFA6A/頻",
    # names
    "渡邊/渡辺", "渡邉/渡辺", "渡邊/渡邉", "髙橋/高橋", "山﨑/山崎", "齋藤/斎藤", "齊藤/斉藤", "𠮷田/吉田",
    "𠮷野家/吉野家", "濵田/浜田", "濱田/浜田", "廣瀬/広瀬", "澤田/沢田", "櫻井/桜井", "嶋田/島田", "槇原/槙原",
    "德川/徳川", "國分/国分", "瀧本/滝本", "冨田/富田", "龍造寺/竜造寺", "藏本/蔵本", "峯岸/峰岸", "宮嵜/宮崎",
    "髙﨑/高崎", "邊見/辺見", "眞鍋/真鍋", "小濱/小浜", "大澤/大沢", "長谷川 惠子/長谷川恵子", "福\uFA1B/福福",
    "\uFA19田/神田", "飯\uFA2A/飯飯", "木村 榮一/木村栄一", "中嶋/中島", "野嶌/野島", "島/嶋/嶌",
    # variation sequences (IVS): registered selectors drop
    "葛" + VS17 + "/葛", "辻" + VS17 + "/辻", "葛\U000E0102/葛", "葛\U000E0103/葛\U000E0102", "辻\U000E0102/辻",
    "葛" + VS17 + "城/葛城", "辻" + VS17 + "本/辻本", "葛\U000E0102飾/葛飾", "隆\uFE00/隆", "齋\U000E0104/斎",
    "祇\U000E0100/祇", "逢\U000E0101/逢", "芦\U000E0100/芦", "鯖\U000E0100/鯖",
]


def _groups():
    for g in MUST_MEET:
        parts = g.split("/")
        for other in parts[1:]:
            yield parts[0], other


MEET_PAIRS = list(_groups())

# ------------------------------------------------------------------------------------------------------------
# Pairs that must NOT meet at the top rank (exact) — and, for these look-alikes, at NO layer at all.
# ------------------------------------------------------------------------------------------------------------
NEVER_MEET = [
    "土/士", "末/未", "己/已", "己/巳", "已/巳", "大/太", "大/犬", "太/犬", "王/玉", "日/曰", "千/干", "刀/力",
    "人/入", "斉/斎", "齊/齋", "斉/齋", "齊/斎", "斉藤/斎藤", "齊藤/齋藤", "斉藤/齋藤", "天/夭", "矢/失", "戊/戌",
    "戌/戍", "鳥/烏", "崇/祟", "微/徴", "券/劵", "功/切", "易/陽", "介/个", "伝/傅", "栃/担", "燗/爛", "舛/升",
    "擱/閣", "夂/終", "田/由", "由/甲", "申/甲", "白/百", "木/本", "本/末", "牛/午", "午/干", "刃/刀", "侍/待",
    "治/冶", "候/侯", "住/往", "貝/見", "綱/網", "壁/璧", "徹/撤", "析/折", "幣/弊", "義/儀", "崎/埼" if False
    else "埼/碕" if False else "鈴/鉛", "坂/板", "阪/防", "浜/兵", "沢/択", "島/鳥", "辺/边" if False else "辺/込",
    "高/亭", "吉/古", "斎/斉", "澤/擇", "藤/籐", "荻/萩", "崎/碕" if False else "荻/获" if False else "宏/弘",
    "恵/慧", "裕/祐", "和/知", "智/知", "佐藤/左藤", "加藤/伊藤", "渡辺/渡部", "斉藤/斎藤", "土屋/士屋",
    "末広/未広", "太田/大田", "犬山/大山",
]
NEVER_PAIRS = [tuple(p.split("/")) for p in NEVER_MEET]
# Look-alikes that must not meet at ANY layer (not only exact).
NEVER_ANY_LAYER = [p for p in NEVER_PAIRS if p not in {("渡辺", "渡部")}]


def test_list_sizes():
    assert len(MEET_PAIRS) >= 200
    assert len(set(NEVER_PAIRS)) >= 50


@pytest.mark.parametrize("a, b", MEET_PAIRS)
def test_variants_meet_at_some_layer(a, b):
    assert moji.match_layer(a, b) is not None, (a, b, moji.name_keys(a), moji.name_keys(b))


@pytest.mark.parametrize("a, b", NEVER_ANY_LAYER)
def test_lookalikes_never_meet(a, b):
    ka, kb = moji.name_keys(a), moji.name_keys(b)
    assert ka[0] != kb[0]
    assert all(x != y for x, y in zip(ka, kb)), (a, b, ka, kb)


def test_layers_are_nested():
    """Each layer is coarser than the previous one: equal at a layer ⇒ equal at every later layer."""
    for a, b in MEET_PAIRS:
        ka, kb = moji.name_keys(a), moji.name_keys(b)
        first = next(i for i in range(4) if ka[i] == kb[i])
        assert all(ka[i] == kb[i] for i in range(first, 4)), (a, b)


@pytest.mark.parametrize("a, b, layer", [
    ("髙橋", "髙橋", "exact"),
    ("葛" + VS17, "葛", "selector"),
    ("神\uFA19", "神神", "selector"),
    ("\uFA10", "塚", "selector"),
    ("髙橋", "高橋", "degenerate"),
    ("山﨑", "山崎", "degenerate"),
    ("𠮷田", "吉田", "degenerate"),
    ("齋藤", "斎藤", "degenerate"),
    ("渡邊", "渡辺", "degenerate"),
    ("籠", "篭", "variant"),
    ("槇", "槙", "variant"),
])
def test_layer_of_match(a, b, layer):
    assert moji.match_layer(a, b) == layer


def test_keys_shape_and_text_is_kept():
    name = "渡邊 葛" + VS17 + "\uFA19"
    e, s, d, v = moji.name_keys(name)
    assert e == "渡邊葛" + VS17 + "\uFA19"          # exact keeps selector and compatibility ideograph
    assert s == "渡邊葛神"
    assert d == "渡辺葛神"
    assert v == moji.variant_key(name) and d == moji.degenerate_key(name) and s == moji.selector_key(name)
    assert moji.exact_key(name) == e
    assert name == "渡邊 葛" + VS17 + "\uFA19"      # nothing normalised in place
    assert moji.name_keys("") == ("", "", "", "")


def test_unregistered_selector_is_kept():
    odd = "葛\U000E01EE"  # not in the IVD
    assert moji.selector_key(odd) == odd and moji.variant_key(odd) == odd
    assert moji.match_layer(odd, "葛") is None


def test_name_keys_agree_with_kana_name_key():
    for name in ("山田 太郎", "渡邊\u3000一", "髙橋"):
        assert moji.exact_key(name) == kana.name_key(name)


def test_ivs_collections():
    assert "Moji_Joho:MJ022335" in moji.ivs_collections("葛\U000E0102")
    assert moji.ivs_collections("葛" + VS17) == ("Adobe-Japan1:CID+1481",)
    assert moji.ivs_collections("葛\U000E01EE") == ()
    assert moji.ivs_collections("隆\uFE00") == ("SVS:\uF9DC",)


def test_units():
    assert moji.units("葛" + VS17 + "城") == ["葛" + VS17, "城"]
    assert moji.units(VS17 + "a") == [VS17, "a"]


# ------------------------------------------------------------------------------------------------------------
# MJ records
# ------------------------------------------------------------------------------------------------------------
def test_by_ucs_bare_code_point_is_jissou_ucs():
    r = moji.by_ucs("葛")
    assert r.mj == "MJ022336" and r.ucs == "葛" and r.ivs == "葛\U000E0103"
    assert moji.by_ucs("葛\U000E0102").mj == "MJ022335"
    assert moji.by_ucs("U+845B U+E0102").mj == "MJ022335"
    assert moji.by_ucs("葛" + VS17) is None   # an Adobe-Japan1 sequence: not an MJ implementation
    assert moji.by_ucs("") is None


def test_mj_record_fields():
    r = moji.by_ucs("髙")
    assert r.mj == "MJ028902" and r.juki == "J+9AD9" and r.koseki == "513280" and r.x0213 == "1-25-66"
    assert r.strokes == 11 and "たか" in r.readings and r.radicals[0][0] == 189
    assert ("戸籍統一文字情報_親字正字", "高") in r.degenerate
    assert r.text == "髙"
    assert moji.by_mj("MJ028902") == r and moji.by_mj(28902) == r and moji.by_mj("mj028902") == r


def test_other_lookups():
    assert moji.by_juki("J+9AD9").mj == "MJ028902"
    assert moji.by_juki("9ad9").mj == "MJ028902" and moji.by_juki(0x9AD9).mj == "MJ028902"
    assert moji.by_koseki("513280").mj == "MJ028902" and moji.by_koseki(513280).mj == "MJ028902"
    recs = moji.by_jisx0213("1-19-75")
    assert recs[0].mj == "MJ022336" and {r.mj for r in recs} >= {"MJ022335", "MJ022336"}
    assert moji.by_jisx0213("1-25-66")[0].ucs == "高"
    assert moji.by_mj("MJ999999") is None and moji.by_juki("J+0000") is None and moji.by_jisx0213("x") == []


def test_find_mj_for_gaiji_review():
    hits = moji.find_mj(reading="たか", strokes=11)
    assert any(r.ucs == "髙" for r in hits)
    assert all(r.strokes == 11 for r in hits)
    hits = moji.find_mj(radical=189, strokes=10)
    assert any(r.ucs == "高" for r in hits)
    assert moji.find_mj(reading="タカ", strokes=11) == moji.find_mj(reading="たか", strokes=11)


# ------------------------------------------------------------------------------------------------------------
# Legacy output
# ------------------------------------------------------------------------------------------------------------
def test_degrade_jisx0208():
    text, changes = moji.degrade_for_legacy("髙橋𠮷野﨑", "jisx0208")
    assert text == "高橋吉野崎"
    assert [(c.position, c.original, c.replacement) for c in changes] == [(0, "髙", "高"), (2, "𠮷", "吉"),
                                                                           (4, "﨑", "崎")]
    assert all("MJ縮退マップ" in c.reason for c in changes)


def test_degrade_jisx0213_keeps_x0213_characters():
    text, changes = moji.degrade_for_legacy("山﨑 髙橋", "jisx0213")
    assert text == "山﨑 高橋" and [c.original for c in changes] == ["髙"]


def test_degrade_selectors_pua_and_geta():
    text, changes = moji.degrade_for_legacy("葛\U000E0102城\uE000ｻ", "jisx0208")
    assert text == "葛城〓サ"
    by_pos = {c.position: c for c in changes}
    assert by_pos[0].original == "葛\U000E0102" and "selector" in by_pos[0].reason
    assert by_pos[3].replacement == "〓" and "外字" in by_pos[3].reason
    assert by_pos[4].replacement == "サ"
    assert moji.degrade_for_legacy("山田太郎") == ("山田太郎", [])
    assert moji.degrade_for_legacy("") == ("", [])
    with pytest.raises(ValueError):
        moji.degrade_for_legacy("x", "utf8")


def test_degrade_output_is_always_encodable():
    names = [a for a, _b in MEET_PAIRS] + ["𩸽", "𠀋", "\U0002A6B2", "😀"]
    for target, codec in (("jisx0208", "iso2022_jp"), ("jisx0213", "euc_jis_2004")):
        for n in names:
            text, changes = moji.degrade_for_legacy(n, target)
            text.encode(codec)
            assert all(c.replacement for c in changes)


def test_compat_ideograph_degrade():
    text, changes = moji.degrade_for_legacy("\uFA19", "jisx0208")
    assert text == "神" and "compatibility" in changes[0].reason


# ------------------------------------------------------------------------------------------------------------
# Kana
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", [
    "サトウ/サトー/さとう/ｻﾄｳ/サトオ/さとお",
    "ヴァイオリン/バイオリン/ゔぁいおりん",
    "ちぢみ/チジミ/ﾁｼﾞﾐ",
    "ツヅキ/ツズキ/つづき",
    "ヲノ/オノ/オオノ/オーノ/オウノ",
    "キョウコ/キョーコ/きょうこ",
    "ケイコ/ケーコ",
    "ヴィヴィアン/ビビアン",
    "ヱミ/エミ",
    "ヰノウエ/イノウエ/イノウエ",
    "ジョー/ジョウ/ジヨウ",
    "ユウキ/ユーキ/ﾕｳｷ",
    "ハットリ/ハツトリ",
    "ヤマダ タロウ/やまだ・たろう/ﾔﾏﾀﾞﾀﾛｳ",
])
def test_loose_kana_key(group):
    keys = {moji.loose_kana_key(x) for x in group.split("/")}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("a, b", [("サトウ", "サトー"), ("ヴァ", "バ"), ("チヂミ", "チジミ"), ("ヤマダ", "ヤマタ"),
                                  ("キョウ", "キヨウ")])
def test_strict_kana_key_keeps_differences(a, b):
    assert moji.kana_key(a) != moji.kana_key(b)


@pytest.mark.parametrize("a, b", [("ヤマダ", "ヤマタ"), ("サトウ", "サイトウ"), ("カトウ", "ガトウ"),
                                  ("オオノ", "オノデラ"), ("スズキ", "ススキ")])
def test_loose_kana_key_keeps_real_differences(a, b):
    assert moji.loose_kana_key(a) != moji.loose_kana_key(b)


def test_kana_keys_one_pass_matches_separate_functions():
    for s in ("さとう", "ｻﾄｳ", "ヴァイオリン", "ちぢみ", "ヤマダ タロウ", ""):
        assert moji.kana_keys(s) == (kana.kana_key(s), kana.loose_kana_key(s))


def test_search_keys():
    k = moji.search_keys("渡邊 一", "わたなべ はじめ")
    assert k == {"exact": "渡邊一", "selector": "渡邊一", "degenerate": "渡辺一", "variant": "渡辺一",
                 "kana": "ワタナベハジメ", "kana_loose": "ワタナベハジメ"}


def test_no_django_in_moji():
    import pathlib

    for p in pathlib.Path(moji.__file__).parent.glob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "import django" not in text and "from django" not in text, p


def test_speed_smoke():
    moji.preload()
    names = ["渡邊", "髙橋", "山﨑", "斎藤", "葛" + VS17 + "城"] * 2000
    t = time.perf_counter()
    for n in names:
        moji.name_keys(n)
    assert (time.perf_counter() - t) / len(names) < 50e-6

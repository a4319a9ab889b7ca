"""An address entered inside the municipality, checked against its 町字 master (called by the one validation in
residents.actions). A municipality without a master keeps free-text addresses."""
import re

from . import queries

BANCHI = re.compile(r"^\d+(番地|番|-)?(の?\d+(号|番地?)?)?(-\d+)?(号)?$")
BANCHI_HINT = "番地・号は「123番地」「3番4号」「3-4」のように入力してください"


def address_errors(address: str) -> list[str]:
    """Japanese messages for what is wrong with `address` (町字 + 丁目 + 番地・号; 方書 is separate); [] if fine
    or if the municipality has no 町字 master."""
    master = queries.chouaza_list()
    if not master:
        return []
    m = queries.match_address(address, master)
    if m.chouaza is None:
        return ["町字マスタにない町字です。町字を一覧から選んでください（町字マスタは管理者が登録します）"]
    c = m.chouaza
    rest = m.rest
    if c.has_chome:
        if m.chome is None:
            return [f"{c.name}は丁目のある町字です。{c.chome_from}〜{c.chome_to}丁目のどれかを入力してください"]
        if not (c.chome_from or 1) <= m.chome <= c.chome_to:
            return [f"{c.name}に{m.chome}丁目はありません（{c.chome_from}〜{c.chome_to}丁目）"]
    elif m.chome is not None:
        return [f"{c.name}には丁目がありません。町字の後に番地を入力してください"]
    if not rest:
        return [f"番地がありません。{BANCHI_HINT}"]
    if rest.isdigit() or not BANCHI.match(rest):
        return [f"番地・号の書き方が正しくありません（「{rest}」）。{BANCHI_HINT}"]
    return []

"""Check digits of the codes the register uses (domain.md §3). Pure Python."""
import re

_DIGITS5 = re.compile(r"^[0-9]{5}$")


def local_government_check_digit(code5: str) -> int:
    """全国地方公共団体コード (JIS X 0402): weights 6,5,4,3,2; r = sum mod 11; ones digit of 11 − r."""
    if not _DIGITS5.match(code5 or ""):
        raise ValueError("地方公共団体コードは5桁の数字です / the local government code has 5 digits")
    r = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2))) % 11
    return (11 - r) % 10


def validate_local_government_code(code: str) -> str:
    """Accept 5 digits, or 6 digits whose last is the right check digit. Returns the 5-digit code."""
    code = (code or "").strip()
    if re.fullmatch(r"[0-9]{6}", code):
        if int(code[5]) != local_government_check_digit(code[:5]):
            raise ValueError("地方公共団体コードの検査数字が正しくありません / wrong check digit in the local government code")
        return code[:5]
    if not _DIGITS5.match(code):
        raise ValueError("地方公共団体コードは5桁（検査数字付きは6桁）の数字です / the code has 5 digits (6 with check digit)")
    if code[:2] < "01" or code[:2] > "47":
        raise ValueError("都道府県コード（先頭2桁）は01〜47です / the prefecture part must be 01–47")
    return code


def individual_number_check_digit(first11: str) -> int:
    """個人番号 check digit: P_n the n-th of the first 11 digits counted from the right; Q_n = n+1 (n≤6), n−5 (n≥7)."""
    if not re.fullmatch(r"[0-9]{11}", first11 or ""):
        raise ValueError("個人番号の先頭11桁は数字です")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def validate_individual_number(number: str) -> str:
    """個人番号: 12 digits, the last a check digit. The message never repeats the number (it must not be logged)."""
    number = (number or "").strip().replace("-", "").replace(" ", "")
    if not re.fullmatch(r"[0-9]{12}", number):
        raise ValueError("個人番号は12桁の数字で入力してください / the individual number has 12 digits")
    if int(number[11]) != individual_number_check_digit(number[:11]):
        raise ValueError("個人番号の検査用数字が正しくありません / wrong check digit in the individual number")
    return number


def validate_resident_code(code: str) -> str:
    """住民票コード: 11 digits. Only the format is checked: the check-digit formula (平成14年総務省告示第436号)
    has not been confirmed from the source, so no check digit is verified (see docs/glossary.md)."""
    code = (code or "").strip()
    if not re.fullmatch(r"[0-9]{11}", code):
        raise ValueError("住民票コードは11桁の数字で入力してください / the resident code has 11 digits")
    return code


def mask_individual_number(number: str | None) -> str:
    return "＊＊＊＊ ＊＊＊＊ ＊＊＊＊" if number else ""


def resident_code_check_digit(first10: str) -> int:
    """住民票コード check digit as implemented here: modulus 11 over the first 10 digits, weights 2, 3, 4, 5, 6, 7, 2,
    3, 4, 5 from the lowest digit; a remainder of 0 or 1 gives 0, otherwise 11 − remainder. The formula is the
    modulus-11 scheme of the register's codes; it has not been confirmed from 平成14年総務省告示第436号 itself, so the
    legacy migration makes the check a layout option (`resident_code_check_digit`, docs/legacy-migration.md)."""
    if not re.fullmatch(r"[0-9]{10}", first10 or ""):
        raise ValueError("住民票コードの先頭10桁は数字です / the first 10 digits must be digits")
    total = sum(int(first10[9 - i]) * (2 + i % 6) for i in range(10))
    r = total % 11
    return 0 if r <= 1 else 11 - r


def verify_resident_code_check_digit(code: str) -> str:
    code = validate_resident_code(code)
    if int(code[10]) != resident_code_check_digit(code[:10]):
        raise ValueError("住民票コードの検査数字が正しくありません / wrong check digit in the resident code")
    return code

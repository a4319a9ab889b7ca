"""Signed certificate codes (照合コード): what the QR code on a certificate carries, and how it is checked.

A code is `{municipality code}.{public_id}.{key_id}.{signature}`, e.g. `44204.K7QF3M2XW5RTB6HA.1.<26 chars>`:

- the municipality's 5-digit code (地方公共団体コード),
- the issuance's `public_id` (16 characters of RFC 4648 base32, 80 random bits; never the 発行番号),
- the number of the municipality's signing key,
- the first 16 bytes of HMAC-SHA256(key, "jichitai-cert-v1|muni|public_id|kind|issue_date|key_id") in base32
  without padding.

Base32 (A–Z, 2–7) has no `.`, no `0/O` or `1/I` pair to confuse when a code is typed from paper, and is read
case-insensitively. The kind and the issue date are signed but not carried: they are taken from the stored issuance,
so a changed row (kind, date) no longer matches its code. Keys are per municipality; a code naming municipality B is
checked with B's key only.
"""
import base64
import dataclasses
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.db import transaction

from jichitai.tenancy.models import Municipality, NumberSequence
from jichitai.tenancy.scope import TenantScopeError, current_municipality, tenant_scope

from .models import Issuance, IssuanceStatus, SigningKey, VerificationResult

VERSION = "jichitai-cert-v1"
SIG_BYTES = 16
MAX_CODE_LENGTH = 100  # a real code is ≈ 51 characters; anything much longer is refused before parsing
_SEQUENCE = "signing_key"  # NumberSequence row used as the per-municipality lock for key creation
_CODE_RE = re.compile(r"(\d{5})\.([A-Z2-7]{12,24})\.([1-9]\d{0,8})\.([A-Z2-7]{26})")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def new_public_id() -> str:
    """16 characters of base32 (80 random bits): URL-safe, no `.`, unambiguous when typed."""
    return _b32(secrets.token_bytes(10))


def _own_scope(municipality):
    """Signing runs for one municipality: refuse if the caller is in another municipality's scope."""
    current = current_municipality()
    if current is not None and current.pk != municipality.pk:
        raise TenantScopeError("signing for another municipality")
    return tenant_scope(municipality)


def _lock_keys(municipality):
    """Serialise key creation for one municipality until the transaction ends (row lock on PostgreSQL; SQLite's
    IMMEDIATE transactions already serialise writers). Locks a NumberSequence row, not the municipality row, so that
    other inserts referencing the municipality are not blocked."""
    seq = NumberSequence.objects.select_for_update().filter(municipality=municipality, name=_SEQUENCE).first()
    if seq is None:
        NumberSequence.objects.get_or_create(municipality=municipality, name=_SEQUENCE)
        seq = NumberSequence.objects.select_for_update().get(municipality=municipality, name=_SEQUENCE)
    return seq


def _create_key(municipality, seq) -> SigningKey:
    last = SigningKey.objects.order_by("-key_id").values_list("key_id", flat=True).first() or 0
    key_id = max(last, seq.last_value) + 1
    NumberSequence.objects.filter(pk=seq.pk).update(last_value=key_id)
    return SigningKey.objects.create(key_id=key_id, secret=secrets.token_bytes(32).hex(), is_active=True)


def signing_key(municipality) -> SigningKey:
    """The municipality's active key, created on first use. Safe inside the caller's transaction."""
    with _own_scope(municipality):
        key = SigningKey.objects.filter(is_active=True).order_by("-key_id").first()
        if key is not None:
            return key
        with transaction.atomic():
            seq = _lock_keys(municipality)
            key = SigningKey.objects.filter(is_active=True).order_by("-key_id").first()  # another request won
            return key if key is not None else _create_key(municipality, seq)


def rotate_key(municipality) -> SigningKey:
    """Deactivate the active key(s) and create the next one. Old keys are kept: old codes still verify."""
    with _own_scope(municipality), transaction.atomic():
        seq = _lock_keys(municipality)
        SigningKey.objects.filter(is_active=True).update(is_active=False)
        return _create_key(municipality, seq)


def _signature(secret_hex: str, muni_code: str, public_id: str, kind: str, issue_date, key_id: int) -> str:
    message = "|".join([VERSION, muni_code, public_id, kind, issue_date.isoformat(), str(key_id)])
    mac = hmac.new(bytes.fromhex(secret_hex), message.encode("utf-8"), hashlib.sha256).digest()
    return _b32(mac[:SIG_BYTES])


def make_code(issuance) -> str:
    """The signed code of an issuance (municipality, public_id, kind, issue_date and key_id must be set)."""
    m = issuance.municipality
    if not (issuance.public_id and issuance.kind and issuance.issue_date and issuance.key_id):
        raise ValueError("make_code needs public_id, kind, issue_date and key_id")
    if not re.fullmatch(r"[A-Z2-7]{12,24}", issuance.public_id):
        raise ValueError("public_id must come from new_public_id()")
    with _own_scope(m):
        key = SigningKey.objects.get(key_id=issuance.key_id)
    sig = _signature(key.secret, m.code, issuance.public_id, issuance.kind, issuance.issue_date, key.key_id)
    return f"{m.code}.{issuance.public_id}.{key.key_id}.{sig}"


def verify_url(code: str) -> str:
    return f"{settings.JICHITAI_PUBLIC_URL.rstrip('/')}/verify/{code}"


@dataclasses.dataclass
class Check:
    result: str                      # a VerificationResult value
    issuance: Issuance | None = None  # set only when the signature matched the stored issuance
    municipality: Municipality | None = None  # the municipality the code names, if it exists
    reason: str = ""                 # for the log only, never shown to the public

    @property
    def is_valid(self) -> bool:
        return self.result == VerificationResult.VALID


def normalise(code: str) -> str:
    """Whitespace dropped and letters upper-cased (codes are read case-insensitively)."""
    return "".join(str(code).split()).upper()


def check_code(code) -> Check:
    """Check a code. Never raises on bad input; returns INVALID with a reason for the log."""
    if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH * 2:
        return Check(VerificationResult.INVALID, reason="malformed")
    text = normalise(code)
    if not text.isascii() or len(text) > MAX_CODE_LENGTH:
        return Check(VerificationResult.INVALID, reason="malformed")
    match = _CODE_RE.fullmatch(text)
    if match is None:
        return Check(VerificationResult.INVALID, reason="malformed")
    muni_code, public_id, key_id, sig = match.group(1), match.group(2), int(match.group(3)), match.group(4)
    m = Municipality.objects.select_related("prefecture").filter(code=muni_code).first()
    if m is None:
        return Check(VerificationResult.INVALID, reason="unknown municipality")
    # The verifier is system code with no tenant of its own (the public page, or a signed-in user of any
    # municipality): it reads the keys and issuances of exactly the municipality the code names, so it sets that
    # scope explicitly, overriding the request's.
    with tenant_scope(m):
        key = SigningKey.objects.filter(key_id=key_id).first()
        if key is None:
            return Check(VerificationResult.INVALID, municipality=m, reason="unknown key")
        issuance = Issuance.objects.filter(public_id=public_id).first()
    if issuance is None:
        return Check(VerificationResult.INVALID, municipality=m, reason="unknown issuance")
    if issuance.key_id != key_id or issuance.issue_date is None:
        return Check(VerificationResult.INVALID, municipality=m, reason="key id differs from the issuance")
    expected = _signature(key.secret, m.code, issuance.public_id, issuance.kind, issuance.issue_date, key_id)
    if not hmac.compare_digest(expected.encode("ascii"), sig.encode("ascii")):
        # either the code was altered, or the stored kind / issue date no longer match what was signed
        return Check(VerificationResult.INVALID, municipality=m, reason="signature does not match the issuance")
    if issuance.status == IssuanceStatus.REFUSED:
        return Check(VerificationResult.INVALID, issuance=issuance, municipality=m, reason="refused")
    if issuance.status == IssuanceStatus.VOIDED:
        return Check(VerificationResult.VOIDED, issuance=issuance, municipality=m, reason="voided")
    if issuance.status != IssuanceStatus.ISSUED:
        return Check(VerificationResult.INVALID, municipality=m, reason=f"status {issuance.status}")
    return Check(VerificationResult.VALID, issuance=issuance, municipality=m, reason="ok")

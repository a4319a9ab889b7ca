"""The audit log's secrets, kept outside the database.

- The HMAC keyring (`JICHITAI_AUDIT_KEY_FILE`, or the `JICHITAI_AUDIT_KEYS` environment variable): one key per line,
  `<key id> <64 hex digits>`. The last line is the key new entries are written with; every line stays, so entries
  written with an earlier key still verify after a rotation (`jichitai audit rotate-key` appends a line).
- The Ed25519 key pair that signs checkpoints of the chain heads (`JICHITAI_AUDIT_SIGNING_KEY_FILE`, PEM, private;
  `JICHITAI_AUDIT_PUBLIC_KEY_FILE`, PEM, one or more public keys). Verifying checkpoints needs only the public keys.

In development (`JICHITAI_AUDIT_KEYS_REQUIRED` off) a missing key file is created with mode 0600 on first use. In
production the keys must be provisioned: with the setting on, a missing key refuses the write with `AuditKeyError`
(and `jichitai check` reports it at start).
"""
import binascii
import hashlib
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_RELOAD_SECONDS = 5.0


class AuditKeyError(RuntimeError):
    """A key the audit log needs is missing or unreadable. The message is bilingual and names the setting."""


def _required() -> bool:
    return bool(getattr(settings, "JICHITAI_AUDIT_KEYS_REQUIRED", False))


def _write_private(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- HMAC keyring

@dataclass(frozen=True)
class Keyring:
    keys: dict          # key id -> bytes
    current: str        # the id new entries are written with
    source: str

    def key(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


def parse_keyring(text: str, source: str) -> Keyring:
    keys, current = {}, None
    for n, line in enumerate(text.replace(";", "\n").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not KEY_ID_RE.match(parts[0]):
            raise AuditKeyError(f"監査ログの鍵の形式が正しくありません（{source} {n}行目: 「鍵ID 16進数64桁」）"
                                f" / malformed audit key ({source} line {n}: expected '<key id> <64 hex digits>')")
        try:
            secret = binascii.unhexlify(parts[1])
        except binascii.Error:
            secret = b""
        if len(secret) < 32:
            raise AuditKeyError(f"監査ログの鍵が短すぎるか16進数ではありません（{source} {n}行目）"
                                f" / audit key too short or not hex ({source} line {n}): 32 bytes or more")
        keys[parts[0]] = secret
        current = parts[0]
    if current is None:
        raise AuditKeyError(f"監査ログの鍵がありません（{source}） / no audit key in {source}")
    return Keyring(keys, current, source)


def key_file() -> Path:
    return Path(settings.JICHITAI_AUDIT_KEY_FILE)


def new_key_line(key_id: str | None = None) -> str:
    key_id = key_id or time.strftime("k%Y%m%d%H%M%S") + secrets.token_hex(2)
    return f"{key_id} {secrets.token_hex(32)}\n"


_cache = {"ring": None, "stamp": None, "checked": 0.0}
_lock = threading.Lock()


def _missing_message(path) -> str:
    return (f"監査ログのHMAC鍵がありません: {path}（設定 JICHITAI_AUDIT_KEY_FILE または環境変数 JICHITAI_AUDIT_KEYS）。"
            "本番環境では鍵を用意してから起動してください（`jichitai audit rotate-key` で作成できます）。"
            f" / The audit HMAC key is missing: {path} (setting JICHITAI_AUDIT_KEY_FILE or environment variable "
            "JICHITAI_AUDIT_KEYS). Provision it before starting (`jichitai audit rotate-key` creates one); "
            "no audit entry is written without it.")


def keyring() -> Keyring:
    """The keyring, cached and re-read when the file changes (checked at most every few seconds)."""
    env = os.environ.get("JICHITAI_AUDIT_KEYS")
    if env:
        ring = _cache["ring"]
        if ring is None or ring.source != "JICHITAI_AUDIT_KEYS":
            _cache["ring"] = ring = parse_keyring(env, "JICHITAI_AUDIT_KEYS")
        return ring
    now = time.monotonic()
    ring = _cache["ring"]
    if ring is not None and now - _cache["checked"] < _RELOAD_SECONDS and ring.source == str(key_file()):
        return ring
    with _lock:
        path = key_file()
        try:
            st = path.stat()
        except FileNotFoundError:
            if _required():
                raise AuditKeyError(_missing_message(path)) from None
            try:
                _write_private(path, new_key_line("k1").encode())
            except FileExistsError:
                pass
            st = path.stat()
        stamp = (str(path), st.st_mtime_ns, st.st_size)
        if ring is None or stamp != _cache["stamp"]:
            try:
                text = path.read_text("utf-8")
            except OSError as exc:
                raise AuditKeyError(_missing_message(path) + f" ({exc})") from None
            ring = parse_keyring(text, str(path))
            _cache.update(ring=ring, stamp=stamp)
        _cache["checked"] = now
        return ring


def reset_cache():
    _cache.update(ring=None, stamp=None, checked=0.0)
    _sign_cache.clear()


def rotate_key(key_id: str | None = None) -> str:
    """Append a new key to the keyring file (created 0600 if absent); returns its id. Old keys stay for verifying."""
    path = key_file()
    line = new_key_line(key_id)
    new_id = line.split()[0]
    if not KEY_ID_RE.match(new_id):
        raise AuditKeyError(f"鍵IDの形式が正しくありません: {new_id} / invalid key id: {new_id}")
    if path.exists():
        existing = parse_keyring(path.read_text("utf-8"), str(path))
        if new_id in existing.keys:
            raise AuditKeyError(f"鍵ID {new_id} は既に使われています / key id {new_id} is already in use")
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    else:
        _write_private(path, line.encode())
    reset_cache()
    return new_id


def add_device_key(key_id: str) -> str:
    """Add a verify-only key for one device (an offline kit) to the keyring file and return its line: the device
    writes its entries with it, the platform verifies them with it. It goes in before the current key, so this
    installation keeps writing with its own key; the device never receives the platform's keys."""
    if os.environ.get("JICHITAI_AUDIT_KEYS"):
        raise AuditKeyError("鍵を環境変数 JICHITAI_AUDIT_KEYS で渡しているため端末の鍵を追加できません"
                            " / the keyring comes from JICHITAI_AUDIT_KEYS: a device key cannot be added")
    if not KEY_ID_RE.match(key_id):
        raise AuditKeyError(f"鍵IDの形式が正しくありません: {key_id} / invalid key id: {key_id}")
    keyring()  # the file exists (created in development, required in production)
    path = key_file()
    with _lock:
        text = path.read_text("utf-8")
        if key_id in parse_keyring(text, str(path)).keys:
            raise AuditKeyError(f"鍵ID {key_id} は既に使われています / key id {key_id} is already in use")
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        last = max(i for i, x in enumerate(lines) if x.strip() and not x.strip().startswith("#"))
        line = new_key_line(key_id)
        lines.insert(last, line)
        tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
        _write_private(tmp, "".join(lines).encode())
        os.replace(tmp, path)
    reset_cache()
    return line


# ---------------------------------------------------------------- Ed25519 checkpoint signing

_sign_cache = {}


def public_key_id(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signing_key():
    """(private key, key id). Created with its public key file in development; required in production."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(settings.JICHITAI_AUDIT_SIGNING_KEY_FILE)
    if path in _sign_cache:
        return _sign_cache[path]
    if not path.exists():
        if _required():
            raise AuditKeyError(
                f"チェックポイント署名鍵がありません: {path}（設定 JICHITAI_AUDIT_SIGNING_KEY_FILE）"
                f" / the checkpoint signing key is missing: {path} (setting JICHITAI_AUDIT_SIGNING_KEY_FILE)")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            _write_private(path, pem)
        except FileExistsError:
            pass
        else:
            pub = Path(settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE)
            pub.parent.mkdir(parents=True, exist_ok=True)
            with open(pub, "ab") as f:
                f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"チェックポイント署名鍵は Ed25519 ではありません: {path} / not an Ed25519 key: {path}")
    _sign_cache[path] = (key, public_key_id(key.public_key()))
    return _sign_cache[path]


def public_keys() -> dict:
    """key id -> Ed25519 public key, from the public key file (several PEM blocks allowed: rotated keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE)
    if not path.exists():
        return {}
    out = {}
    for block in re.findall(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", path.read_bytes(), re.S):
        k = serialization.load_pem_public_key(block)
        if isinstance(k, Ed25519PublicKey):
            out[public_key_id(k)] = k
    return out

"""API keys: `jk_<prefix>_<secret>`. Only the prefix (to find the client) and SHA-256(secret) are stored.

SHA-256 rather than Argon2: the secret is 256 random bits, so a slow hash adds no protection against guessing
but would cost tens of milliseconds on every call. The comparison is constant-time."""
import hashlib
import hmac
import re
import secrets

KEY_RE = re.compile(r"^jk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_key() -> tuple[str, str, str]:
    """(full key shown once, prefix, hash of the secret)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # 43 characters
    return f"jk_{prefix}_{secret}", prefix, hash_secret(secret)


def split_key(key: str):
    """(prefix, secret) of a well-formed key, else None."""
    m = KEY_RE.match(key or "")
    return (m.group(1), m.group(2)) if m else None


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)

"""Django settings for Jichitai Cloud.

SQLite (WAL, under var/) is the embedded default; DATABASE_URL=postgres://… selects PostgreSQL (psycopg 3).
"""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("JICHITAI_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if os.environ.get("JICHITAI_SECRET_KEY"):
        return os.environ["JICHITAI_SECRET_KEY"]
    # A per-installation key kept under var/, created on first start (never committed).
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("JICHITAI_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("JICHITAI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "jichitai.tenancy",
    "jichitai.audit",
    "jichitai.residents",
    "jichitai.privacy.apps.Config",
    "jichitai.gaiji",
    "jichitai.interchange.apps.Config",
    "jichitai.migration.apps.Config",
    "jichitai.api.apps.Config",
    "jichitai.certificates.apps.Config",
    "jichitai.disaster.apps.Config",
    "jichitai.continuity.apps.Config",
    "jichitai.chouaza.apps.Config",
    "jichitai.lists.apps.Config",
    "jichitai.matching.apps.Config",
    "jichitai.platform.apps.Config",
    "jichitai.demo",
    "jichitai.web",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "jichitai.guard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "jichitai.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jichitai.tenancy.middleware.IdleTimeoutMiddleware",
    "jichitai.tenancy.middleware.TenantMiddleware",
    "jichitai.platform.metrics.RequestMetricsMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "jichitai.tenancy.middleware.MFARequiredMiddleware",
]

ROOT_URLCONF = "jichitai.urls"
WSGI_APPLICATION = "jichitai.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jichitai.web.context.staff_context",
            ],
        },
    }
]


def database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "sqlite"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite:///)")
    if parts.scheme == "sqlite":
        return _sqlite(Path(unquote(parts.path)))
    options = {k: v[0] for k, v in parse_qs(parts.query).items()}
    user, password, host, port = _netloc(parts.netloc)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "jichitai",
        "USER": user,
        "PASSWORD": password,
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "TEST": {"NAME": "test_" + (unquote(parts.path.lstrip("/")) or "jichitai")},
    }


def _netloc(netloc: str):
    """(user, password, hosts, ports) of a URL's netloc, libpq multi-host included: `postgres://u@h1:5432,h2:5433/db
    ?target_session_attrs=read-write` gives HOST "h1,h2" and PORT "5432,5433", which psycopg hands to libpq as they
    are (it tries each host in turn and keeps the one that accepts writes). IPv6 hosts in brackets."""
    userinfo, _, hostlist = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts, ports = [], []
    for item in hostlist.split(",") if hostlist else []:
        if item.startswith("["):
            h, _, rest = item[1:].partition("]")
            p = rest[1:] if rest.startswith(":") else ""
        else:
            h, _, p = item.partition(":")
        if p and not p.isdigit():
            raise ValueError(f"DATABASE_URL: bad port {p!r} for host {h!r}")
        hosts.append(unquote(h))
        ports.append(p)
    if any(ports) and not all(ports):
        default = "5432"
        ports = [p or default for p in ports]
    return unquote(user), unquote(password), ",".join(hosts), ",".join(ports) if any(ports) else ""


def _sqlite(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # IMMEDIATE: writers take the lock at BEGIN, so two writers never deadlock on upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;",
        },
    }


DATABASES = {
    "default": database_from_url(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else _sqlite(VAR_DIR / "jichitai.sqlite3")
}

AUTH_USER_MODEL = "tenancy.StaffUser"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["jichitai.tenancy.auth.LockoutModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"

# Sign-in lockout and idle timeout.
JICHITAI_LOCKOUT_THRESHOLD = 5
JICHITAI_LOCKOUT_MINUTES = 15
# Two-step sign-in (django-otp TOTP + recovery codes): the issuer name shown in authenticator apps.
OTP_TOTP_ISSUER = "自治体クラウド"
JICHITAI_RECOVERY_CODES = 10
JICHITAI_IDLE_TIMEOUT_SECONDS = int(os.environ.get("JICHITAI_IDLE_TIMEOUT_SECONDS", 30 * 60))
# Certificates: the public address printed in QR codes, and the verification page's limit per client.
JICHITAI_PUBLIC_URL = os.environ.get("JICHITAI_PUBLIC_URL", "http://127.0.0.1:8000")
JICHITAI_VERIFY_RATE = int(os.environ.get("JICHITAI_VERIFY_RATE", 20))  # requests per window and client
JICHITAI_VERIFY_WINDOW_SECONDS = 60
SESSION_COOKIE_AGE = 8 * 3600  # absolute cap; the idle timeout (IdleTimeoutMiddleware) is the shorter limit
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LOGIN_URL_PATH = "/login/"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = os.environ.get("JICHITAI_HTTPS") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("JICHITAI_LOG_LEVEL", "WARNING")},
}
CSRF_FAILURE_VIEW = "jichitai.web.views.csrf_failure"

# Audit log secrets and checkpoints, kept outside the database (docs/architecture.md, "Audit"). In production set
# JICHITAI_AUDIT_KEYS_REQUIRED=1 and provision the files: no audit entry is then written without the HMAC key.
JICHITAI_AUDIT_KEY_FILE = os.environ.get("JICHITAI_AUDIT_KEY_FILE", str(VAR_DIR / "audit" / "hmac.key"))
JICHITAI_AUDIT_SIGNING_KEY_FILE = os.environ.get("JICHITAI_AUDIT_SIGNING_KEY_FILE",
                                                 str(VAR_DIR / "audit" / "checkpoint-ed25519.key"))
JICHITAI_AUDIT_PUBLIC_KEY_FILE = os.environ.get("JICHITAI_AUDIT_PUBLIC_KEY_FILE",
                                                str(VAR_DIR / "audit" / "checkpoint-ed25519.pub"))
JICHITAI_AUDIT_CHECKPOINT_DIR = os.environ.get("JICHITAI_AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "audit" / "checkpoints"))
JICHITAI_AUDIT_CHECKPOINT_EVERY = int(os.environ.get("JICHITAI_AUDIT_CHECKPOINT_EVERY", 1000))
JICHITAI_AUDIT_KEYS_REQUIRED = os.environ.get("JICHITAI_AUDIT_KEYS_REQUIRED") == "1"
# On an offline copy of one municipality: the segment its entries are appended to ("<code>~<segment id>").
JICHITAI_AUDIT_SEGMENT = os.environ.get("JICHITAI_AUDIT_SEGMENT", "")
# Set by `jichitai offline run` on a laptop: this process serves an offline kit (continuity/offline.py).
JICHITAI_OFFLINE_DIR = os.environ.get("JICHITAI_OFFLINE_DIR", "")
# PostgreSQL: the runtime connections SET ROLE to this non-superuser, non-BYPASSRLS role (created by migrate if
# missing), so row-level security applies; "" keeps the login role (then it must itself be neither).
JICHITAI_DB_APP_ROLE = os.environ.get("JICHITAI_DB_APP_ROLE", "jichitai_app")

# Backups (continuity app): the AES-256 key file (kept outside the database and outside the backups, like the audit
# keyring), where backups are written, and how long they are kept (`jichitai backup prune`).
JICHITAI_BACKUP_KEY_FILE = os.environ.get("JICHITAI_BACKUP_KEY_FILE", str(VAR_DIR / "backup" / "backup.key"))
JICHITAI_BACKUP_DIR = os.environ.get("JICHITAI_BACKUP_DIR", str(VAR_DIR / "backups"))
JICHITAI_BACKUP_RETENTION = {"daily": int(os.environ.get("JICHITAI_BACKUP_KEEP_DAYS", 7)),
                             "weekly": int(os.environ.get("JICHITAI_BACKUP_KEEP_WEEKS", 4)),
                             "monthly": int(os.environ.get("JICHITAI_BACKUP_KEEP_MONTHS", 12))}

"""The encrypted backup file: AES-256-GCM in authenticated chunks, with a key kept outside the database.

Layout::

    MAGIC (16 bytes) | header length (4, big-endian) | header (JSON, plain) |
    chunk* : length (4, big-endian) | AES-GCM ciphertext with its 16-byte tag

Each chunk is the next piece of a zlib stream of JSON lines (see backup.py). Its nonce is the header's random
8-byte prefix and the chunk's number (4 bytes); its associated data is the whole header, the chunk number and a
final flag — so a changed header, a changed, reordered or dropped chunk, or a file cut short (no chunk flagged
final) fails authentication. Nothing is trusted before the whole file has been authenticated (`authenticate`).

The key file (`JICHITAI_BACKUP_KEY_FILE`): one key per line, `<key id> <64 hex digits>` (32 bytes, AES-256); the
last line encrypts new backups, every line stays so that older backups still open after a rotation. Like the audit
keyring it lives outside the database and outside the backups: whoever holds a backup file alone reads nothing.
"""
import binascii
import json
import os
import re
import secrets
import struct
import zlib
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

MAGIC = b"JICHITAI-BACKUP\x01"
CHUNK = 1 << 20
KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class BackupError(RuntimeError):
    """A backup cannot be written, opened or restored. The message is bilingual (Japanese / English)."""


def refused(why_ja: str, why_en: str) -> BackupError:
    return BackupError(f"バックアップを使用できません: {why_ja} / backup refused: {why_en}")


# ---------------------------------------------------------------- keys

def key_file() -> Path:
    return Path(getattr(settings, "JICHITAI_BACKUP_KEY_FILE", "") or Path(settings.VAR_DIR) / "backup" / "backup.key")


def load_keys() -> tuple[dict, str]:
    path = key_file()
    if not path.exists():
        if getattr(settings, "JICHITAI_AUDIT_KEYS_REQUIRED", False):
            raise BackupError(f"バックアップの暗号鍵がありません（{path}） / backup key file missing: {path} "
                              "(provision JICHITAI_BACKUP_KEY_FILE)")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = f"b{secrets.token_hex(4)} {secrets.token_hex(32)}\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, line.encode())
            os.close(fd)
        except FileExistsError:
            pass
    found, current = {}, None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            secret = binascii.unhexlify(parts[1]) if len(parts) == 2 else b""
        except binascii.Error:
            secret = b""
        if len(parts) != 2 or not KEY_ID_RE.match(parts[0]) or len(secret) != 32:
            raise BackupError(f"バックアップの暗号鍵の形式が正しくありません（{path} {n}行目: 「鍵ID 16進数64桁」） / "
                              f"malformed backup key ({path} line {n}: expected '<key id> <64 hex digits>')")
        found[parts[0]] = secret
        current = parts[0]
    if current is None:
        raise BackupError(f"バックアップの暗号鍵がありません（{path}） / no backup key in {path}")
    return found, current


# ---------------------------------------------------------------- writing

class Writer:
    """Compress and encrypt a stream of bytes into `path` (written to a temporary name, renamed when closed)."""

    def __init__(self, path: Path, header: dict):
        keys, current = load_keys()
        header = dict(header, format="jichitai-backup", version=1, key_id=current,
                      nonce_prefix=secrets.token_hex(8), cipher="AES-256-GCM", compression="zlib")
        self.header_bytes = json.dumps(header, ensure_ascii=False, sort_keys=True).encode()
        self.header = header
        self.aes = AESGCM(keys[current])
        self.prefix = bytes.fromhex(header["nonce_prefix"])
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.f = open(self.tmp, "wb")
        self.f.write(MAGIC + struct.pack(">I", len(self.header_bytes)) + self.header_bytes)
        self.z = zlib.compressobj(1)
        self.buf = bytearray()
        self.n = 0
        # compression, encryption and writing run in a second thread (zlib, the AEAD and file writes release the
        # GIL), so that the reader keeps draining the database's COPY meanwhile: both cores
        import queue
        import threading

        self.q = queue.Queue(maxsize=16)
        self.error = None
        self.thread = threading.Thread(target=self._run, name="backup-writer", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            data = self.q.get()
            if data is None:
                return
            if self.error is not None:
                continue
            try:
                self._write(data)
            except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
                self.error = exc

    def _check(self):
        if self.error is not None:
            raise self.error

    def write(self, data: bytes):
        self._check()
        self.q.put(bytes(data))

    def _stop(self):
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()

    def _write(self, data: bytes):
        self.buf += self.z.compress(data)
        while len(self.buf) >= CHUNK:
            self._chunk(bytes(self.buf[:CHUNK]), final=False)
            del self.buf[:CHUNK]

    def _chunk(self, plain: bytes, final: bool):
        nonce = self.prefix + struct.pack(">I", self.n)
        aad = self.header_bytes + struct.pack(">I?", self.n, final)
        ct = self.aes.encrypt(nonce, plain, aad)
        self.f.write(struct.pack(">I", len(ct)) + ct)
        self.n += 1

    def close(self):
        self._stop()
        self._check()
        self.buf += self.z.flush()
        self._chunk(bytes(self.buf), final=True)
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)

    def abort(self):
        self._stop()
        self.f.close()
        self.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- reading

def read_header(path: Path) -> tuple[dict, bytes, int]:
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise refused("ファイルを開けません", f"cannot open {path}: {exc}") from None
    with f:
        head = f.read(len(MAGIC) + 4)
        if len(head) < len(MAGIC) + 4 or head[:len(MAGIC)] != MAGIC:
            raise refused("自治体クラウドのバックアップファイルではありません", "not a Jichitai Cloud backup file")
        (hl,) = struct.unpack(">I", head[len(MAGIC):])
        hb = f.read(hl)
    try:
        header = json.loads(hb)
    except ValueError:
        header = None
    if len(hb) != hl or not isinstance(header, dict) or header.get("format") != "jichitai-backup":
        raise refused("ファイルの見出しが壊れています", "the file's header is damaged")
    if header.get("version") != 1:
        raise refused(f"形式のバージョン {header.get('version')} に対応していません",
                      f"unsupported format version {header.get('version')}")
    return header, hb, len(MAGIC) + 4 + hl


def _chunks(path: Path):
    """Yield the decrypted, decompressed pieces, authenticating each chunk; refuse a tampered or cut file."""
    header, hb, offset = read_header(path)
    keys, _ = load_keys()
    key = keys.get(header.get("key_id"))
    if key is None:
        raise refused(f"暗号鍵 {header.get('key_id')} が鍵ファイルにありません（{key_file()}）",
                      f"key {header.get('key_id')} is not in the key file {key_file()}")
    aes = AESGCM(key)
    prefix = bytes.fromhex(header["nonce_prefix"])
    z = zlib.decompressobj()
    n = 0
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            lb = f.read(4)
            if not lb:
                raise refused("ファイルが途中で切れています（最後の区切りがありません）",
                              "the file is truncated (its final chunk is missing)")
            if len(lb) < 4:
                raise refused("ファイルが途中で切れています", "the file is truncated")
            (ln,) = struct.unpack(">I", lb)
            ct = f.read(ln)
            if len(ct) != ln:
                raise refused("ファイルが途中で切れています", "the file is truncated")
            nonce = prefix + struct.pack(">I", n)
            plain = None
            for final in (False, True):
                try:
                    plain = aes.decrypt(nonce, ct, hb + struct.pack(">I?", n, final))
                    break
                except InvalidTag:
                    continue
            if plain is None:
                raise refused(f"内容が改ざんされているか、鍵が違います（区切り{n}）",
                              f"the content was altered or the key is wrong (chunk {n})")
            yield z.decompress(plain)
            n += 1
            if final:
                if f.read(1):
                    raise refused("最後の区切りの後にデータがあります", "data after the final chunk")
                tail = z.flush()
                if tail:
                    yield tail
                return


def pieces(path: Path):
    """The decrypted, decompressed content in pieces (each chunk authenticated before it is yielded; a cut or
    altered file raises at the point it is found — a reader inside a transaction rolls back)."""
    yield from _chunks(path)


def prefetched(gen, depth: int = 4):
    """Run `gen` in a second thread, `depth` items ahead (its exceptions are raised here, where they belong)."""
    import queue
    import threading

    q = queue.Queue(maxsize=depth)
    stop = threading.Event()
    END = object()

    def run():
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((END, None))
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer)
            q.put((END, exc))

    t = threading.Thread(target=run, name="backup-reader", daemon=True)
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


def authenticate(path: Path) -> dict:
    """Read the whole file once, authenticating every chunk; return the header. Nothing is used before this."""
    header, _, _ = read_header(path)
    for _ in _chunks(path):
        pass
    return header


def lines(path: Path):
    """The decrypted JSON lines (bytes, without the newline)."""
    rest = b""
    for piece in _chunks(path):
        rest += piece
        parts = rest.split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest

"""The audit chain cannot be rewritten quietly (issue 9, item 4): version-2 MACs with a key outside the database,
signed checkpoints outside the database, natural keys only (a chain verifies after a restore into another database),
key rotation, version-1 rows still verifying, and offline segments merged back verifiably."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jichitai.audit import keys
from jichitai.audit.actions import compute_hash, record_event
from jichitai.audit.checkpoints import checkpoint_heads, checkpoint_path, read_checkpoints
from jichitai.audit.models import AuditChain, AuditEvent
from jichitai.audit.portable import PortableError, export_lines, merge_segment, open_segment
from jichitai.audit.verify import verify_all, verify_chain
from jichitai.tenancy.scope import tenant_scope


@pytest.fixture(autouse=True)
def _whole_chains_readable():
    """These tests read (and tamper with) whole audit chains as system code and an attacker would, so they run in
    `cross_tenant`: on PostgreSQL row-level security otherwise hides the rows a raw check reads."""
    from jichitai.tenancy.scope import cross_tenant

    with cross_tenant("test: audit chains read whole"):
        yield


ROOT = Path(__file__).resolve().parent.parent


def views(m, user, n, start=0):
    with tenant_scope(m):
        for i in range(start, start + n):
            record_event(m, "resident.view", actor=user, object_type="person", object_id=i, detail={"i": i})


def rows(key):
    return list(AuditEvent.all_chains.filter(chain_key=key).order_by("seq"))


def run_verify(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def rehash_from(key, seq, change):
    """What an attacker with database access does with our own code: edit the row at `seq`, then recompute every
    hash after it (with whatever keyring the code can load) and move the head."""
    ring = keys.keyring()
    entries = rows(key)
    prev = entries[seq - 2].entry_hash if seq > 1 else "0" * 64
    with connection.cursor() as cur:
        for e in entries[seq - 1:]:
            if e.seq == seq:
                change(e)
            e.prev_hash = prev
            e.entry_hash = compute_hash(prev, e, ring)
            cur.execute("UPDATE audit_auditevent SET detail = %s, actor_username = %s, prev_hash = %s, entry_hash = %s"
                        " WHERE id = %s", [e.detail, e.actor_username, e.prev_hash, e.entry_hash, e.pk])
            prev = e.entry_hash
        cur.execute("UPDATE audit_auditchain SET last_hash = %s WHERE key = %s", [prev, key])


@pytest.fixture
def chain(munis, staff):
    a, _ = munis
    views(a, staff["clerk_a"], 12)
    return a


def test_new_entries_are_version_2_with_natural_keys_and_a_key_id(chain):
    e = rows("44204")[0]
    assert e.hash_version == 2 and e.key_id == keys.keyring().current
    from jichitai.audit.actions import entry_payload_v2

    payload = entry_payload_v2(e)
    assert set(payload) == {"v", "chain", "seq", "at", "actor", "role", "action", "object_type", "object_id",
                            "terminal", "detail", "key_id"}  # no municipality id, no actor id
    assert verify_chain("44204").ok


def test_edit_without_the_key_is_detected_even_when_rehashed(attacker_db, chain, settings, tmp_path):
    """An attacker with database access but not the HMAC key: re-hashing with any other key fails at the row."""
    wrong = tmp_path / "attacker.key"
    wrong.write_text(keys.new_key_line(keys.keyring().current))
    saved = settings.JICHITAI_AUDIT_KEY_FILE
    settings.JICHITAI_AUDIT_KEY_FILE = str(wrong)
    keys.reset_cache()
    rehash_from("44204", 5, lambda e: setattr(e, "detail", '{"i":999}'))
    settings.JICHITAI_AUDIT_KEY_FILE = saved
    keys.reset_cache()
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 5 and "改ざん" in r.reason
    code, out, err = run_verify()
    assert code == 1 and "44204: BROKEN at seq 5" in out and "破損" in err


def test_edit_with_the_key_rehashed_is_caught_by_the_signed_checkpoint(attacker_db, chain, staff):
    """Even with the HMAC key, the signed checkpoint (outside the database) names the old hash at seq 12."""
    assert checkpoint_heads() == [("44204", 12, True)]
    rehash_from("44204", 5, lambda e: setattr(e, "actor_username", "someone-else"))
    # the forged chain is internally consistent …
    e = rows("44204")[4]
    assert e.actor_username == "someone-else"
    # … but the checkpoint says otherwise
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 12
    assert "記録1〜12の間が書き換えられ" in r.reason and "rewritten" in r.reason
    code, out, _ = run_verify("--municipality", "44204")
    assert code == 1 and "44204: BROKEN at seq 12" in out and "署名付きチェックポイント" in out
    # the periodic command refuses to sign the forged head (once it moved on)
    views(chain, staff["clerk_a"], 1, 50)
    with pytest.raises(CommandError, match="破損した連鎖には署名しません"):
        call_command("audit", "checkpoint", stdout=io.StringIO())


def test_checkpoints_narrow_a_rewrite_to_the_span_after_the_last_good_one(attacker_db, chain, staff):
    checkpoint_heads()                      # seq 12
    views(chain, staff["clerk_a"], 8, 12)   # seq 13..20
    checkpoint_heads()                      # seq 20
    rehash_from("44204", 15, lambda e: setattr(e, "detail", '{"i":0}'))
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 20 and "記録13〜20" in r.reason


def test_truncation_with_the_head_moved_back_is_detected(attacker_db, chain, staff):
    call_command("audit", "checkpoint", stdout=io.StringIO())
    last_good = rows("44204")[8]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent WHERE chain_key = %s AND seq > 9", ["44204"])
        cur.execute("UPDATE audit_auditchain SET last_seq = 9, last_hash = %s WHERE key = %s",
                    [last_good.entry_hash, "44204"])
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 10
    assert "記録12まで存在した" in r.reason and "truncated" in r.reason
    code, out, _ = run_verify()
    assert code == 1 and "44204: BROKEN at seq 10" in out


def test_checkpoints_written_every_n_entries_after_commit(munis, staff, settings, django_capture_on_commit_callbacks):
    settings.JICHITAI_AUDIT_CHECKPOINT_EVERY = 5
    a, _ = munis
    with django_capture_on_commit_callbacks(execute=True):
        views(a, staff["clerk_a"], 11)
    cps = read_checkpoints("44204")
    # seq 1 (the chain's first version-2 entry), 5 and 10
    assert [c.seq for c in cps] == [1, 5, 10] and all(c.signature_ok for c in cps)
    assert [c.hash for c in cps] == [rows("44204")[i].entry_hash for i in (0, 4, 9)]
    r = verify_chain("44204")
    assert r.ok and r.checkpoints == 3 and r.last_checkpoint_seq == 10
    assert "署名付きチェックポイント3件と一致（最新: 記録10）" in str(r)


def test_a_forged_checkpoint_line_is_refused(chain):
    checkpoint_heads()
    path = checkpoint_path("44204")
    cp = json.loads(path.read_text().splitlines()[0])
    cp["seq"] = 999
    with open(path, "a") as f:
        f.write(json.dumps(cp) + "\n")
    r = verify_chain("44204")
    assert not r.ok and "署名が正しくありません" in r.reason and "2行目" in r.reason


def test_key_rotation_old_entries_still_verify(chain, staff):
    old = keys.keyring().current
    out = io.StringIO()
    call_command("audit", "rotate-key", "--key-id", "k-test-2", stdout=out)
    assert "k-test-2" in out.getvalue()
    views(chain, staff["clerk_a"], 3, 100)
    ids = [e.key_id for e in rows("44204")]
    assert ids[:12] == [old] * 12 and ids[12:] == ["k-test-2"] * 3
    assert verify_chain("44204").ok
    assert oct(os.stat(keys.key_file()).st_mode & 0o777) == "0o600"
    with pytest.raises(CommandError, match="既に使われています"):
        call_command("audit", "rotate-key", "--key-id", "k-test-2", stdout=io.StringIO())
    # a keyring that lost the old key cannot verify the old entries, and says which key is missing
    text = Path(keys.key_file()).read_text()
    Path(keys.key_file()).write_text("".join(l for l in text.splitlines(True) if not l.startswith(old + " ")))
    keys.reset_cache()
    try:
        r = verify_chain("44204")
        assert not r.ok and r.broken_seq == 1 and f"HMAC鍵 {old} が鍵ファイルにありません" in r.reason
    finally:
        Path(keys.key_file()).write_text(text)
        keys.reset_cache()


def test_missing_key_file_when_required_refuses_to_write(munis, staff, settings, tmp_path):
    a, _ = munis
    settings.JICHITAI_AUDIT_KEYS_REQUIRED = True
    settings.JICHITAI_AUDIT_KEY_FILE = str(tmp_path / "absent" / "hmac.key")
    keys.reset_cache()
    n = AuditEvent.all_chains.count()
    with tenant_scope(a), pytest.raises(keys.AuditKeyError) as exc:
        record_event(a, "resident.view", actor=staff["clerk_a"])
    msg = str(exc.value)
    assert "監査ログのHMAC鍵がありません" in msg and "JICHITAI_AUDIT_KEY_FILE" in msg and "absent/hmac.key" in msg
    assert AuditEvent.all_chains.count() == n  # nothing half-written
    assert not (tmp_path / "absent").exists()  # never created when required
    from django.core.checks import run_checks

    errors = [m for m in run_checks() if m.id == "jichitai.audit.E001"]
    assert errors and "JICHITAI_AUDIT_KEY_FILE" in errors[0].msg


def test_key_file_created_0600_in_development(munis, staff, settings, tmp_path):
    a, _ = munis
    settings.JICHITAI_AUDIT_KEY_FILE = str(tmp_path / "dev" / "hmac.key")
    settings.JICHITAI_AUDIT_SIGNING_KEY_FILE = str(tmp_path / "dev" / "sign.key")
    settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE = str(tmp_path / "dev" / "sign.pub")
    keys.reset_cache()
    record_event(a, "resident.view", actor=staff["clerk_a"])
    assert oct(os.stat(tmp_path / "dev" / "hmac.key").st_mode & 0o777) == "0o600"
    checkpoint_heads()
    assert oct(os.stat(tmp_path / "dev" / "sign.key").st_mode & 0o777) == "0o600"
    assert verify_chain("44204").checkpoints == 1


def test_version_1_rows_still_verify_and_cannot_be_appended_after_version_2(attacker_db, munis, staff):
    """Rows written by the old scheme (SHA-256 with database ids) verify as they are; a version-1 row after a
    version-2 row is a downgrade."""
    from jichitai.audit.actions import canonical_json
    from django.utils import timezone

    a, _ = munis
    prev = "0" * 64
    with connection.cursor() as cur:
        for seq in (1, 2, 3):
            e = AuditEvent(chain_key="44204", seq=seq, municipality=a, occurred_at=timezone.now(),
                           actor_id=staff["clerk_a"].pk, actor_username="clerk-a", actor_role="clerk",
                           action="resident.view", object_type="person", object_id=str(seq),
                           terminal="system", detail=canonical_json({}), prev_hash=prev)
            e.entry_hash = compute_hash(prev, e)  # hash_version None: version 1
            e.save()
            prev = e.entry_hash
    AuditChain.objects.create(key="44204", last_seq=3, last_hash=prev)  # a head from before version 2
    views(a, staff["clerk_a"], 2)
    assert [e.hash_version for e in rows("44204")] == [None, None, None, 2, 2]
    assert AuditChain.objects.get(key="44204").hash_version == 2
    assert verify_chain("44204").ok
    # downgrade: make the last row version 1 with a plain SHA-256 (no key needed)
    last = rows("44204")[-1]
    last.hash_version, last.key_id = None, None
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET hash_version = NULL, key_id = NULL, entry_hash = %s WHERE id = %s",
                    [compute_hash(last.prev_hash, last), last.pk])
        cur.execute("UPDATE audit_auditchain SET last_hash = %s WHERE key = '44204'", [compute_hash(last.prev_hash, last)])
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 5 and "downgraded" in r.reason


def test_first_version_2_entry_is_checkpointed(attacker_db, munis, staff, django_capture_on_commit_callbacks):
    """So that downgrading a whole chain to version 1 (no key needed) is caught by a signed checkpoint."""
    a, _ = munis
    with django_capture_on_commit_callbacks(execute=True):
        views(a, staff["clerk_a"], 3)
    assert [c.seq for c in read_checkpoints("44204")] == [1]
    with connection.cursor() as cur:
        prev = "0" * 64
        for e in rows("44204"):
            e.hash_version, e.key_id, e.prev_hash = None, None, prev
            e.entry_hash = compute_hash(prev, e)
            cur.execute("UPDATE audit_auditevent SET hash_version = NULL, key_id = NULL, prev_hash = %s, "
                        "entry_hash = %s WHERE id = %s", [e.prev_hash, e.entry_hash, e.pk])
            prev = e.entry_hash
        cur.execute("UPDATE audit_auditchain SET last_hash = %s, hash_version = NULL WHERE key = '44204'", [prev])
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 1 and "署名付きチェックポイントと一致しません" in r.reason


# ---------------------------------------------------------------- export and restore into another database

def _target_database(tmp_path):
    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}", None
    import psycopg

    s = connection.settings_dict
    name = s["NAME"] + "_restore"
    admin = dict(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"] or "postgres")
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgres://{admin['user']}@{admin['host']}:{admin['port']}/{name}", drop


RESTORE_SCRIPT = r"""
import io, json, sys
from jichitai import cli  # noqa
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jichitai.settings")
django.setup()
from django.core.management import call_command
from jichitai.tenancy.models import Municipality, Prefecture
from jichitai.audit.models import AuditEvent
call_command("migrate", verbosity=0, interactive=False)
p = Prefecture.objects.create(code="40", name="福岡県")
# other municipalities first, so that 44204 and 45383 get other ids than in the source database
for code in ("40130", "40100", "40202"):
    Municipality.objects.create(code=code, name="x" + code, prefecture=p)
q = Prefecture.objects.create(code="44", name="大分県")
Municipality.objects.create(code="45383", name="綾町", prefecture=q)
Municipality.objects.create(code="44204", name="日田市", prefecture=q)
call_command("audit", "import", sys.argv[1])
ids = sorted(set(AuditEvent.all_chains.exclude(municipality=None).values_list("municipality_id", flat=True)))
print("IDS", json.dumps(ids), "PKS", AuditEvent.all_chains.order_by("id").values_list("id", flat=True).first())
try:
    call_command("audit", "verify")
except SystemExit as e:
    print("EXIT", e.code)
"""


@pytest.mark.django_db(transaction=True)
def test_chain_verifies_after_export_and_restore_into_another_database(munis, staff, tmp_path):
    a, b = munis
    # entries on both chains and the platform's, with a key rotation in the middle and a checkpoint
    views(a, staff["clerk_a"], 6)
    views(b, staff["clerk_b"], 4)
    record_event(None, "auth.failed", detail={"username": "x"})
    call_command("audit", "checkpoint", stdout=io.StringIO())
    keys.rotate_key("k-restore-2")
    views(a, staff["admin_a"], 3, 50)
    assert all(r.ok for r in verify_all())
    dump = tmp_path / "audit.jsonl"
    call_command("audit", "export", "--output", str(dump), stdout=io.StringIO())
    text = dump.read_text()
    assert '"municipality_id"' not in text and len(text.splitlines()) == AuditEvent.all_chains.count() == 14
    source_ids = sorted({a.pk, b.pk})

    url, drop = _target_database(tmp_path)
    env = {**os.environ, "DATABASE_URL": url, "JICHITAI_VAR_DIR": str(tmp_path / "var"),
           "JICHITAI_AUDIT_KEY_FILE": settings.JICHITAI_AUDIT_KEY_FILE,
           "JICHITAI_AUDIT_PUBLIC_KEY_FILE": settings.JICHITAI_AUDIT_PUBLIC_KEY_FILE,
           "JICHITAI_AUDIT_SIGNING_KEY_FILE": settings.JICHITAI_AUDIT_SIGNING_KEY_FILE,
           "JICHITAI_AUDIT_CHECKPOINT_DIR": settings.JICHITAI_AUDIT_CHECKPOINT_DIR,
           "JICHITAI_AUDIT_KEYS_REQUIRED": "1", "DJANGO_SETTINGS_MODULE": "jichitai.settings"}
    try:
        p = subprocess.run([sys.executable, "-c", RESTORE_SCRIPT, str(dump)], env=env, capture_output=True,
                           text=True, timeout=300, cwd=ROOT)
    finally:
        if drop:
            drop()
    out = p.stdout
    assert p.returncode == 0, p.stderr
    restored_ids = json.loads(out.split("IDS ", 1)[1].split(" PKS", 1)[0])
    assert set(restored_ids).isdisjoint(source_ids) or restored_ids != source_ids
    assert "44204: OK (9 entries)" in out and "45383: OK (4 entries)" in out and "platform: OK (1 entries)" in out
    assert "44204: OK (9 entries) / 正常（9件）; 2 signed checkpoint(s) match, latest at seq 6" in out  # the checkpoints outside the database still apply
    assert "EXIT" not in out


def test_restore_refuses_entries_that_conflict(chain, tmp_path):
    dump = list(export_lines(["44204"]))
    d = json.loads(dump[3])
    d["detail"] = '{"i":1000}'
    dump[3] = json.dumps(d) + "\n"
    from jichitai.audit.portable import restore

    n = AuditEvent.all_chains.count()
    with pytest.raises(PortableError, match="既に別の内容で存在します"):
        restore(dump)
    assert AuditEvent.all_chains.count() == n


# ---------------------------------------------------------------- offline segments

def test_offline_segment_is_merged_verifiably(attacker_db, munis, staff, settings):
    a, _ = munis
    views(a, staff["clerk_a"], 4)                        # main chain 1..4
    seg = open_segment(a, "TABLET-7")                    # the offline copy forks at seq 4
    assert seg.startswith("44204~")
    settings.JICHITAI_AUDIT_SEGMENT = seg                # … runs offline: its entries go to the segment
    views(a, staff["clerk_a"], 3, 10)
    settings.JICHITAI_AUDIT_SEGMENT = ""
    views(a, staff["clerk_a"], 2, 20)                    # meanwhile the main chain goes on: 5, 6
    seg_rows = rows(seg)
    assert [e.seq for e in seg_rows] == [1, 2, 3, 4] and seg_rows[0].action == "audit.segment.open"
    assert seg_rows[0].prev_hash == rows("44204")[3].entry_hash  # chained from the head at the fork
    assert json.loads(seg_rows[0].detail)["device"] == "TABLET-7"
    assert len(rows("44204")) == 6
    exported = list(export_lines([seg]))

    merge = merge_segment(exported)
    assert merge.chain_key == "44204" and merge.seq == 7
    d = json.loads(merge.detail)
    assert (d["segment"], d["base_seq"], d["first_seq"], d["last_seq"], d["head_hash"]) == (
        seg, 4, 1, 4, seg_rows[-1].entry_hash)
    reports = {r.key: r for r in verify_all()}
    assert reports["44204"].ok and reports[seg].ok
    with pytest.raises(PortableError, match="既に取り込まれています"):
        merge_segment(exported)

    # a segment entry edited after the merge: both the segment and the main chain's merge entry report it
    with connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET detail = %s WHERE chain_key = %s AND seq = 3", ['{"i":0}', seg])
    assert verify_chain(seg).broken_seq == 3
    r = verify_chain("44204")
    assert not r.ok and r.broken_seq == 7 and "取り込んだ区間" in r.reason


def test_segment_entries_appended_after_the_merge_are_reported(munis, staff, settings):
    a, _ = munis
    views(a, staff["clerk_a"], 2)
    seg = open_segment(a, "TABLET-8")
    settings.JICHITAI_AUDIT_SEGMENT = seg
    views(a, staff["clerk_a"], 2, 10)
    exported = list(export_lines([seg]))
    merge_segment(exported)
    views(a, staff["clerk_a"], 1, 30)                    # the device kept writing after its export
    r = verify_chain("44204")
    assert not r.ok and "取り込みの記録と一致しません" in r.reason


def test_a_forged_segment_file_is_refused_and_nothing_is_written(munis, staff, settings):
    a, _ = munis
    views(a, staff["clerk_a"], 2)
    seg = open_segment(a, "TABLET-9")
    settings.JICHITAI_AUDIT_SEGMENT = seg
    views(a, staff["clerk_a"], 2, 10)
    settings.JICHITAI_AUDIT_SEGMENT = ""
    lines = list(export_lines([seg]))
    # the same segment under another id, as if from another device whose entries never existed here
    forged = [l.replace(seg, "44204~deadbeef") for l in lines]
    n = AuditEvent.all_chains.count()
    with pytest.raises(PortableError, match="検証に失敗しました"):
        merge_segment(forged)
    assert AuditEvent.all_chains.count() == n and not AuditChain.objects.filter(key="44204~deadbeef").exists()

"""Backups (issue 13, item 1): a restore into an empty database reproduces every table and verifies every audit
chain; a tampered, truncated or foreign-key backup is refused with a clear bilingual message; a municipality's backup
holds that municipality only; the admin sees the last verified backup. Both engines (the scratch database is a
SQLite file or a PostgreSQL database created and dropped on the same server)."""
import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jichitai.continuity import archive, queries, service
from jichitai.continuity.archive import BackupError
from jichitai.continuity.backup import _models, read_manifest, write_backup
from jichitai.continuity.models import BackupRecord
from jichitai.gaiji import actions as gaiji_actions
from jichitai.tenancy.scope import tenant_scope

from conftest import audit_events, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def backup_key(settings, tmp_path):
    settings.JICHITAI_BACKUP_KEY_FILE = str(tmp_path / "backup-keys" / "backup.key")
    settings.JICHITAI_BACKUP_DIR = str(tmp_path / "backups")
    return Path(settings.JICHITAI_BACKUP_KEY_FILE)


@pytest.fixture
def two_towns(town_a, town_b):
    town_a.family()
    town_a.family(family_name="佐藤", kana="サトウ", address="豆田町1番1号")
    town_b.family(family_name="高橋", kana="タカハシ", address="南俣1番地")
    with tenant_scope(town_a.m):
        gaiji_actions.register_code(town_a.actor(), code="F040", vendor="A社", vendor_juki_code="J+9AD9")
    return town_a, town_b


def _count_in(url, sql):
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///"):]) as c:
            return c.execute(sql).fetchone()[0]
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as c:
        return c.execute(sql).fetchone()[0]


def test_full_backup_restores_into_an_empty_database_with_every_table_and_chain(two_towns, tmp_path):
    a, b = two_towns
    path = tmp_path / "full.jcbk"
    manifest = write_backup(path, "")
    # every table of every app is in it (sessions aside), with its count
    assert set(manifest["tables"]) == set(_models())
    assert manifest["tables"]["residents_person"]["rows"] == 9
    assert {a.m.code, b.m.code} <= set(manifest["chains"])
    assert b"\xe5\xb1\xb1\xe7\x94\xb0" not in path.read_bytes()  # 山田: encrypted, not readable in the file

    with service.Scratch() as s:
        report = service.run_restore_child(path, s.url)
        assert report["ok"], report
        assert report["tables"] == len(manifest["tables"])
        assert report["rows"] == sum(t["rows"] for t in manifest["tables"].values())
        assert report["chains"] == len(manifest["chains"]) >= 2
        assert _count_in(s.url, "SELECT count(*) FROM residents_person") == 9
        assert _count_in(s.url, "SELECT count(*) FROM gaiji_gaijimapping") == 1
        # a second restore into the same (no longer empty) database is refused, nothing added
        again = service.run_restore_child(path, s.url)
        assert not again["ok"] and "空ではありません" in again["error"] and "not empty" in again["error"]
        assert _count_in(s.url, "SELECT count(*) FROM residents_person") == 9


def test_backup_verify_command_records_the_verified_backup_and_the_admin_sees_it(two_towns, staff, tmp_path):
    a, _ = two_towns
    path = tmp_path / "full.jcbk"
    call_command("backup", output=str(path))
    rec = BackupRecord.objects.get()
    assert rec.verify_ok is None and rec.scope_code == "" and rec.rows > 0
    assert queries.last_verified(a.m) is None
    call_command("backup", "verify", str(path))
    rec.refresh_from_db()
    assert rec.verify_ok is True and rec.verified_at is not None and rec.chains >= 2
    assert queries.last_verified(a.m) == rec
    # the admin's screen
    page = client_for(staff["admin_a"]).get("/continuity/backups/").content.decode()
    assert "最終検証済みバックアップ" in page and rec.file_name in page and "正常" in page
    # a clerk has no access
    assert client_for(staff["clerk_a"]).get("/continuity/backups/").status_code == 403


def _flip(src: Path, dst: Path, at: int):
    data = bytearray(src.read_bytes())
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))


def test_tampered_truncated_or_foreign_key_backups_are_refused(two_towns, tmp_path, backup_key):
    path = tmp_path / "full.jcbk"
    call_command("backup", output=str(path))
    size = path.stat().st_size
    cases = {
        "body": (lambda p: _flip(path, p, size // 2), "改ざん", "altered"),
        "header": (lambda p: _flip(path, p, 40), "", ""),
        "truncated": (lambda p: p.write_bytes(path.read_bytes()[:-7]), "途中で切れています", "truncated"),
        "every-chunk-dropped": (lambda p: p.write_bytes(path.read_bytes()[:archive.read_header(path)[2]]),
                                "最後の区切りがありません", "truncated"),
        "not-a-backup": (lambda p: p.write_bytes(b"PGDMP" + b"\0" * 40), "バックアップファイルではありません",
                         "not a Jichitai Cloud backup"),
    }
    for name, (make, ja, en) in cases.items():
        bad = tmp_path / f"{name}.jcbk"
        make(bad)
        with pytest.raises(BackupError) as e:
            read_manifest(bad)
        msg = str(e.value)
        assert "バックアップを使用できません" in msg and "backup refused" in msg, (name, msg)
        assert ja in msg and en in msg, (name, msg)
    # the command refuses before any scratch database is made, and marks the recorded backup failed
    bad = tmp_path / "body.jcbk"
    with pytest.raises(CommandError, match="改ざん"):
        call_command("backup", "verify", str(bad))
    # with the key file replaced (lost key), the file does not open
    keep = backup_key.read_text()
    backup_key.write_text("other " + "ab" * 32 + "\n")
    with pytest.raises(BackupError, match="鍵ファイルにありません"):
        read_manifest(path)
    backup_key.write_text(keep + "rotated " + "cd" * 32 + "\n")  # after a rotation, old backups still open
    assert read_manifest(path)["scope"] == ""


def test_a_municipality_backup_holds_that_municipality_only_and_restores_alone(two_towns, tmp_path):
    a, b = two_towns
    path = tmp_path / "a.jcbk"
    manifest = write_backup(path, a.m.code)
    assert manifest["scope"] == a.m.code and manifest["residents_by_code"] == {a.m.code: 6}
    assert manifest["chains"] == [a.m.code]
    t = manifest["tables"]
    assert t["residents_person"]["rows"] == 6 and t["tenancy_municipality"]["rows"] == 1
    assert t["tenancy_prefecture"]["rows"] == 1 and t["gaiji_gaijimapping"]["rows"] == 1
    assert t["gaiji_gaijimappingevent"]["rows"] >= 1
    assert t["audit_auditevent"]["rows"] == len(audit_events(a.m))
    assert t["tenancy_staffuser"]["rows"] == 4  # A's admin, clerk, viewer, disaster; not B's, not the operator
    assert "tenancy_roledefinition" not in t and "django_content_type" not in t  # platform tables stay the target's

    with service.Scratch() as s:
        report = service.run_restore_child(path, s.url)
        assert report["ok"], report
        assert report["chains"] == 1
        assert _count_in(s.url, "SELECT count(*) FROM residents_person") == 6
        assert _count_in(s.url, f"SELECT count(*) FROM tenancy_municipality WHERE code = '{b.m.code}'") == 0
        assert _count_in(s.url, "SELECT count(*) FROM tenancy_staffuser WHERE username = 'admin-b'") == 0
        assert _count_in(s.url, "SELECT count(*) FROM residents_household WHERE head_id IS NOT NULL") == 2


def test_a_backup_of_an_unknown_municipality_is_refused(two_towns, tmp_path):
    with pytest.raises(CommandError, match="自治体 99999 がありません"):
        call_command("backup", municipality="99999", output=str(tmp_path / "x.jcbk"))
    assert not (tmp_path / "x.jcbk").exists() and not BackupRecord.objects.exists()


def test_a_restore_that_breaks_a_chain_is_reported(two_towns, tmp_path, settings):
    """The restored database verifies the audit chains against the signed checkpoints kept outside the database:
    a backup whose chain differs from what was checkpointed (here: the checkpoints of another database with the
    same municipality codes) is not reported as good."""
    a, _ = two_towns
    path = tmp_path / "a.jcbk"
    call_command("audit", "checkpoint")
    write_backup(path, a.m.code)
    cp = Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)
    files = [p for p in cp.iterdir() if p.name.startswith(a.m.code)]
    assert files
    with service.Scratch() as s:
        assert service.run_restore_child(path, s.url)["ok"]
    # the checkpoint file changed since (another installation's, or tampered with)
    good = files[0].read_text()
    i = len(good) // 2
    files[0].write_text(good[:i] + ("0" if good[i] != "0" else "1") + good[i + 1:])
    with service.Scratch() as s:
        report = service.run_restore_child(path, s.url)
    assert not report["ok"] and ("監査ログ" in report["error"] or "checkpoint" in report["error"])


def test_retention_keeps_recent_weekly_monthly_and_the_last_verified():
    import datetime as dt
    from types import SimpleNamespace as R

    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
    rs = [R(scope_code="", created_at=now - dt.timedelta(days=d), verify_ok=(d == 400)) for d in range(0, 500, 1)]
    gone = service.to_prune(rs, now=now, policy={"daily": 7, "weekly": 4, "monthly": 12})
    kept = [r for r in rs if r not in gone]
    ages = sorted((now - r.created_at).days for r in kept)
    assert ages[:8] == list(range(8)) or ages[:7] == list(range(7))
    assert 400 in ages  # the newest verified one, however old
    assert len(kept) <= 7 + 1 + 4 + 12 + 1
    assert all((now - r.created_at).days > 7 for r in gone)
    # another scope is judged on its own
    other = [R(scope_code="44204", created_at=now - dt.timedelta(days=300), verify_ok=False)]
    assert service.to_prune(other, now=now) == []


def test_prune_command_removes_files_by_the_policy(two_towns, tmp_path, settings):
    import datetime as dt

    settings.JICHITAI_BACKUP_RETENTION = {"daily": 1, "weekly": 0, "monthly": 0}
    call_command("backup", output=str(tmp_path / "old.jcbk"))
    call_command("backup", output=str(tmp_path / "new.jcbk"))
    old = BackupRecord.objects.get(file_name="old.jcbk")
    BackupRecord.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=30))
    call_command("backup", "prune")
    assert not (tmp_path / "old.jcbk").exists() and (tmp_path / "new.jcbk").exists()
    assert BackupRecord.objects.get(file_name="old.jcbk").pruned_at is not None


def test_restore_refuses_a_backup_of_another_schema_version(two_towns, tmp_path, monkeypatch):
    path = tmp_path / "full.jcbk"
    write_backup(path, "")
    from jichitai.continuity import backup as b

    monkeypatch.setattr(b, "applied_migrations", lambda: ["residents.9999_future"])
    with pytest.raises(BackupError, match="スキーマがバックアップと異なります"):
        b.restore(path)
    assert connection.vendor in ("sqlite", "postgresql")
    assert archive.read_header(path)[0]["scope"] == ""


def test_the_latest_failover_drill_is_shown_and_offered_to_the_bcp_plan(munis, staff):
    from jichitai.continuity import actions

    a, _ = munis
    d = actions.record_drill({"old_primary": "node1", "new_primary": "node2", "rto_seconds": 9.79,
                              "rpo_events": 0, "committed": 239, "chain_ok": True, "present": 239})
    page = client_for(staff["admin_a"]).get("/continuity/backups/").content.decode()
    assert "9.8 秒で書き込みが再開" in page and "失われたもの: 0 件" in page
    facts = queries.continuity_facts(a)
    assert facts["drills"] == [d] and facts["worst_rpo_events"] == 0 and facts["last_verified_backup"] is None


def test_another_municipalitys_own_backup_is_not_shown(two_towns, staff, tmp_path):
    a, b = two_towns
    call_command("backup", municipality=a.m.code, output=str(tmp_path / "a-only.jcbk"))
    rec = BackupRecord.objects.get()
    BackupRecord.objects.filter(pk=rec.pk).update(verify_ok=True)
    assert queries.last_verified(a.m) is not None and queries.last_verified(b.m) is None
    page_b = client_for(staff["admin_b"]).get("/continuity/backups/").content.decode()
    assert "a-only.jcbk" not in page_b and "検証済みのバックアップはまだありません" in page_b
    assert "a-only.jcbk" in client_for(staff["admin_a"]).get("/continuity/backups/").content.decode()


@pytest.mark.parametrize("threshold", ["1", "3"])
def test_restore_loads_big_tables_bare_and_rebuilds_their_keys(two_towns, tmp_path, monkeypatch, threshold):
    """The bulk path of a PostgreSQL restore (tables of BARE_LOAD_ROWS rows or more are loaded without their keys,
    indexes and foreign keys, which are rebuilt before commit) is what a real municipality's restore takes; with the
    threshold at 1 row every table of this small database takes it; at 3 rows small and bare tables mix (foreign keys
    from a small table to a bare one are re-added while the small table's own deferred checks are pending). The restored database has every row, keeps its
    keys (a duplicate primary key is refused) and verifies its chains."""
    monkeypatch.setenv("JICHITAI_BARE_LOAD_ROWS", threshold)
    path = tmp_path / "full.jcbk"
    manifest = write_backup(path, "")
    with service.Scratch() as s:
        report = service.run_restore_child(path, s.url)
        assert report["ok"], report
        assert report["rows"] == sum(t["rows"] for t in manifest["tables"].values())
        assert report["chains"] == len(manifest["chains"]) >= 2
        assert _count_in(s.url, "SELECT count(*) FROM residents_person") == 9
        if s.url.startswith("postgres"):
            # the primary key, the unique keys and the foreign keys are back
            n_keys = _count_in(s.url, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'residents_person'::regclass"
                                      " AND contype IN ('p', 'u', 'f')")
            assert n_keys >= 3
            n_idx = _count_in(s.url, "SELECT count(*) FROM pg_indexes WHERE tablename = 'residents_person'")
            assert n_idx >= 3

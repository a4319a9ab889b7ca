"""Verifying a backup restores it into a scratch database in a child process: the live installation's signed audit
checkpoints must stay as they were (no false 'rewritten' alarm on the platform chain afterwards)."""
from pathlib import Path

import pytest
from django.conf import settings

from jichitai.audit.actions import append
from jichitai.audit.verify import verify_chain
from jichitai.continuity import service
from jichitai.continuity.backup import write_backup


@pytest.fixture(autouse=True)
def backup_key(settings, tmp_path):
    settings.JICHITAI_BACKUP_KEY_FILE = str(tmp_path / "backup-keys" / "backup.key")
    settings.JICHITAI_BACKUP_DIR = str(tmp_path / "backups")


def test_verifying_a_backup_leaves_the_live_checkpoints_and_platform_chain_intact(town_a, tmp_path):
    town_a.family()
    append(None, "continuity.backup", detail={"x": 1})
    assert verify_chain("platform").ok
    live = Path(settings.JICHITAI_AUDIT_CHECKPOINT_DIR)
    before = {p.name: p.read_text() for p in live.glob("*")}
    path = tmp_path / "a.jcbk"
    write_backup(path, town_a.m.code)
    rep = service.verify_file(path)
    assert rep["ok"], rep
    assert {p.name: p.read_text() for p in live.glob("*")} == before
    after = verify_chain("platform")
    assert after.ok, after.reason

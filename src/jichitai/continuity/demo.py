"""Demo: one real, verified backup of a demo municipality so the admin's backup screen has content (seed_demo)."""
from . import actions, service
from .backup import write_backup


def seed_verified_backup(code: str, out=None) -> str:
    path = service.backup_dir() / service.default_name(code)
    manifest = write_backup(path, code)
    actions.record_backup(path, manifest, terminal="demo")
    report = service.verify_file(path)
    actions.record_verification(path, report, terminal="demo")
    if out:
        out(f"バックアップ: {code} を取得・検証しました（{'正常' if report.get('ok') else '失敗'}） / demo backup "
            f"of {code} written and verified: {path.name}")
    return str(path)

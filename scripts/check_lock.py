"""Fail when the virtual environment's installed set differs from the lockfiles.

Run by `make env` after installing, and by CI: every installed distribution must be pinned in
requirements.lock or requirements-bootstrap.lock at exactly that version, and every pinned one must be installed.
(The venv's own setuptools from ensurepip is removed by the Makefile, so nothing unpinned remains.)
"""
import pathlib
import re
import sys
from importlib import metadata

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOCKS = ["requirements-bootstrap.lock", "requirements.lock"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict:
    out = {}
    for lock in LOCKS:
        for line in (ROOT / lock).read_text().splitlines():
            m = PIN.match(line)
            if m:
                out[norm(m.group(1))] = m.group(2)
    return out


def installed() -> dict:
    return {norm(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def main() -> int:
    want, have = pinned(), installed()
    problems = []
    for name, version in sorted(have.items()):
        if name not in want:
            problems.append(f"installed but not in the lock: {name}=={version}")
        elif want[name] != version:
            problems.append(f"version differs: {name} installed {version}, locked {want[name]}")
    for name, version in sorted(want.items()):
        if name not in have:
            problems.append(f"locked but not installed: {name}=={version}")
    if problems:
        print("lock check FAILED / ロックファイルと導入済みパッケージが一致しません:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"lock check: {len(have)} installed distributions match the lock exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main())

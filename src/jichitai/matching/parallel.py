"""The matcher's parts on every core: a large run is cut into parts (api._shards: the rows of one 受付グループ in one
part) and each part after the first is matched in a forked process, which sends its results back through a pipe.

Each process opens its own database connection (the parent's is closed before the fork, so no connection is shared
between processes), under the same tenant scope (a context variable, inherited by the fork). Never inside a
transaction: a forked process would not see what the transaction has not committed, and closing the connection
would end the transaction — such a run, a run on an in-memory SQLite database and any run on a system without fork
use this process only.
"""
from __future__ import annotations

import os
import pickle

from django.db import connection, connections

MIN_ROWS_PER_PROCESS = 1500  # below this a fork costs more than it saves


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    if not hasattr(os, "fork") or connection.in_atomic_block:
        return False
    # an in-memory SQLite database (the test runner's) does not exist in another process
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def workers(n_rows: int, requested: int | None = None) -> int:
    """How many processes a run of `n_rows` uses: `requested` if given, else one per core and per
    MIN_ROWS_PER_PROCESS rows; 1 whenever forking is not possible."""
    if not can_fork():
        return 1
    if requested is not None:
        return max(1, min(int(requested), max(1, n_rows)))
    return max(1, min(cores(), n_rows // MIN_ROWS_PER_PROCESS))


def run_parts(parts: list, fn) -> list:
    """fn(part) → list for each part, concatenated (the first part's first). Parts after the first run in forked
    processes at the same time as the first one in this process."""
    if len(parts) <= 1 or not can_fork():
        out = []
        for part in parts:
            out.extend(fn(part))
        return out
    connections.close_all()  # each process opens its own connection
    children = []
    try:
        for part in parts[1:]:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: match its part, send the results, leave without running any exit handler
                code = 0
                try:
                    os.close(r)
                    try:
                        payload = pickle.dumps(("ok", fn(part)), protocol=pickle.HIGHEST_PROTOCOL)
                    except BaseException as e:  # noqa: BLE001 — sent to the parent, which raises it
                        try:
                            payload = pickle.dumps(("error", e))
                        except Exception:
                            payload = pickle.dumps(("error", RuntimeError(repr(e))))
                    with os.fdopen(w, "wb") as fh:
                        fh.write(payload)
                    connections.close_all()
                except BaseException:  # noqa: BLE001
                    code = 1
                finally:
                    os._exit(code)
            os.close(w)
            children.append((pid, r))
        out = list(fn(parts[0]))
    finally:
        received = []
        for pid, r in children:
            with os.fdopen(r, "rb") as fh:
                data = fh.read()
            os.waitpid(pid, 0)
            received.append(data)
    for data in received:
        if not data:
            raise RuntimeError("照合の並列処理の子プロセスが結果を返しませんでした / a matching worker returned nothing")
        status, value = pickle.loads(data)
        if status == "error":
            raise value
        out.extend(value)
    return out

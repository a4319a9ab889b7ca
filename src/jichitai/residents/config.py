"""The municipality's settings of the change workflow, one function per setting, resolved by the platform's tier
engine (標準 → 標準追加 → 県版 → 個別; declared in platform/declarations.py)."""
from jichitai.platform import engine

KEY_APPROVAL = "counter.approval_required"
APPROVAL_REQUIRED_STANDARD = False  # the declared standard value


def approval_required(municipality) -> bool:
    """Whether a change (異動) waits as 決裁待ち until a second staff member approves it."""
    return bool(engine.cached(KEY_APPROVAL, municipality))

"""The municipality's 外字 settings, resolved by the platform's tier engine (declared in platform/declarations.py)."""
from jichitai.platform import engine

KEY_TWO_PERSON = "gaiji.two_person_review"
TWO_PERSON_REVIEW_STANDARD = True  # the declared standard value


def two_person_review(municipality) -> bool:
    """Whether the staff member who proposed a mapping is refused when he approves it (四つの目)."""
    return bool(engine.cached(KEY_TWO_PERSON, municipality))

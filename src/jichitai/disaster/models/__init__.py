"""The disaster app's models, one module per part (so the parts can grow independently):

core      — disasters, their activation per municipality, shelters
evacuees  — evacuees, check-in/out history, safety notes, cross-municipality grants, PFIF
support   — 避難行動要支援者名簿, 被災者台帳, damage assessments (added by its part)
"""
from .core import Disaster, DisasterActivation, EvacuationPlace, Shelter, ShelterKind  # noqa: F401
from .support import (  # noqa: F401
    DamageAssessment, LedgerProvision, ReliefMeasure, Supporter, VictimLedger, VulnerablePerson)
from .evacuees import (  # noqa: F401
    Evacuee, EvacueeMovement, EvacueeStatus, LookupGrant, MatchState, MovementKind, PfifRecord, PfifStatus, Presence,
    SafetyNote,
)

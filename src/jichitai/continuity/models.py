from .bcp_models import BcpPlanRevision, Drill, DrillScenario, DrillStepEvent  # noqa: F401
from .offline_models import (KitState, OfflineIntake, OfflineKit, OutboxEvent, SyncConflict,  # noqa: F401
                             SyncedEvent)

from .bcp_models import BcpPlanRevision, Drill, DrillScenario, DrillStepEvent  # noqa: F401

"""Server-side automations that a self-hosted Prefect lacks by default.

A flow run whose process dies without a word (kill -9, out of memory, the machine or its worker
gone) stays Running forever on a self-hosted server, and with it the bot's account looks busy.
Every flow run sends a ``prefect.flow-run.heartbeat`` event every ``HEARTBEAT_S`` seconds
(``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``: prefect.toml for runs started from this folder, the work
pool's job variables in prefect.yaml for worker runs); when a run has sent a heartbeat and then
nothing at all for ``MISSED_HEARTBEATS`` intervals, this automation marks it Crashed.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

HEARTBEAT_S = 30
MISSED_HEARTBEATS = 3
CRASH_SILENT_RUNS = "perpflow: crash flow runs whose heartbeats stop"


def crash_silent_runs() -> AutomationCore:
    """After a heartbeat, any later event of the same run (heartbeat or state change) must follow in time."""
    return AutomationCore(
        name=CRASH_SILENT_RUNS,
        description=f"A flow run that sent a heartbeat and then nothing for {HEARTBEAT_S * MISSED_HEARTBEATS} s "
                    f"(heartbeats every {HEARTBEAT_S} s) is marked Crashed: its process is gone.",
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=HEARTBEAT_S * MISSED_HEARTBEATS),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {HEARTBEAT_S * MISSED_HEARTBEATS} s: the flow run's "
                                            "process is gone")],
    )


def ensure_automations(client: SyncPrefectClient) -> list[str]:
    """Create or update the project's automations by name (idempotent); returns their names."""
    wanted = [crash_silent_runs()]
    for automation in wanted:
        existing = client.read_automations_by_name(automation.name)
        if existing:
            client.update_automation(existing[0].id, automation)
            for extra in existing[1:]:  # a name is one automation
                client.delete_automation(extra.id)
        else:
            client.create_automation(automation)
    return [a.name for a in wanted]

"""Hand a delivery to the group-commit writer (or store it directly when none runs)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from so1.bootstrap import Container
from so1.domain.alerts import ParsedDelivery
from so1.domain.intake import Delivery
from so1.services.intake import deliveries as intake


async def store(
    container: Container, delivery: Delivery, parsed: ParsedDelivery
) -> intake.IngestResult:
    """Returns once the delivery is committed (its new alerts wake triage on that commit).
    ValidationFailed (422, naming the field) for free-form JSON past the limits."""
    intake.check_storable(parsed)
    writer = container.intake.writer
    if writer is not None:
        return await writer.store(delivery, parsed)
    return await run_in_threadpool(intake.ingest, container.uow, container.clock, delivery, parsed)

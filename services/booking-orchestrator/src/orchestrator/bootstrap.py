"""The only place the Booking orchestrator's adapters are built and its handlers registered."""

from booking_shared.service import Runtime


async def wire(rt: Runtime) -> None:
    """Register message handlers on rt.router and keep adapters in rt.extras."""

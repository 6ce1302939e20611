"""Settings of the Booking orchestrator; nothing else reads the environment."""

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "booking-orchestrator"
    port: int = 8001
    db_schema: str = "orchestrator"

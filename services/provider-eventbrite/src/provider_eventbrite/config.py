"""Settings of the Eventbrite provider; nothing else reads the environment."""

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "provider-eventbrite"
    port: int = 8004
    db_schema: str = "eventbrite"

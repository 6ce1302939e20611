"""Settings of the OpenTable provider; nothing else reads the environment."""

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "provider-opentable"
    port: int = 8003
    db_schema: str = "opentable"

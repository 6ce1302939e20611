"""Settings of the Gateway; nothing else reads the environment."""

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    db_schema: str = "gateway"

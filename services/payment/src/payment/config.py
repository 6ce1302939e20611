"""Settings of the Payment service; nothing else reads the environment."""

from booking_shared.config import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "payment"
    port: int = 8002
    db_schema: str = "payment"

"""An Eventbrite-style partner sandbox: v3-shaped reads and a Viator-style partner-order contract."""

from .app import create_app
from .faults import Faults

__all__ = ["Faults", "create_app"]

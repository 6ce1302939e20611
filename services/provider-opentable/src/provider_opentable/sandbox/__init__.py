"""An OpenTable-style partner sandbox: slot lock -> make -> cancel, in memory, with fault knobs."""

from .app import create_app
from .faults import Faults
from .server import SandboxServer

__all__ = ["Faults", "SandboxServer", "create_app"]

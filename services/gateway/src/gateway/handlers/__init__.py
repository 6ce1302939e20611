"""The gateway's use cases: plain async verb_noun functions taking the request and the ports.

(A package rather than one handlers.py: one module per area keeps each file small.)"""

from gateway.handlers.deps import Deps

__all__ = ["Deps"]

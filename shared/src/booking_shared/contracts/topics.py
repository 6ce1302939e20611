"""Topic names: versioned, one constant each. A breaking change is a new version."""

BOOKING_EVENTS = "booking.events.v1"
PAYMENT_COMMANDS = "payment.commands.v1"
PAYMENT_REPLIES = "payment.replies.v1"
SAGA_STATE = "saga.state.v1"
PROVIDER_REGISTRY = "provider.registry.v1"


def provider_commands(provider: str) -> str:
    """The command topic of one provider service, e.g. provider.opentable.commands.v1."""
    return f"provider.{provider}.commands.v1"


def provider_replies(provider: str) -> str:
    return f"provider.{provider}.replies.v1"


def dlq(topic: str) -> str:
    """Where messages that could not be handled after retries go, with the error."""
    return f"{topic}.dlq"


KNOWN_PROVIDERS = ("opentable", "eventbrite")


def all_topics(providers: tuple[str, ...] = KNOWN_PROVIDERS) -> list[str]:
    """Every topic of the system, DLQs included (for creating them up front)."""
    base = [BOOKING_EVENTS, PAYMENT_COMMANDS, PAYMENT_REPLIES, SAGA_STATE, PROVIDER_REGISTRY]
    for p in providers:
        base += [provider_commands(p), provider_replies(p)]
    return base + [dlq(t) for t in base]

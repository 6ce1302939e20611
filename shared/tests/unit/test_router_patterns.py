"""The router resolves a topic to its handlers by exact name first, then by pattern."""

from booking_shared.config import ServiceSettings
from booking_shared.contracts import ItemHeld, SagaStateChanged
from booking_shared.messaging import MessageRouter


async def _noop(h) -> None:
    return None


def test_a_topic_matching_a_pattern_gets_the_patterns_handlers_and_others_are_refused():
    router = MessageRouter(settings=ServiceSettings(), pool=None, consumer="c")  # type: ignore[arg-type]
    router.on("saga.state.v1", SagaStateChanged, _noop)
    router.on_pattern(r"^provider\.[^.]+\.replies\.v1$", ItemHeld, _noop)

    assert router._resolve("saga.state.v1")
    assert "provider.tours.replies.v1" not in router.routes
    assert router._resolve("provider.tours.replies.v1")
    assert set(router.routes["provider.tours.replies.v1"]) == {"ItemHeld"}
    assert not router._resolve("provider.tours.replies.v1.dlq")
    assert not router._resolve("payment.replies.v1")


class _Broker:
    """Records the options of the one subscriber the router makes."""

    def __init__(self) -> None:
        self.options: dict = {}

    def subscriber(self, *topics, **options):
        self.options = options
        return lambda handler=None, **kw: handler or (lambda h: h)

    def publisher(self, *topics, **options):
        return None

    def add_middleware(self, middleware):
        return None


def test_the_consumer_joins_as_a_static_member_only_when_an_instance_id_is_set():
    for instance_id, expected in ((None, None), ("", None), ("payment-dev", "payment-dev")):
        settings = ServiceSettings(kafka_group_instance_id=instance_id)
        router = MessageRouter(settings=settings, pool=None, consumer="payment")  # type: ignore[arg-type]
        router.on("saga.state.v1", SagaStateChanged, _noop)
        broker = _Broker()
        router.attach(broker)  # type: ignore[arg-type]
        assert broker.options["group_id"] == "payment"
        assert broker.options.get("group_instance_id") == expected, instance_id

"""The saga as a pure function: (saga, input, now) -> (new saga, commands, events, deadlines).

`start` turns a BookingRequested into a new saga; `decide` applies a reply, a cancellation
request, a due deadline or an operator action. Neither touches I/O; neither mutates its input.
"""

from __future__ import annotations

from datetime import timedelta

from booking_shared.contracts import BookingRequested, SagaStateChanged
from booking_shared.contracts.topics import SAGA_STATE
from orchestrator.domain.definition import DEFINITION, DEFINITIONS
from orchestrator.domain.engine import Definition, Run, apply
from orchestrator.domain.model import (
    Context,
    Decision,
    Input,
    Item,
    ItemStatus,
    Payment,
    Saga,
    SagaState,
)
from orchestrator.domain.routing import route, routed


def start(request: BookingRequested, ctx: Context, definition: Definition = DEFINITION) -> Decision:
    """A new saga for a booking request: route the items, then hold them all in parallel."""
    now = ctx.now
    items = []
    for spec in request.items:
        item = Item(
            item_id=spec.id,
            provider="",
            booking_type=spec.booking_type,
            commands_topic="",
            hold_capable=False,
            hold_ttl_s=None,
            spec=spec,
            price=spec.line_total(),
        )
        info = route(ctx.directory, spec.booking_type)
        if info is not None:
            routed(item, info)
        items.append(item)
    saga = Saga(
        booking_id=request.booking_id,
        user_id=request.user_id,
        quote_id=request.quote_id,
        mode=request.mode,
        definition_version=definition.version,
        state=SagaState.REQUESTED,
        total=request.total,
        guest=request.guest,
        payment=Payment(
            customer_id=request.payment.customer_id,
            payment_method_id=request.payment.payment_method_id,
        ),
        items=items,
        requested_at=request.requested_at,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
    )
    run = Run(saga, ctx, definition)
    run.decision.transitions.append((None, SagaState.REQUESTED, "booking requested"))
    run.publish(
        SAGA_STATE,
        SagaStateChanged(
            booking_id=saga.booking_id,
            from_state=None,
            to_state=SagaState.REQUESTED.value,
            reason="booking requested",
            definition_version=definition.version,
        ),
    )
    ids = [it.item_id for it in items]
    if len(set(ids)) != len(ids):
        run.fail(None, "invalid_request", "two items share an id")
    for it in items:
        if it.price.currency != request.total.currency:
            run.fail(
                it,
                "currency_mismatch",
                f"{it.price.currency} item in a {request.total.currency} booking",
                ItemStatus.FAILED,
            )
    if saga.failure_reasons:
        run.settle_to(SagaState.FAILED, "invalid request")
    elif all(it.provider for it in items):
        run.start("items routed to their providers")
    else:
        saga.timers["route"] = now + timedelta(seconds=ctx.policy.route_wait_s)
        missing = sorted({it.booking_type for it in items if not it.provider})
        run.note(f"waiting for a provider of {', '.join(missing)}")
    return run.finish(None)


def decide(saga: Saga, event: Input, ctx: Context) -> Decision:
    """Apply one input. Raises NotAllowed for an operator action that makes no sense now."""
    definition = DEFINITIONS.get(saga.definition_version)
    if definition is None:
        raise ValueError(
            f"saga {saga.booking_id} uses unknown definition version {saga.definition_version}"
        )
    return apply(saga, event, ctx, definition)

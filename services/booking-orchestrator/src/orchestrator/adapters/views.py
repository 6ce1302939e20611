"""The internal API's JSON shapes, from domain objects and history rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from booking_shared.money import Money
from orchestrator.domain.model import Saga, SagaState


def money(m: Money | None) -> dict[str, Any] | None:
    return None if m is None else {"amount_minor": m.amount_minor, "currency": m.currency}


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def saga_view(saga: Saga, history: list[Any]) -> dict[str, Any]:
    p = saga.payment
    return {
        "booking_id": saga.booking_id,
        "user_id": saga.user_id,
        "state": saga.state.value,
        "mode": saga.mode,
        "definition_version": saga.definition_version,
        "paused": saga.paused,
        "attention": saga.attention,
        "attention_at": _iso(saga.attention_at),
        "total": money(saga.total),
        "items": [
            {
                "item_id": it.item_id,
                "provider": it.provider or None,
                "booking_type": it.booking_type,
                "status": it.status.value,
                "hold_id": it.hold_id,
                "hold_expires_at": _iso(it.hold_expires_at),
                "confirmation_code": it.confirmation_code,
                "price": money(it.price),
                "refund": money(it.refund),
                "fee": money(it.fee),
                "failure": it.failure.model_dump(mode="json") if it.failure else None,
            }
            for it in saga.items
        ],
        "payment": {
            "payment_intent_id": p.payment_intent_id,
            "authorized": money(p.authorized),
            "captured": money(p.captured),
            "refunded": money(p.refunded),
            "capture_before": _iso(p.capture_before),
            # The UI needs it to finish 3-D Secure; nobody needs it afterwards.
            "client_secret": p.client_secret if saga.state == SagaState.ACTION_REQUIRED else None,
        },
        "failure_reasons": [r.model_dump(mode="json") for r in saga.failure_reasons],
        "steps": [
            {
                "name": st.name,
                "status": st.status.value,
                "command_id": str(st.command_id),
                "attempts": st.attempts,
                "deadline_at": _iso(st.deadline_at),
            }
            for st in saga.steps.values()
        ],
        "history": [
            {
                "at": _iso(h["at"]),
                "direction": h["direction"],
                "topic": h["topic"],
                "type": h["type"],
                "message_id": str(h["message_id"]) if h["message_id"] else None,
                "summary": h["summary"],
            }
            for h in history
        ],
        "created_at": _iso(saga.created_at),
        "updated_at": _iso(saga.updated_at),
    }


def summary_view(row: Any) -> dict[str, Any]:
    """A row of SagaRepository.search or .stuck."""
    return {
        "booking_id": row["booking_id"],
        "user_id": row["user_id"],
        "state": row["state"],
        "mode": row["mode"],
        "paused": row["paused"],
        "definition_version": row["definition_version"],
        "total": {"amount_minor": row["total_minor"], "currency": row["currency"]},
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "state_changed_at": _iso(row["state_changed_at"]),
        "attention": row["attention"],
        "attention_at": _iso(row["attention_at"]),
        "providers": list(row["providers"] or []),
    }


STUCK_REASONS = {
    0: "compensation_failed",
    1: "flagged",
    2: "past_deadline",
    3: "compensating_too_long",
}


def stuck_view(row: Any, compensating_limit_s: float) -> dict[str, Any]:
    """A stuck saga's summary with why it is stuck, in words an operator acts on."""
    reason = STUCK_REASONS[row["rank"]]
    step = None
    if reason == "compensation_failed":
        detail = "compensation could not finish: something may still be held or charged"
    elif reason == "flagged":
        detail = f"flagged for operators: {row['attention']}"
    elif reason == "past_deadline":
        step = row["step_name"]
        detail = (
            f"{row['step_command']} ({step}) unanswered past its deadline"
            f" (sent {row['step_attempts']} times"
            + (
                f", next deadline {_iso(row['step_deadline_at'])})"
                if row["step_attempts"] > 1
                else f", deadline {_iso(row['step_deadline_at'])})"
            )
        )
    else:
        detail = f"compensating for longer than {compensating_limit_s:g} s"
    return {
        **summary_view(row),
        "reason": reason,
        "detail": detail,
        "since": _iso(row["since"]),
        "step": step,
        "deadline_at": _iso(row["step_deadline_at"]) if step else None,
        "attempts": row["step_attempts"] if step else None,
    }

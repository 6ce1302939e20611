"""Adapters: httpx clients of the payment, provider and orchestrator services; Postgres queries;
the LISTEN/NOTIFY fan-out that wakes SSE streams."""

-- The trace a saga belongs to (its BookingRequested's), so that a step resent after a deadline,
-- which fires from a timer with no message to continue from, stays in the booking's trace.
-- Written only while tracing is on (docs/TRACING.md).
-- depends: 0001_sagas

CREATE TABLE saga_traces (
    booking_id   text PRIMARY KEY,
    traceparent  text NOT NULL
);

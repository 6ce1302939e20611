"""The embedded dev/test stack: PostgreSQL, a Kafka-protocol broker, the Stripe emulator."""

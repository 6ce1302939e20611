"""Test support: real Postgres, a real Kafka-protocol broker and free ports for every suite."""

"""Adapters of the Eventbrite provider: the partner API client and its helpers."""

"""Fixtures for every test folder: the real services, from tests/services.py."""

from tests.services import kafka_broker, postgres_server, postgres_url, s3_server, s3_store

__all__ = ["kafka_broker", "postgres_server", "postgres_url", "s3_server", "s3_store"]

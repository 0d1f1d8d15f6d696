"""Kafka adapters (confluent-kafka): the outbox relay's publisher, the sweeper's job queue,
the worker's consumer loop and its dead-letter topic."""

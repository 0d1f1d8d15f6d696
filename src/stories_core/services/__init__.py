"""Use cases: plain functions and small classes over the ports."""

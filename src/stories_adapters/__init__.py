"""Adapters: everything in `stories` that talks to the outside world."""

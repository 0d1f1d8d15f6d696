"""Persistence on SQLAlchemy 2: PostgreSQL in production, SQLite embedded."""

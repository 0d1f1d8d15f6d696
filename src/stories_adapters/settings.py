"""Configuration from STORIES_* environment variables, with embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "stories"


class Settings(BaseSettings):
    """Every setting the adapters read. Unset, `stories` runs embedded in `home`."""

    model_config = SettingsConfigDict(env_prefix="STORIES_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite at `home/stories.db`."""
    blob_dir: Path | None = None
    """Local blob folder; unset means `home/blobs`."""

    max_input_chars: int = Field(50_000, ge=1)
    max_pictures: int = Field(20, ge=1)
    max_concurrent_segments: int = Field(5, ge=1, le=64)
    lease_seconds: float = Field(300.0, gt=0)
    default_backend: str = "local"
    tenant: str = "default"
    log_level: str = "WARNING"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stories.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"

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

    # The gRPC API (`stories serve`).
    grpc_host: str = "127.0.0.1"
    """Interface to listen on; use 0.0.0.0 or [::] in a container."""
    grpc_port: int = Field(50051, ge=0, le=65535)
    grpc_max_workers: int = Field(64, ge=2)
    """Threads serving calls; each open WatchJob or ReadAsset stream holds one."""
    grpc_max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    rate_limit_per_second: float = Field(20.0, ge=0)
    """Calls per second per API key (0 turns the limit off)."""
    rate_limit_burst: int = Field(40, ge=1)
    quota_chars_per_period: int = Field(2_000_000, ge=0)
    """Characters of text each API key may submit per quota period (0: unlimited)."""
    quota_period_seconds: int = Field(86_400, ge=1)
    watch_poll_seconds: float = Field(1.0, gt=0)
    """How often a watch re-reads a job it got no in-process news of."""
    embedded_workers: int = Field(2, ge=1)
    """Worker threads inside `stories serve` when running embedded."""
    dispatcher_poll_seconds: float = Field(0.1, gt=0)
    sweep_interval_seconds: float = Field(30.0, gt=0)

    # The client side of the CLI.
    server: str = "127.0.0.1:50051"
    api_key: str | None = None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stories.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.home / "blobs"

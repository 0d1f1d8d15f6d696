import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STORIES = Path(sys.executable).with_name("stories")


@pytest.fixture
def run_stories(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed `stories` console script in a fresh embedded home."""
    home = tmp_path / "home"

    def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None):
        environment = {
            **os.environ,
            "STORIES_HOME": str(home),
            "COLUMNS": "120",
            **(env or {}),
        }
        result = subprocess.run(
            [str(STORIES), *args],
            input=stdin,
            capture_output=True,
            cwd=tmp_path,
            env=environment,
            timeout=300,
        )
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(),
            result.stderr.decode(),
        )

    return run

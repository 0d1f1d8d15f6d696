"""The layering of DESIGN.md, enforced: the core imports no adapter, plugin or I/O library;
only the entry points know the container; no import circles anywhere."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    # In a subprocess: import-linter reconfigures logging, which would leak into other tests.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout
    for contract in (
        "The core depends on nothing outside it",
        "Plugins depend on the core only, never on adapters",
        "Only the entry points know the container",
        "No import circles, in any package at any depth",
    ):
        assert f"{contract} KEPT" in result.stdout, result.stdout

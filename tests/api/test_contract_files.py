"""The contract itself: buf lint passes, and the committed stubs are what protoc makes."""

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def test_buf_lint_passes() -> None:
    assert BUF.exists(), "run `npm ci` first: the buf CLI comes from @bufbuild/buf"
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_build_and_breaking_check_against_itself(tmp_path: Path) -> None:
    image = tmp_path / "image.binpb"
    subprocess.run([str(BUF), "build", "-o", str(image)], cwd=ROOT, check=True)
    result = subprocess.run(
        [str(BUF), "breaking", "--against", str(image)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_protos.py"), str(tmp_path)], check=True
    )
    fresh, committed = tmp_path / "stories" / "v1", ROOT / "src" / "stories" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.suffix in (".py", ".pyi"))
    assert names == sorted(p.name for p in committed.iterdir() if p.suffix in (".py", ".pyi"))
    matching, _, _ = filecmp.cmpfiles(fresh, committed, names, shallow=False)
    assert matching == names, "stale stubs: regenerate with scripts/generate_protos.py"

"""The contract itself: buf lint passes, and the committed stubs are what protoc makes."""

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def test_buf_lint_passes() -> None:
    assert BUF.exists(), "run `npm ci` first: the buf CLI comes from @bufbuild/buf"
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


RELEASED = ROOT / "contract" / "released.binpb"


def test_the_contract_does_not_break_the_released_one() -> None:
    """Against the image of the last released stories.v1 (see contract/README.md): a
    deliberate break means a new image, named in the change."""
    result = subprocess.run(
        [str(BUF), "breaking", "--against", str(RELEASED)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_breaking_check_catches_a_break(tmp_path: Path) -> None:
    broken = tmp_path / "repo"
    shutil.copytree(ROOT / "proto", broken / "proto")
    shutil.copy(ROOT / "buf.yaml", broken / "buf.yaml")
    common = broken / "proto" / "stories" / "v1" / "common.proto"
    common.write_text(
        common.read_text().replace("string download_uri = 9;", "string download_uri = 19;")
    )
    result = subprocess.run(
        [str(BUF), "breaking", "--against", str(RELEASED)],
        cwd=broken,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "download_uri" in result.stdout + result.stderr


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_protos.py"), str(tmp_path)], check=True
    )
    fresh, committed = tmp_path / "stories" / "v1", ROOT / "src" / "stories" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.suffix in (".py", ".pyi"))
    assert names == sorted(p.name for p in committed.iterdir() if p.suffix in (".py", ".pyi"))
    matching, _, _ = filecmp.cmpfiles(fresh, committed, names, shallow=False)
    assert matching == names, "stale stubs: regenerate with scripts/generate_protos.py"

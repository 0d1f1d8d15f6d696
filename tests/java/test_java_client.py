"""Another language can read the errors' details: the Java example client, built with Maven
from the published protos, decodes every detail of the errors it provokes, against the real
server.

This machine reaches no Maven Central: the build resolves everything from Debian's
packages (examples/clients/java/debian-settings.xml names them), into a local repository
of its own, so it works the same on a new machine."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import start_api
from tests.decoded_errors import assert_every_detail_decoded

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "clients" / "java"
DEBIAN_REPOSITORY = Path("/usr/share/maven-repo")


@pytest.mark.slow  # a Maven build of ~50,000 lines of generated code: 15 to 25 s
def test_a_java_client_decodes_every_errors_details_from_the_published_protos(
    tmp_path: Path,
) -> None:
    for tool in ("mvn", "java", "protoc", "grpc_java_plugin"):
        assert shutil.which(tool), f"{tool} is required for this test"
    packages = "the apt-get line in examples/clients/java/debian-settings.xml"
    assert (DEBIAN_REPOSITORY / "io" / "grpc" / "grpc-netty").exists(), f"run {packages}"
    project = tmp_path / "java"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    maven = [
        "mvn", "-q", "-B", "-s", str(project / "debian-settings.xml"),
        f"-Dmaven.repo.local={tmp_path / 'm2'}", f"-Dproto.dir={ROOT / 'proto'}",
    ]  # fmt: skip
    # C1 only: a short build's javac runs a third faster.
    environment = {**os.environ, "MAVEN_OPTS": "-XX:TieredStopAtLevel=1"}
    build = subprocess.run(
        [*maven, "package"], capture_output=True, text=True, timeout=600, cwd=project,
        env=environment,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    assert (project / "target" / "stories-errors-1.0.jar").exists()
    with start_api(tmp_path / "home", with_worker=False) as api:
        result = subprocess.run(
            [*maven, "-o", "exec:java", f"-Dserver={api.target}", f"-Dkey={api.acme}"],
            capture_output=True, text=True, timeout=120, cwd=project, env=environment,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Maven 3.8 writes a stray colour reset even with -B -q.
    lines = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines()
    statuses = {s["call"]: s for s in map(json.loads, filter(None, lines))}
    assert list(statuses) == ["create", "missing", "view"]
    assert_every_detail_decoded(statuses)

"""The `stories` command line."""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from stories_adapters.containers import Application, build_application
from stories_adapters.export import write_story
from stories_adapters.settings import Settings
from stories_core.errors import InvalidInput, StoriesError
from stories_core.events import EventKind, JobEvent
from stories_core.model import AudioType, JobState
from stories_core.services.submit import JobRequest, validate

app = typer.Typer(
    help="Turn text into a narrated, illustrated story.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
stderr = Console(stderr=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class AudioChoice(StrEnum):
    free_speech = AudioType.FREE_SPEECH.value
    podcast = AudioType.PODCAST.value
    verbatim = AudioType.VERBATIM.value
    none = AudioType.NONE.value


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = "STORIES_" + str(first["loc"][0]).upper()
        _fail(f"{field}: {first['msg']}")


def _application() -> Application:
    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format='{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s",'
        '"message":"%(message)s"}',
    )
    return build_application(settings)


def read_input(source: str) -> str:
    """The text of a file, or of stdin for `-`; undecodable bytes are bad input."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        _fail(f"INPUT: cannot read {source!r}: {error.strerror}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        _fail(
            f"INPUT: {source!r} is not UTF-8 text "
            f"(byte 0x{raw[error.start]:02x} at offset {error.start})"
        )
    if "\x00" in text:
        _fail(f"INPUT: {source!r} is binary, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


@app.command()
def make(
    input: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    type: Annotated[str, typer.Option("--type", "-t", help="Content style, e.g. educational.")],
    pictures: Annotated[int, typer.Option("--pictures", "-n", help="How many pictures.")],
    audio: Annotated[
        str, typer.Option(help="free_speech, podcast, verbatim or none.")
    ] = AudioType.FREE_SPEECH.value,
    backend: Annotated[str | None, typer.Option(help="Generator backend (default local).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default ./story-<id>).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON.")] = False,
) -> None:
    """Make a story from text, here and now, and write it to a folder."""
    text = read_input(input)
    application = _application()
    settings = _settings()
    request = JobRequest(
        text=text,
        content_type=type,
        pictures=pictures,
        audio_type=audio,
        backend=backend or settings.default_backend,
        tenant=settings.tenant,
    )
    try:
        validate(request, application.generation.catalog(), application.use_cases.limits())
    except InvalidInput as error:
        _fail(error.message)
    if out is not None and out.exists() and any(out.iterdir()):
        _fail(f"--out: {str(out)!r} exists and is not empty")

    job = application.use_cases.submit_job()(request)
    with _progress_bar(application, job.id):
        application.use_cases.process_job()(job.id)
    job = application.use_cases.queries().get(job.id)
    if job.state is not JobState.SUCCEEDED:
        _fail(f"job {job.id} {job.state.value}: {job.error_code}: {job.error_message}", EXIT_FAILED)

    blobs = application.storage.blobs()
    out_dir = out or Path(f"story-{job.id[:8]}")
    files = write_story(job, lambda asset: blobs.open(asset.key), out_dir)
    if as_json:
        document = json.loads(files.json.read_text(encoding="utf-8"))
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        stderr.print(f"[green]done:[/] {len(job.segments)} segments → {files.html}")


class _progress_bar:
    """A progress bar fed by the job's own events."""

    def __init__(self, application: Application, job_id: str) -> None:
        self._bus = application.core.events()
        self._job_id = job_id
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=stderr,
        )
        self._task = self._progress.add_task("segmenting", total=None)

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id != self._job_id:
            return
        if event.segment_count:
            done = round(event.progress * event.segment_count)
            self._progress.update(
                self._task,
                total=event.segment_count,
                completed=done,
                description=f"segment {done}/{event.segment_count}",
            )
        if event.kind is EventKind.JOB_SUCCEEDED:
            self._progress.update(self._task, description="done")

    def __enter__(self) -> None:
        self._unsubscribe = self._bus.subscribe(self._on_event)
        self._progress.start()

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()
        self._unsubscribe()


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the installed plugins, what each registers, and their versions."""
    registry = _application().generation.registry()
    rows = [
        {
            "name": info.name,
            "version": info.version,
            "content_styles": info.content_styles,
            "backends": info.backends,
        }
        for info in registry.plugins
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("plugin", "version", "content styles", "backends")
    for row in rows:
        table.add_row(
            row["name"],
            row["version"] or "-",
            ", ".join(row["content_styles"]) or "-",
            ", ".join(row["backends"]) or "-",
        )
    Console().print(table)


def main() -> None:
    try:
        app()
    except StoriesError as error:
        stderr.print(f"[bold red]error:[/] {error.code}: {error.message}", highlight=False)
        sys.exit(EXIT_FAILED)

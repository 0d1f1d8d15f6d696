"""The `stories` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import grpc
import typer
from google.protobuf import json_format
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from stories.v1 import common_pb2, stories_pb2
from stories_adapters import entrypoints
from stories_adapters.client import StoriesClient
from stories_adapters.export import job_to_dict, write_story
from stories_adapters.grpc.mapping import AUDIO_TYPES, EVENT_KIND_FROM_PROTO, job_from_proto
from stories_adapters.settings import Settings, problems
from stories_core.errors import BackendMisconfigured, InvalidInput, StoriesError
from stories_core.events import EventKind, JobEvent
from stories_core.model import AudioType, JobState
from stories_core.services.submit import JobRequest
from stories_core.video import VideoOptions

app = typer.Typer(
    help="Turn text into a narrated, illustrated story.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
stderr = Console(stderr=True, soft_wrap=True)

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
        _fail(problems(error)[0])


def read_input(source: str) -> str:
    """The text of a file, or of stdin for `-`, as it is: the core cleans every text the
    same way, however it came in. Undecodable bytes are bad input."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        _fail(f"INPUT: cannot read {source!r}: {error.strerror}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(
            f"INPUT: {source!r} is not UTF-8 text "
            f"(byte 0x{raw[error.start]:02x} at offset {error.start})"
        )
    if "\x00" in text:
        _fail(f"INPUT: {source!r} is binary, not text")
    return text


LanguageOption = Annotated[
    str | None,
    typer.Option(help="The text's language, a BCP-47 tag (en, de, zh-Hant); default: detected."),
]


VideoFlag = Annotated[
    bool, typer.Option("--video", help="Also render story.mp4 (H.264, AAC, chapters).")
]
AspectOption = Annotated[
    str | None,
    typer.Option(help="The video's shape: 16:9 (1280x720, the default), 9:16 (1080x1920), 1:1."),
]
CaptionsOption = Annotated[
    str | None,
    typer.Option(help="The video's captions: soft (a subtitle track, the default) or burned."),
]
FpsOption = Annotated[int | None, typer.Option(help="The video's frames per second (25).")]


def _video_options(
    video: bool, aspect: str | None, fps: int | None, captions: str | None
) -> VideoOptions | None:
    """The video's options, checked before anything is done (exit 2 naming each bad one,
    and a video option given without --video)."""
    given = {"--aspect": aspect, "--fps": fps, "--captions": captions}
    if not video:
        stray = [name for name, value in given.items() if value is not None]
        if stray:
            _fail(f"{', '.join(stray)}: only with --video")
        return None
    try:
        return VideoOptions.parse(aspect or "16:9", fps or 25, captions or "soft")
    except InvalidInput as error:
        _fail(error.message.replace("video.", "--"))


@app.command()
def make(
    input: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    type: Annotated[str, typer.Option("--type", "-t", help="Content style, e.g. educational.")],
    pictures: Annotated[int, typer.Option("--pictures", "-n", help="How many pictures.")],
    audio: Annotated[
        str, typer.Option(help="free_speech, podcast, verbatim or none.")
    ] = AudioType.FREE_SPEECH.value,
    backend: Annotated[str | None, typer.Option(help="Generator backend (default local).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default ./story-<first 8 characters of the job id>)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job as JSON.")] = False,
    language: LanguageOption = None,
    video: VideoFlag = False,
    aspect: AspectOption = None,
    captions: CaptionsOption = None,
    fps: FpsOption = None,
) -> None:
    """Make a story from text, here and now, and write it to a folder."""
    video_options = _video_options(video, aspect, fps, captions)
    text = read_input(input)
    settings = _settings()
    maker = entrypoints.StoryMaker(settings)
    request = JobRequest(
        text=text,
        content_type=type,
        pictures=pictures,
        audio_type=audio,
        backend=backend or settings.jobs.default_backend,
        tenant=settings.cli.tenant,
        language=language or None,  # empty, as over gRPC: detect it
    )
    try:
        maker.check(request)
    except InvalidInput as error:
        _fail(error.message)
    with _out_folder(out):
        progress = _ProgressBar()
        with progress:
            job = maker.make(request, progress.on_event)
        if job.state is not JobState.SUCCEEDED:
            message = f"job {job.id} {job.state.value}: {job.error_code}: {job.error_message}"
            _fail(message, EXIT_FAILED)
        with _rendering(video_options is not None) as on_progress:
            files = maker.write(job, out or Path(f"story-{job.id[:8]}"), video_options, on_progress)
    if as_json:
        document = json.loads(files.json.read_text(encoding="utf-8"))
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        count = len(job.segments)
        parts = f"{count} segment{'s' if count != 1 else ''}"
        video = f" and {files.video}" if files.video else ""
        stderr.print(f"[green]done:[/] {parts} → {files.html}{video}")


@contextmanager
def _out_folder(out: Path | None) -> Iterator[None]:
    """Check --out before any work (an empty folder, or one we can create), so bad input
    exits 2 at once rather than after the job ran; a folder made here and left empty by
    a failure is removed again."""
    created = False
    if out is not None and out.exists():
        if not out.is_dir():
            _fail(f"--out: {str(out)!r} is a file, not a folder")
        if any(out.iterdir()):
            _fail(f"--out: {str(out)!r} exists and is not empty")
    elif out is not None:
        try:
            out.mkdir(parents=True)
        except OSError as error:
            _fail(f"--out: cannot create {str(out)!r}: {error.strerror}")
        created = True
    try:
        yield
    except BaseException:
        if created and out is not None and not any(out.iterdir()):
            out.rmdir()
        raise


class _ProgressBar:
    """A progress bar fed by the job's own events."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=stderr,
        )
        self._task = self._progress.add_task("segmenting", total=None)

    def on_event(self, event: JobEvent) -> None:
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
        self._progress.start()

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()


@contextmanager
def _rendering(shown: bool) -> Iterator[Callable[[float], None] | None]:
    """A progress bar for the video, when there is one to render."""
    if not shown:
        yield None
        return
    with Progress(
        TextColumn("rendering video"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=stderr,
    ) as bar:  # fmt: skip
        task = bar.add_task("video", total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the installed plugins, what each registers, and their versions."""
    rows = [
        {
            "name": info.name,
            "version": info.version,
            "content_styles": info.content_styles,
            "backends": info.backends,
        }
        for info in entrypoints.plugins(_settings())
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


keys_app = typer.Typer(help="Manage API keys (stored as hashes only).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(tenant: Annotated[str, typer.Option(help="The tenant the key acts for.")]) -> None:
    """Create an API key; it is printed once and never stored."""
    try:
        key, secret = entrypoints.create_key(_settings(), tenant)
    except InvalidInput as error:
        _fail(error.message)
    stderr.print(f"key {key.id} for tenant {tenant!r} (shown once; store it safely):")
    sys.stdout.write(secret + "\n")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, or the key itself.")],
) -> None:
    """Revoke an API key at once."""
    revoked = entrypoints.revoke_key(_settings(), key_id)
    stderr.print(f"key {revoked.id} revoked")


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default 50051).")] = None,
) -> None:
    """Serve the gRPC API. Embedded (no servers configured), the worker runs inside too."""
    settings = _settings()
    if port is not None:
        grpc = settings.grpc.model_copy(update={"port": port})
        settings = settings.model_copy(update={"grpc": grpc})
    try:
        entrypoints.serve(
            settings,
            lambda bound, with_worker: stderr.print(
                f"stories API listening on {settings.grpc.host}:{bound}"
                + (" (embedded: worker inside)" if with_worker else ""),
                highlight=False,
            ),
        )
    except BackendMisconfigured as error:
        _fail(error.message)


ServerOption = Annotated[
    str | None, typer.Option("--server", help="HOST:PORT (default $STORIES_SERVER).")
]
KeyOption = Annotated[str | None, typer.Option("--key", help="API key (default $STORIES_API_KEY).")]


def _client(server: str | None, key: str | None) -> StoriesClient:
    settings = _settings()
    api_key = key or settings.cli.api_key
    if not api_key:
        _fail("--key: an API key is required (or set STORIES_API_KEY)")
    return StoriesClient(server or settings.cli.server, api_key)


def _rpc_failed(error: grpc.RpcError) -> NoReturn:
    bad_input = error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE)
    _fail(f"{error.code().name}: {error.details()}", EXIT_BAD_INPUT if bad_input else EXIT_FAILED)


@app.command()
def submit(
    input: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    type: Annotated[str, typer.Option("--type", "-t", help="Content style.")],
    pictures: Annotated[int, typer.Option("--pictures", "-n", help="How many pictures.")],
    audio: Annotated[AudioChoice, typer.Option(help="Audio type.")] = AudioChoice.free_speech,
    backend: Annotated[str, typer.Option(help="Generator backend (server default).")] = "",
    webhook_url: Annotated[str, typer.Option(help="URL to POST the final event to.")] = "",
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
    wait: Annotated[bool, typer.Option(help="Wait for the job, with a progress bar.")] = False,
    language: LanguageOption = None,
    server: ServerOption = None,
    key: KeyOption = None,
) -> None:
    """Submit a job to a `stories serve` server; prints the job id."""
    text = read_input(input)
    request = stories_pb2.CreateJobRequest(
        text=text,
        content_type=type,
        pictures=pictures,
        audio_type=AUDIO_TYPES[AudioType(audio.value)],
        backend=backend,
        webhook_url=webhook_url,
        request_id=request_id,
        language=language or "",
    )
    with _client(server, key) as client:
        try:
            job = client.create_job(request)
            sys.stdout.write(job.id + "\n")
            if wait:
                _watch_with_progress(client, job.id)
        except grpc.RpcError as error:
            _rpc_failed(error)


def _watch_with_progress(client: StoriesClient, job_id: str) -> None:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=stderr,
    )
    task = progress.add_task("queued", total=None)
    final = None
    with progress:
        for response in client.watch_job(job_id):
            event = response.event
            kind = EVENT_KIND_FROM_PROTO[event.kind]
            if event.segment_count:
                done = round(event.progress * event.segment_count)
                progress.update(task, total=event.segment_count, completed=done)
            progress.update(task, description=kind.value)
            final = event
    if final is None or final.state != common_pb2.JOB_STATE_SUCCEEDED:
        reason = f"{final.error.code}: {final.error.message}" if final and final.error.code else ""
        _fail(f"job {job_id} did not succeed {reason}".strip(), EXIT_FAILED)


@app.command()
def watch(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    server: ServerOption = None,
    key: KeyOption = None,
) -> None:
    """Print a job's events as JSON lines until it ends."""
    with _client(server, key) as client:
        try:
            for response in client.watch_job(job_id):
                document = json_format.MessageToDict(response.event)
                sys.stdout.write(json.dumps(document) + "\n")
                sys.stdout.flush()
        except grpc.RpcError as error:
            _rpc_failed(error)


@app.command()
def get(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole job as JSON.")] = False,
    server: ServerOption = None,
    key: KeyOption = None,
) -> None:
    """Show a job."""
    with _client(server, key) as client:
        try:
            job = job_from_proto(client.get_job(job_id))
        except grpc.RpcError as error:
            _rpc_failed(error)
    if as_json:
        sys.stdout.write(json.dumps(job_to_dict(job), indent=2, ensure_ascii=False) + "\n")
        return
    summary = (
        f"{job.id}  {job.state.value}  {job.content_type}  {len(job.segments)} segments"
        f"  {job.progress:.0%}"
        + (f"  {job.error_code}: {job.error_message}" if job.error_code else "")
    )
    sys.stdout.write(summary + "\n")  # the command's answer, as --json's is


@app.command()
def fetch(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    server: ServerOption = None,
    key: KeyOption = None,
    video: VideoFlag = False,
    aspect: AspectOption = None,
    captions: CaptionsOption = None,
    fps: FpsOption = None,
) -> None:
    """Download a finished job's assets and write the same files as `stories make` (with
    `--video`, story.mp4 is rendered here from them)."""
    video_options = _video_options(video, aspect, fps, captions)
    rendering = video_options and (video_options, entrypoints.caption_painter())
    with _out_folder(out), _client(server, key) as client:
        try:
            job = job_from_proto(client.get_job(job_id))
            if job.state is not JobState.SUCCEEDED:
                _fail(f"job {job_id} is {job.state.value}, not succeeded", EXIT_FAILED)
            with _rendering(rendering is not None) as on_progress:
                files = write_story(job, client.read_asset, out, rendering, on_progress)
        except grpc.RpcError as error:
            _rpc_failed(error)
    stderr.print(f"[green]done:[/] {len(files.assets)} assets → {files.html}")


def _production_settings(command: str) -> Settings:
    """The settings of a process that only makes sense at scale, with Kafka."""
    settings = _settings()
    if settings.kafka.brokers is None:
        _fail(f"STORIES_KAFKA_BROKERS: must be set for `stories {command}`")
    if command == "dispatcher" and settings.webhook.secret is None:
        _fail("STORIES_WEBHOOK_SECRET: must be set for `stories dispatcher` (it signs webhooks)")
    return settings


@app.command()
def worker() -> None:
    """Run jobs from Kafka until SIGTERM or Ctrl-C (then finish or release them)."""
    try:
        entrypoints.worker(_production_settings("worker"))
    except BackendMisconfigured as error:
        _fail(error.message)


@app.command()
def dispatcher() -> None:
    """Relay the outbox to Kafka, deliver webhooks and sweep for stalled jobs, until stopped."""
    entrypoints.dispatcher(_production_settings("dispatcher"))


@app.command()
def migrate() -> None:
    """Bring the database at STORIES_DATABASE_URL up to the latest schema."""
    from stories_adapters.sql.engine import make_engine
    from stories_adapters.sql.engine import migrate as migrate_to_head

    settings = _settings()
    entrypoints.configure_logging(settings)
    # A migration may rewrite a large table or wait for a lock: no statement timeout.
    engine = make_engine(
        settings.data.resolved_database_url, pool_size=1, statement_timeout_seconds=None
    )
    try:
        migrate_to_head(engine)
    finally:
        engine.dispose()
    stderr.print("[green]done:[/] the database schema is up to date")


def main() -> None:
    try:
        app()
    except StoriesError as error:
        stderr.print(f"[bold red]error:[/] {error.code}: {error.message}", highlight=False)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()

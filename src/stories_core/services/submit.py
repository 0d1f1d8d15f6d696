"""Submit a job: clean and validate the request, record the job and its doorbell in one
transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from stories_core.errors import (
    AlreadyExists,
    ConflictingRequest,
    InvalidInput,
    NotEnabled,
    StoriesError,
    shown,
)
from stories_core.model import AudioType, Job, new_id
from stories_core.ports import (
    Catalog,
    Clock,
    LanguageDetector,
    NoTelemetry,
    Telemetry,
    UnitOfWorkFactory,
    WebhookDestinations,
    speaks,
)
from stories_core.services.access import QuotaPolicy, charge_quota
from stories_core.telemetry import current_trace_id, current_traceparent
from stories_core.text import clean, language_tag, story_title


@dataclass(frozen=True)
class Limits:
    max_input_chars: int = 50_000
    max_pictures: int = 20
    webhooks_enabled: bool = True
    """False where nothing could sign and deliver webhooks: a webhook_url is refused."""
    max_webhook_url_chars: int = 2048


@dataclass(frozen=True)
class JobRequest:
    text: str
    content_type: str
    pictures: int
    audio_type: str = AudioType.FREE_SPEECH.value
    backend: str = "local"
    tenant: str = "default"
    request_id: str | None = None
    webhook_url: str | None = None
    language: str | None = None
    """A BCP-47 tag; None to detect the language from the text."""

    def fingerprint(self) -> str:
        """Identifies the request's content, so a reused request_id can be checked. (A
        request without a language hashes as it did before languages existed.)"""
        fields = [
            self.text,
            self.content_type,
            self.pictures,
            self.audio_type,
            self.backend,
            self.tenant,
            self.webhook_url,
        ]
        if self.language is not None:
            fields.append(self.language)
        canonical = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CheckedRequest:
    """A valid request as it will be recorded: the cleaned text, its language and title."""

    request: JobRequest
    text: str
    audio_type: AudioType
    language: str
    title: str


def validate(
    request: JobRequest,
    catalog: Catalog,
    limits: Limits,
    detector: LanguageDetector,
    destinations: WebhookDestinations | None = None,
) -> CheckedRequest:
    """Clean the text (`stories_core.text.clean`, the one clean-up of every way in), then
    check every field: InvalidInput naming each wrong one (a check that needs another
    field, such as a voice for the language, runs once that field is right). The language
    is the request's, else detected from the text; audio is refused for a language the
    backend has no voice for."""
    request = replace(request, text=clean(request.text))
    wrong: list[tuple[str, str]] = []
    if not request.text.strip():
        wrong.append(("text", "is empty"))
    elif "\x00" in request.text:
        wrong.append(("text", "contains NUL characters; send plain text"))
    elif len(request.text) > limits.max_input_chars:
        wrong.append(
            (
                "text",
                f"has {len(request.text):,} characters; the limit is {limits.max_input_chars:,}",
            )
        )
    if not 1 <= request.pictures <= limits.max_pictures:
        wrong.append(
            ("pictures", f"must be between 1 and {limits.max_pictures}, got {request.pictures}")
        )
    if request.content_type not in catalog.style_names():
        wrong.append(("content_type", _unknown(request.content_type, catalog.style_names())))
    audio_type = None
    try:
        audio_type = AudioType(request.audio_type)
    except ValueError:
        wrong.append(("audio_type", _unknown(request.audio_type, [a.value for a in AudioType])))
    backend_ready = False
    if request.backend not in catalog.backend_names():
        wrong.append(("backend", _unknown(request.backend, catalog.backend_names())))
    else:
        try:
            catalog.backend(request.backend)  # built once; a misconfigured one fails here
            backend_ready = True
        except StoriesError as error:
            wrong.append(("backend", f"{shown(request.backend)} is not available: {error.message}"))
    webhooks_off = False
    if request.webhook_url is not None:
        url = request.webhook_url
        try:
            parts = urlsplit(url)
            absolute = (
                parts.scheme in ("http", "https")
                and bool(parts.hostname)
                and (parts.port is None or parts.port > 0)  # .port raises when out of range
            )
        except ValueError:
            absolute = False
        if len(url) > limits.max_webhook_url_chars:
            limit = limits.max_webhook_url_chars
            wrong.append(("webhook_url", f"has {len(url):,} characters; the limit is {limit:,}"))
        elif not absolute:
            wrong.append(("webhook_url", "must be an absolute http or https URL"))
        elif not limits.webhooks_enabled:
            webhooks_off = True
        elif destinations is not None and (refusal := destinations.refusal(url)) is not None:
            wrong.append(("webhook_url", refusal))
    if request.request_id is not None and not 1 <= len(request.request_id) <= 128:
        wrong.append(("request_id", "must be 1 to 128 characters"))
    language = None
    if request.language is not None:
        try:
            language = language_tag(request.language)
            request = replace(request, language=language)  # "EN" and "en" are one request
        except ValueError as error:
            wrong.append(("language", f"{error}; e.g. en, de, zh-Hant, pt-BR"))
    elif request.text.strip():
        language = detector.detect(request.text)
    if (
        audio_type not in (None, AudioType.NONE)
        and backend_ready
        and language is not None
        and not speaks(catalog.backend(request.backend), language)
    ):
        wrong.append(
            (
                "audio_type",
                f"the {request.backend!r} backend has no voice for the language {language!r}; "
                "ask for audio_type none, or another backend",
            )
        )
    if wrong:
        raise InvalidInput.of(wrong)
    if webhooks_off:
        raise NotEnabled(
            "webhook_url",
            "webhooks are not enabled on this server (it has no signing secret, "
            "STORIES_WEBHOOK_SECRET); watch the job instead",
        )
    assert audio_type is not None and language is not None  # no violation above
    return CheckedRequest(request, request.text, audio_type, language, story_title(request.text))


def _unknown(value: str, known: list[str]) -> str:
    return f"unknown value {shown(value)}; expected one of: {', '.join(known)}"


class SubmitJob:
    """Record a valid job once (idempotent on request_id), with its outbox messages."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        catalog: Catalog,
        clock: Clock,
        limits: Limits,
        detector: LanguageDetector,
        quota: QuotaPolicy | None = None,
        telemetry: Telemetry | None = None,
        webhook_destinations: WebhookDestinations | None = None,
    ) -> None:
        """`webhook_destinations` refuses a webhook URL whose host webhooks may not call."""
        self._destinations = webhook_destinations
        self._detector = detector
        self._telemetry = telemetry or NoTelemetry()
        self._uow_factory = uow_factory
        self._catalog = catalog
        self._clock = clock
        self._limits = limits
        self._quota = quota or QuotaPolicy(chars_per_period=0)

    def check(self, request: JobRequest) -> CheckedRequest:
        """The request as it would be recorded; InvalidInput naming the first wrong field.
        Nothing is recorded (for a caller that checks before other work)."""
        return validate(request, self._catalog, self._limits, self._detector, self._destinations)

    def __call__(
        self, request: JobRequest, *, trace_id: str | None = None, api_key_id: str | None = None
    ) -> Job:
        """Validate, charge the key's quota and record the job, all or nothing. The job's
        trace id is `trace_id` when given (a caller's `x-trace-id`), else the current
        trace's, else a new one (32 hex digits either way)."""
        try:
            return self._submit(request, trace_id, api_key_id)
        except AlreadyExists:
            # A concurrent call with the same request_id won: answer as if we came second.
            return self._submit(request, trace_id, api_key_id)

    def _submit(self, request: JobRequest, trace_id: str | None, api_key_id: str | None) -> Job:
        checked = self.check(request)
        request = checked.request
        fingerprint = request.fingerprint()
        now = self._clock.now()
        with self._uow_factory() as uow:
            if request.request_id is not None:
                existing = uow.jobs.find_by_request_id(request.tenant, request.request_id)
                if existing is not None:
                    if existing.request_fingerprint != fingerprint:
                        raise ConflictingRequest(
                            "request_id",
                            f"{request.request_id!r} was already used for a different request",
                        )
                    return existing
            job = Job.create(
                now=now,
                id=new_id(),
                tenant=request.tenant,
                text=request.text,
                content_type=request.content_type,
                pictures=request.pictures,
                audio_type=checked.audio_type,
                backend=request.backend,
                trace_id=trace_id or current_trace_id() or new_id().replace("-", ""),
                trace_parent=current_traceparent(),
                request_id=request.request_id,
                request_fingerprint=fingerprint,
                webhook_url=request.webhook_url,
                language=checked.language,
                title=checked.title,
            )
            if api_key_id is not None:
                charge_quota(uow, self._quota, api_key_id, len(request.text), now)
            uow.jobs.add(job)
            uow.commit()
        self._telemetry.job_created(job.content_type, job.backend)
        return job

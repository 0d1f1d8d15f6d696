"""The openai SDK's clients, one per server, with every call behind the retry policy, and the
check that a server offers the model it is asked for."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import openai

from stories_core.errors import BackendMisconfigured
from stories_core.plugins.retry import RetryPolicy, TransientFailure
from stories_openai.retry import Call, Rejected, translate
from stories_openai.settings import Endpoint, OpenAISettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A server that answers these to GET /models has no model list: it cannot be asked.
NO_MODEL_LIST = frozenset({404, 405, 501})
MODELS_NAMED = 12


class Server:
    """One OpenAI-compatible server (a base URL and a key). Its SDK client is built on first
    use; the models it offers are listed once and remembered. Safe to share between threads."""

    def __init__(self, endpoint: Endpoint, settings: OpenAISettings, policy: RetryPolicy) -> None:
        self.base_url = endpoint.base_url
        self.server = endpoint.server
        self._secret = endpoint.secret
        self._has_key = endpoint.api_key is not None
        self._timeout = settings.timeout_seconds
        self._policy = policy
        self._sdk: openai.OpenAI | None = None
        self._offered: frozenset[str] | None = None
        self._unlisted = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Server({self.server!r})"

    @property
    def sdk(self) -> openai.OpenAI:
        with self._lock:
            if self._sdk is None:
                sdk = openai.OpenAI(
                    api_key=self._secret,
                    base_url=self.base_url,
                    timeout=self._timeout,
                    max_retries=0,  # one attempt per call: RetryPolicy is the only retry layer
                )
                # Only STORIES_OPENAI_* configures the backend: the SDK's ambient
                # OPENAI_ORG_ID / OPENAI_PROJECT_ID must not reach another provider's server.
                sdk.organization = None
                sdk.project = None
                self._sdk = sdk
            return self._sdk

    def redact(self, text: str) -> str:
        """`text` with the key blanked out, for anything built from upstream messages."""
        return text.replace(self._secret, "[redacted]") if self._has_key else text

    def call(
        self,
        endpoint: Endpoint,
        what: str,
        request: Callable[[openai.OpenAI], T],
        expect: type | None = None,
    ) -> T:
        """`request(sdk)` under the retry policy; failures leave as stories_core errors. With
        `expect`, an answer of another type (the SDK hands back the text of a body that is
        not JSON: a proxy's page, a cut-off reply) counts as a transient failure."""

        def attempt() -> T:
            answer = request(self.sdk)
            if expect is not None and not isinstance(answer, expect):
                raise TransientFailure(
                    f"the answer to the {what} call from {self.server} was not an API response"
                )
            return answer

        return self.retrying(endpoint, what, attempt)

    def retrying(self, endpoint: Endpoint, what: str, attempt: Callable[[], T]) -> T:
        """`attempt()` under the retry policy, for work beside the SDK (an image download)."""
        context = Call(
            what,
            self.server,
            endpoint.key_variables,
            self.redact,
            model=endpoint.model,
            model_variable=endpoint.model_variable,
        )
        return self._policy.run(
            attempt,
            lambda exc: translate(exc, context),
            describe=f"the {what} call to {self.server}",
        )

    def check_model(self, endpoint: Endpoint) -> None:
        """Fail with BackendMisconfigured, naming the model and the server, if the server's
        model list lacks `endpoint.model`. The list is fetched once and kept; a model missing
        from it is looked up again next time (it may have been pulled since). A server that
        lists no models is taken at its word when it is called."""
        with self._lock:
            if self._unlisted or (self._offered is not None and _offers(self._offered, endpoint)):
                return
        try:
            page = self.call(endpoint, "model list", lambda sdk: sdk.models.list())
        except Rejected as rejected:
            if rejected.status not in NO_MODEL_LIST:
                raise
            logger.info("%s lists no models (HTTP %d); not checking", self.server, rejected.status)
            with self._lock:
                self._unlisted = True
            return
        offered = frozenset(model.id for model in page.data)
        with self._lock:
            self._offered = offered
        if not _offers(offered, endpoint):
            names = ", ".join(sorted(offered)[:MODELS_NAMED]) or "none"
            more = " …" if len(offered) > MODELS_NAMED else ""
            raise BackendMisconfigured(
                f"the {endpoint.kind} server {self.server} does not offer the model "
                f"{endpoint.model!r} (set by {endpoint.model_variable}); it offers: {names}{more}"
            )


def _offers(offered: frozenset[str], endpoint: Endpoint) -> bool:
    """Whether the list names the model (Ollama lists `llama3.2:latest` for `llama3.2`)."""
    return endpoint.model in offered or f"{endpoint.model}:latest" in offered


class Servers:
    """The servers a backend talks to, one per distinct base URL and key, so endpoints that
    share a server share its client and its model list."""

    def __init__(self, settings: OpenAISettings) -> None:
        self.policy = RetryPolicy(
            attempts=settings.max_attempts,
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
        )
        self._by_endpoint: dict[str, Server] = {}
        shared: dict[tuple[str, str], Server] = {}
        for endpoint in settings.endpoints:
            key = (endpoint.base_url, endpoint.secret)
            if key not in shared:
                shared[key] = Server(endpoint, settings, self.policy)
            self._by_endpoint[endpoint.kind] = shared[key]

    def __getitem__(self, endpoint: Endpoint) -> Server:
        return self._by_endpoint[endpoint.kind]

    def __repr__(self) -> str:
        return f"Servers({self._by_endpoint!r})"

"""Reading chat completions: refusals become ContentBlocked, unusable output ModelOutputInvalid."""

from __future__ import annotations

import re
from typing import TypeVar

from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from pydantic import BaseModel, ValidationError

from stories_core.errors import ContentBlocked, ModelOutputInvalid

M = TypeVar("M", bound=BaseModel)

# Reasoning models served by Ollama or vLLM may think aloud inside the answer.
THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(?P<body>.*?)\n?```$", re.DOTALL)


def answer_text(completion: ChatCompletion, what: str) -> str:
    """The first choice's text, once it was neither refused nor cut off."""
    choices = completion.choices
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = getattr(choice, "message", None)
    if not isinstance(choice, Choice) or not isinstance(message, ChatCompletionMessage):
        raise ModelOutputInvalid(f"the model gave no answer to the {what} request")
    if message.refusal:
        raise ContentBlocked(f"the model refused the {what} ({_short(str(message.refusal))})")
    if choice.finish_reason == "content_filter":
        raise ContentBlocked(f"the server's content filter stopped the {what}")
    if choice.finish_reason == "length":
        raise ModelOutputInvalid(f"the model's {what} answer was cut off at its token limit")
    content = message.content if isinstance(message.content, str) else ""
    text = THINKING.sub("", content).strip()
    if not text:
        raise ModelOutputInvalid(f"the model's {what} answer has no text")
    return text


def answer_json(completion: ChatCompletion, shape: type[M], what: str) -> M:
    """The answer parsed into `shape`. Read leniently (a code fence or a sentence around the
    object is dropped: a server without schema support may add them); malformed JSON or a
    wrong shape is ModelOutputInvalid."""
    text = answer_text(completion, what)
    fenced = FENCE.match(text)
    if fenced:
        text = fenced["body"].strip()
    start, end = text.find("{"), text.rfind("}")
    if start > 0 and end > start:
        text = text[start : end + 1]
    try:
        return shape.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "answer"
        raise ModelOutputInvalid(
            f"the model's {what} answer is not the JSON asked for ({where}: {first['msg']})"
        ) from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Reading chat completions: refusals become ContentBlocked, unusable output ModelOutputInvalid."""

from __future__ import annotations

import re
from typing import TypeVar

from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from pydantic import BaseModel

from stories_core.errors import ContentBlocked, ModelOutputInvalid
from stories_core.prompting import answer_model, unwrapped_json

M = TypeVar("M", bound=BaseModel)

# Reasoning models served by Ollama or vLLM may think aloud inside the answer.
THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


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
    text = unwrapped_json(answer_text(completion, what))
    return answer_model(text, shape, what, "the model's")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

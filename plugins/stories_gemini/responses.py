"""Reading Gemini's answers: refusals become ContentBlocked, unusable output ModelOutputInvalid."""

from __future__ import annotations

from typing import TypeVar

from google.genai import types
from pydantic import BaseModel

from stories_core.errors import ContentBlocked, ModelOutputInvalid
from stories_core.prompting import answer_model

M = TypeVar("M", bound=BaseModel)

F = types.FinishReason
# Reasons a candidate stops because policy refused it: trying again would not help.
REFUSED = frozenset(
    {
        F.SAFETY,
        F.PROHIBITED_CONTENT,
        F.BLOCKLIST,
        F.SPII,
        F.RECITATION,
        F.IMAGE_SAFETY,
        F.IMAGE_PROHIBITED_CONTENT,
        F.IMAGE_RECITATION,
    }
)


def answer_parts(response: types.GenerateContentResponse, what: str) -> list[types.Part]:
    """The parts of the first candidate, minus the model's thoughts, once it was not refused."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise ContentBlocked(f"Gemini refused the {what} prompt ({_name(feedback.block_reason)})")
    if not response.candidates:
        raise ModelOutputInvalid(f"Gemini gave no answer to the {what} request")
    candidate = response.candidates[0]
    if candidate.finish_reason in REFUSED:
        raise ContentBlocked(f"Gemini stopped the {what} ({_name(candidate.finish_reason)})")
    if candidate.finish_reason == F.MAX_TOKENS:
        raise ModelOutputInvalid(f"Gemini's {what} answer was cut off at its token limit")
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    return [part for part in parts if not part.thought]


def answer_text(response: types.GenerateContentResponse, what: str) -> str:
    text = "".join(part.text or "" for part in answer_parts(response, what)).strip()
    if not text:
        raise ModelOutputInvalid(f"Gemini's {what} answer has no text")
    return text


def answer_json(response: types.GenerateContentResponse, shape: type[M], what: str) -> M:
    """The answer parsed into `shape`; malformed JSON or a wrong shape is ModelOutputInvalid."""
    return answer_model(answer_text(response, what), shape, what, "Gemini's")


def answer_media(response: types.GenerateContentResponse, kind: str, what: str) -> list[types.Blob]:
    """The inline data parts whose MIME type starts with `kind` (e.g. "audio/")."""
    blobs = [
        part.inline_data
        for part in answer_parts(response, what)
        if part.inline_data is not None
        and part.inline_data.data
        and (part.inline_data.mime_type or "").lower().startswith(kind)
    ]
    if not blobs:
        raise ModelOutputInvalid(f"Gemini's {what} answer has no {kind.rstrip('/')} data")
    return blobs


def _name(reason: object) -> str:
    return str(getattr(reason, "value", reason))

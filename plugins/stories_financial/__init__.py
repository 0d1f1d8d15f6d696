"""The `financial` content style: conservative tone, a disclaimer, no misleading visuals."""

from stories_core.generation import ContentStyle, Voices
from stories_core.plugins import hookimpl

DISCLAIMER = (
    "This is general information, not financial advice. "
    "Past performance does not guarantee future results."
)

FINANCIAL = ContentStyle(
    name="financial",
    description="Reports figures soberly, with a disclaimer; charts that start at zero.",
    tone=(
        "You are a careful financial analyst. Report what the passage says in a measured, "
        "neutral tone: keep every figure exactly as written, never predict, promise or "
        "recommend, and point out uncertainty where the passage shows it."
    ),
    image_style=(
        "restrained financial chart or infographic, axes starting at zero, labelled values, "
        "muted corporate palette, no exaggerated perspective, no money piles or arrows to the moon"
    ),
    visual="chart",
    segmentation_hint="Keep each figure with the sentence that explains it.",
    disclaimer=DISCLAIMER,
    voices=Voices(
        narrator="en-gb", second_host="en-us", narrator_name="Grace", second_host_name="Tom"
    ),
    intro_template="Here is what the figures say about {title}.",
    outro_template="",
    palette=("#f5f5f4", "#1c1917", "#1e3a8a", "#a16207"),
)


@hookimpl
def stories_register_content_styles() -> list[ContentStyle]:
    return [FINANCIAL]

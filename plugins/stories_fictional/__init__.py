"""The `fictional` content style: creative and cinematic; narration keeps the story's words."""

from stories_core.generation import ContentStyle, Voices
from stories_core.plugins import hookimpl

FICTIONAL = ContentStyle(
    name="fictional",
    description="Tells the story in its own words, with cinematic scenes.",
    tone=(
        "You are a storyteller reading aloud. Keep the author's own words, names and "
        "dialogue; add only brief stage directions for pacing. Build suspense and mood."
    ),
    image_style=(
        "cinematic film still, dramatic lighting, wide 2.39:1 composition, rich atmosphere, "
        "painterly detail, no text"
    ),
    visual="scene",
    segmentation_hint="Cut at scene changes: a new place, time or point of view.",
    voices=Voices(
        narrator="en-gb-x-rp", second_host="en-us", narrator_name="Morgan", second_host_name="Riley"
    ),
    keeps_source_words=True,
    intro_template="{title}.",
    outro_template="",
    palette=("#0b1020", "#f1f5f9", "#7c3aed", "#f97316"),
)


@hookimpl
def stories_register_content_styles() -> list[ContentStyle]:
    return [FICTIONAL]

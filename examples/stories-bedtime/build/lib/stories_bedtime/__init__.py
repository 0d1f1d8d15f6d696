"""A third-party content style for `stories`: calm bedtime stories for young children."""

from stories_core.generation import ContentStyle, Voices
from stories_core.plugins import hookimpl

BEDTIME = ContentStyle(
    name="bedtime",
    description="A calm bedtime story for young children, with soft dreamy pictures.",
    tone=(
        "You are reading a bedtime story to a sleepy five-year-old. Use short, simple, warm "
        "sentences, a slow rhythm and gentle repetition. Nothing frightening."
    ),
    image_style="soft watercolour illustration, pastel colours, moonlight, cosy and calm",
    visual="scene",
    segmentation_hint="One calm moment per picture.",
    voices=Voices(
        narrator="en-us", second_host="en-gb", narrator_name="Mum", second_host_name="Dad"
    ),
    keeps_source_words=True,
    intro_template="Once upon a time: {title}.",
    outro_template="And everything was quiet and calm.",
    palette=("#1e1b4b", "#fef3c7", "#a5b4fc", "#fde68a"),
)


@hookimpl
def stories_register_content_styles() -> list[ContentStyle]:
    return [BEDTIME]

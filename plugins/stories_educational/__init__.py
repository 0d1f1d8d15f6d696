"""The `educational` content style: instructional tone, diagram-like images."""

from stories_core.generation import ContentStyle, Voices
from stories_core.plugins import hookimpl

EDUCATIONAL = ContentStyle(
    name="educational",
    description="Explains a topic step by step, like a patient teacher; diagram-like images.",
    tone=(
        "You are a patient teacher. Explain the passage clearly and accurately for a curious "
        "learner: define each key term in plain words, go from the simple to the complex, "
        "and end with a one-sentence recap. Never add facts the passage does not contain."
    ),
    image_style=(
        "clean instructional diagram, labelled boxes and arrows, flat vector style, white "
        "background, high legibility, no decorative clutter"
    ),
    visual="diagram",
    segmentation_hint="Keep each concept with its definition and examples in one segment.",
    voices=Voices(
        narrator="en-us", second_host="en-gb", narrator_name="Ada", second_host_name="Ben"
    ),
    intro_template="Let's learn about {title}.",
    outro_template="To recap: {title}.",
    palette=("#f8fafc", "#0f172a", "#2563eb", "#16a34a"),
)


@hookimpl
def stories_register_content_styles() -> list[ContentStyle]:
    return [EDUCATIONAL]

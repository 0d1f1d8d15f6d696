# syntax=docker/dockerfile:1
#
# The `stories` image: one image for every process (`stories serve`, `worker`,
# `dispatcher`, `migrate`; the command is the argument). Build from the repository root:
#
#   docker build -t stories:0.2.0 .
#
# Everything the service uses at run time is inside: the Python packages (fonts, eSpeak NG
# and its voices, the language-identification model all come in wheels) and GNU FriBidi,
# which Pillow's raqm layout and the picture code load from the system. Nothing is
# downloaded when a container starts.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the project's wheel, installed with its dependencies into a virtual env -------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler for any dependency that has no wheel for the target platform (every one has
# for linux/amd64 and linux/arm64 today); it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/stories

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY plugins ./plugins

RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/stories/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/stories/bin/pip install /wheels/stories-*.whl

# --- runtime: the virtual env on a slim Python, no build tools, a non-root user -----------
FROM ${PYTHON_IMAGE} AS runtime

# libfribidi0: GNU FriBidi (LGPL, so not inside Pillow's wheel), loaded by Pillow's raqm
# and by the local backend's bidi layout (stories_local.canvas).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libfribidi0 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid, so Kubernetes can check runAsNonRoot; STORIES_HOME is the only place
# a process writes to on its own disk (the embedded database and blobs when `stories make`
# or an embedded `serve` runs in the container; at scale nothing is kept there).
RUN groupadd --system --gid 10001 stories \
    && useradd --system --uid 10001 --gid stories --home-dir /home/stories --create-home \
       --shell /usr/sbin/nologin stories \
    && install -d -o stories -g stories /var/lib/stories

COPY --from=build /opt/stories /opt/stories

ENV PATH=/opt/stories/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STORIES_HOME=/var/lib/stories \
    STORIES_GRPC_HOST=0.0.0.0

USER 10001:10001
WORKDIR /home/stories

# 50051: the gRPC API (`stories serve`); 9100: metrics and probes when STORIES_METRICS_PORT
# is set to it.
EXPOSE 50051 9100

ENTRYPOINT ["stories"]
CMD ["serve"]

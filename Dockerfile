# syntax=docker/dockerfile:1
# Flightdeck server image: `docker build -t flightdeck:0.1.0 .`
# Build stage: a virtualenv with Flightdeck and its pinned dependencies (constraints.txt),
# torch from PyTorch's CPU index so no CUDA wheels come in, and the C part of the OTLP span
# encoder compiled (hatch_build.py). Runtime stage: the same slim Python, the virtualenv only,
# no compilers, no pip cache, a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# EXTRAS: "local" (the default) adds the local models (MiniLM embeddings, FAISS, CPU torch);
# "" builds a lean gateway without them.
ARG EXTRAS=local
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    FLIGHTDECK_NATIVE=require
# A C compiler for src/flightdeck/telemetry/_speedups.c; Debian's security updates move the
# exact versions, so they are not pinned (the runtime stage never sees them).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md hatch_build.py ./
COPY src ./src
# Every version is pinned by constraints.txt (-c), as `make` installs them.
RUN python -m venv /opt/flightdeck \
 && /opt/flightdeck/bin/pip install -c constraints.txt ".${EXTRAS:+[$EXTRAS]}" \
 && /opt/flightdeck/bin/pip uninstall -y pip \
 && find /opt/flightdeck -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="Flightdeck" \
      org.opencontainers.image.description="Self-hostable AI platform: OpenAI-compatible gateway, assistant backend, media search" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 flightdeck \
 && useradd --system --uid 10001 --gid flightdeck --home-dir /var/lib/flightdeck \
      --create-home --shell /usr/sbin/nologin flightdeck
COPY --from=build /opt/flightdeck /opt/flightdeck
COPY deploy/flightdeck.toml /etc/flightdeck/flightdeck.toml
# Configuration: the file above (mount your own over it, or point FLIGHTDECK_CONFIG elsewhere),
# then FLIGHTDECK_* variables on top (FLIGHTDECK_STORE__URL, FLIGHTDECK_LIMITS__REDIS_URL, ...).
ENV PATH=/opt/flightdeck/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLIGHTDECK_CONFIG=/etc/flightdeck/flightdeck.toml \
    HF_HUB_OFFLINE=1
USER 10001:10001
WORKDIR /var/lib/flightdeck
VOLUME ["/var/lib/flightdeck"]
EXPOSE 8080
# Liveness of the server in this container (FLIGHTDECK_SERVER__PORT if you moved it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FLIGHTDECK_SERVER__PORT', '8080'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["flightdeck"]
CMD ["serve"]

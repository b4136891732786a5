# The vsr reconciler image: `vsr` as the entrypoint, the daemon (`vsr run`) by default.
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t ghcr.io/vsr-dev/vsr:0.1.0 .
# Non-root (uid/gid 10001), works with a read-only root filesystem (give it writable /tmp and /var/lib/vsr).
# Dependencies come from requirements.lock only (every file pinned by sha256; pip refuses anything else).
# The base is pinned to a Python patch release; pin its digest too when publishing (PYTHON_IMAGE=python@sha256:...).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the install needs (see .dockerignore).
COPY requirements.lock pyproject.toml README.md ./
COPY reconciler/ reconciler/
# 1. the locked dependencies and build backend, hash-checked; 2. vsr itself, offline, with that backend.
RUN python -m venv /opt/vsr \
 && /opt/vsr/bin/pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock \
 && /opt/vsr/bin/pip install --no-deps --no-build-isolation --no-index . \
 && /opt/vsr/bin/pip check \
 && /opt/vsr/bin/pip uninstall -y setuptools wheel \
 && /opt/vsr/bin/vsr --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vsr" \
      org.opencontainers.image.description="vsr, the vSphere security reconciler" \
      org.opencontainers.image.source="https://github.com/vsr-dev/vsr" \
      org.opencontainers.image.url="https://github.com/vsr-dev/vsr" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/opt/vsr/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    VSR_LOG_FORMAT=json
RUN groupadd --gid 10001 vsr \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vsr \
 && mkdir -p /specs /var/lib/vsr \
 && chown 10001:10001 /var/lib/vsr
COPY --from=build /opt/vsr /opt/vsr
# The JSON Schema of the spec kinds, for editors and CI (`vsr schema` prints the same).
COPY specs/schema/ /usr/share/vsr/schema/
USER 10001:10001
WORKDIR /var/lib/vsr
EXPOSE 8080
VOLUME ["/var/lib/vsr"]
ENTRYPOINT ["vsr"]
CMD ["run", "/specs", "--listen=[::]:8080", "--journal=/var/lib/vsr/journal.db"]

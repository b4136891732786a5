# The vsr reconciler image: `vsr` as the entrypoint, the daemon (`vsr run`) by default.
#   docker build -t ghcr.io/vsr-dev/vsr:0.1.0 .
# Non-root (uid/gid 10001), works with a read-only root filesystem (give it writable /tmp and /var/lib/vsr).
# The base is pinned to a Python patch release; pin its digest too when publishing (PYTHON_IMAGE=python@sha256:...).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what `pip install .` needs (see .dockerignore).
COPY pyproject.toml README.md ./
COPY reconciler/ reconciler/
RUN python -m venv /opt/vsr && /opt/vsr/bin/pip install . && /opt/vsr/bin/vsr --help >/dev/null

FROM ${PYTHON_IMAGE}
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
CMD ["run", "/specs", "--listen=:8080", "--journal=/var/lib/vsr/journal.db"]

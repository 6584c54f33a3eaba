# Container image of the VIVI channelsApi emulator.
#
#   docker build -t vivi-emulator .
#   docker run --rm -p 8000:8000 vivi-emulator
#
# The base is any Debian-like image with Python >= 3.11 as `python3` and its `venv` module
# (the official python:3.11-slim by default). See docs/container.md.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# Build stage: build the wheel from the repository and install it into a virtualenv that the
# final stage copies. Compilers, build backends and pip's caches stay here.
FROM ${BASE_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/venv

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so that this layer stays cached until the
# dependencies change (editing the code only rebuilds the small layer below).
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# The package itself, built as a wheel and installed from it (never an editable/source install).
COPY . .
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist . \
    && /opt/venv/bin/pip install /dist/*.whl \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools \
    && /opt/venv/bin/vivi-emulator --help > /dev/null

# ---------------------------------------------------------------------------------------------
# Final stage: the base image, a non-root user and the virtualenv. Nothing else.
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="vivi-emulator" \
      org.opencontainers.image.description="Local emulator of the VIVI channelsApi HTTP API" \
      org.opencontainers.image.licenses="MIT"

RUN groupadd --system --gid 10001 vivi \
    && useradd --system --uid 10001 --gid vivi --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vivi

COPY --from=build /opt/venv /opt/venv

# Embedded defaults are active with no configuration at all. Configure with environment
# variables (VIVI_EMULATOR_CONFIG=<file>, VIVI_EMULATOR_FIXTURES=<folder>, ...) and mounts.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIVI_EMULATOR_HOST=0.0.0.0 \
    VIVI_EMULATOR_PORT=8000

USER 10001:10001
WORKDIR /tmp
EXPOSE 8000

# Probes the health endpoint on the configured port with the standard library (no curl),
# bypassing any HTTP proxy set in the container's environment.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; o = u.build_opener(u.ProxyHandler({})); o.open('http://127.0.0.1:%s/_emulator/health' % os.environ.get('VIVI_EMULATOR_PORT', '8000'), timeout=2).read()"]

# The ASGI server is PID 1 (exec form, no shell in between) and stops cleanly on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["vivi-emulator"]
CMD ["serve"]

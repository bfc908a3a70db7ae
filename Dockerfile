# The TODO API image. Two stages: uv resolves the locked dependencies into a virtualenv,
# the runtime stage gets only that virtualenv and the code (no uv, no build tools).
#
# PYTHON_IMAGE is the base of both stages (python:3.11-slim unless the build says
# otherwise, e.g. a mirror or a local image). BUILD_CA_CERTS, empty by default, is extra
# PEM certificates the build stage trusts to reach PyPI (a proxy that re-signs TLS);
# nothing of it reaches the runtime stage.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
ARG BUILD_CA_CERTS=""
# The build's trust: the image's own CA bundle, plus BUILD_CA_CERTS when given.
RUN if [ -n "$BUILD_CA_CERTS" ]; then \
        { cat /etc/ssl/certs/ca-certificates.crt; printf '%s\n' "$BUILD_CA_CERTS"; } > /build-ca.pem \
        && echo "export SSL_CERT_FILE=/build-ca.pem PIP_CERT=/build-ca.pem" > /build-ca.env; \
    else : > /build-ca.env; fi
# uv comes from PyPI, pinned; the lock file pins everything else.
RUN . /build-ca.env && pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN . /build-ca.env && uv sync --frozen --no-dev --no-install-project

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    API_LISTEN=0.0.0.0:8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
WORKDIR /app
# Same base image as the build stage, so the venv's interpreter symlink stays valid.
COPY --from=build /app/.venv /app/.venv
COPY auth/ auth/
COPY app/ app/
COPY migrations/ migrations/
COPY alembic.ini ./
USER app
EXPOSE 8000
# No curl in the slim image: the standard library does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# The app's entry point applies migrations, then serves on 0.0.0.0:8000.
CMD ["python", "-m", "app"]

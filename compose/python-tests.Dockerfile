# The image in which `make test` runs the fast and integration tiers on another Python
# version than the host's (tests/compose/test_python_versions.py): the interpreter of
# PYTHON_IMAGE, uv (pinned, as in the API image), and the PostgreSQL and Redis servers
# the integration tier starts, and git (the guide test copies the tracked files and
# applies the guide's diffs). The repository is mounted at run time, not copied, and
# owned by another user than the container's: git is told to trust it.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG BUILD_CA_CERTS=""
RUN if [ -n "$BUILD_CA_CERTS" ]; then \
        { cat /etc/ssl/certs/ca-certificates.crt; printf '%s\n' "$BUILD_CA_CERTS"; } > /build-ca.pem \
        && echo "export SSL_CERT_FILE=/build-ca.pem PIP_CERT=/build-ca.pem" > /build-ca.env; \
    else : > /build-ca.env; fi \
    && mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/tests.conf \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends git postgresql redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'
RUN . /build-ca.env && pip install --no-cache-dir uv==0.13.8 && rm -f /build-ca.pem /build-ca.env

# Stand-in for python:<version>-slim where no registry can be reached: Debian's own Python
# (3.11 in bookworm, 3.13 in trixie) with pip, laid out as the upstream image is used:
# `python` and `pip` on the PATH, pip allowed to install outside a virtualenv.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG PYTHON_VERSION
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-pip python3-venv \
        python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && python --version | grep -qx "Python ${PYTHON_VERSION}\.[0-9]*" \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip
ENV LANG=C.UTF-8
CMD ["python3"]

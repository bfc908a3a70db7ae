# Stand-in for node:<major>-bookworm-slim where no registry can be reached: Debian's
# Node.js and npm (global installs go to /usr/local, first on the PATH, as upstream).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG NODE_MAJOR
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && node --version | grep -q "^v${NODE_MAJOR}\."
CMD ["node"]

# Stand-in for redis:<version> where no registry can be reached: Debian's redis-server.
# Like the upstream image: no configuration file, protected mode off (the container's
# network is the boundary), working directory /data, run as the redis user.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG REDIS_VERSION
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && redis-server --version | grep -q "v=${REDIS_VERSION}\." \
    && mkdir /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]

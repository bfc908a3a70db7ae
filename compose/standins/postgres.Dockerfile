# Stand-in for postgres:<major> where no registry can be reached: Debian's PostgreSQL
# server, with an entrypoint that honours the upstream image's POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB on an empty data directory.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG POSTGRES_MAJOR
# No cluster at install time: the entrypoint creates it in the volume.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/stand-in.conf \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends "postgresql-${POSTGRES_MAJOR}" \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/run/postgresql /var/lib/postgresql/data \
    && chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/${POSTGRES_MAJOR}/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# Executable whatever mode the checkout gave it.
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]

# Stand-in for quay.io/keycloak/keycloak:<version> where no registry can be reached:
# the same Keycloak distribution (Maven Central's keycloak-quarkus-dist zip, the one
# keycloak/local-keycloak.sh runs, unpacked into the build context by compose/images.sh)
# on Debian's OpenJDK 21, laid out as the upstream image: /opt/keycloak, kc.sh as the
# entrypoint, user 1000 of group 0, bash for the compose file's health check.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends openjdk-21-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --gid 0 --home-dir /opt/keycloak --no-create-home keycloak
ARG KEYCLOAK_VERSION
COPY --chown=1000:0 keycloak-${KEYCLOAK_VERSION} /opt/keycloak
# The zip has no data/: Keycloak's H2 files and the compose file's realm imports go there.
RUN mkdir -p /opt/keycloak/data/import && chown -R 1000:0 /opt/keycloak/data
# As upstream: KC_RUN_IN_CONTAINER makes Keycloak size its heap from the container's
# memory and, in dev mode, listen on every interface rather than on localhost only.
ENV LANG=C.UTF-8 \
    KC_RUN_IN_CONTAINER=true
USER 1000
EXPOSE 8080 8443 9000
ENTRYPOINT ["/opt/keycloak/bin/kc.sh"]

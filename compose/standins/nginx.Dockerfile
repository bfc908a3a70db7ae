# Stand-in for nginx:<version> where no registry can be reached: Debian's nginx, reading
# /etc/nginx/conf.d/*.conf as upstream does, logging to the container's output, in the
# foreground. wget is there for health checks, as busybox's is in the alpine image.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
ARG NGINX_VERSION
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends nginx wget \
    && rm -rf /var/lib/apt/lists/* \
    && nginx -v 2>&1 | grep -q "nginx/${NGINX_VERSION}\." \
    && rm -f /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]

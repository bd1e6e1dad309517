# syntax=docker/dockerfile:1
#
# trustpub container image.
#   docker build -t trustpub .
#   docker run --read-only -p 8080:8080 \
#     -v ./trustpub.yaml:/etc/trustpub/config.yaml:ro trustpub
#
# Node 22 LTS, pinned to an exact release; bump it deliberately.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

# 1. Compile TypeScript with the full (dev) dependency set.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, exactly as locked; no install scripts run.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The runtime: compiled output and production dependencies, owned by root
#    and read-only for the unprivileged user that runs the service. Nothing is
#    written at run time, so a read-only root filesystem works as is.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    TRUSTPUB_CONFIG=/etc/trustpub/config.yaml
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY examples ./examples
USER node
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]

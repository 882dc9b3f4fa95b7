# onedump on Node 24 LTS with the database and SSH clients its drivers call.
# Not built or run by CI here (no Docker engine on the CI machines); see docs/docker.md.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends mariadb-client postgresql-client openssh-client ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
USER node
# The V8 flags of development.md (DESIGN-notes); they cannot go on bin/onedump.js's #! line (nor the first in NODE_OPTIONS).
ENTRYPOINT ["node", "--initial-old-space-size=96", "--max-semi-space-size=4", "/app/bin/onedump.js"]
CMD ["--help"]

# syntax=docker/dockerfile:1
# onedump on Node 24 LTS with the tools its drivers and commands call: mysqldump and mysqlbinlog (MariaDB's client),
# pg_dump/psql (PostgreSQL's own client, newest major, which dumps servers back to 9.2), ssh.
# NOT built or run here: these machines cannot run Docker (no engine). See docs/docker.md.
#   docker build -t onedump .                                   (or --build-arg VERSION=1.2.3, as scripts/release.sh stamps)
#   docker run --rm -v "$PWD:/config:ro" onedump dump -c /config/jobs.yml
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile src/ (tsc) and keep only the runtime dependencies
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
ARG VERSION=
RUN if [ -n "$VERSION" ]; then \
      npm pkg set "version=$VERSION" \
      && printf "export const VERSION = '%s';\n" "$VERSION" > src/version.ts; \
    fi \
 && npm run build \
 && npm prune --omit=dev \
 && node dist/cli/onedump.js --version

# ---- runtime
FROM ${NODE_IMAGE}
ARG PG_MAJOR=17
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends mariadb-client "postgresql-client-${PG_MAJOR}" openssh-client tzdata \
 && apt-get purge -y curl && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 # Debian's mariadb-client has the binlog tool as mariadb-binlog only; scripts and --mysqlbinlog-path know mysqlbinlog.
 && { command -v mysqlbinlog >/dev/null || ln -s /usr/bin/mariadb-binlog /usr/local/bin/mysqlbinlog; } \
 && mysqldump --version && mysqlbinlog --version && pg_dump --version \
 # The uid/gid `onedump export kubernetes` runs its pods as (runAsNonRoot needs a numeric USER to check).
 && groupadd --gid 10001 onedump \
 && useradd --uid 10001 --gid 10001 --home-dir /home/onedump --create-home --shell /usr/sbin/nologin onedump
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
ENV NODE_ENV=production
USER 10001:10001
# The V8 flags of development.md (DESIGN-notes); they cannot go on bin/onedump.js's #! line (nor the first in NODE_OPTIONS).
ENTRYPOINT ["node", "--initial-old-space-size=96", "--max-semi-space-size=4", "/app/bin/onedump.js"]
CMD ["--help"]

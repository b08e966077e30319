# meterhouse in server mode (CLICKHOUSE_URL set). The embedded engine also works
# in this image; mount a volume at /data and leave CLICKHOUSE_URL unset.
# Built on the current Node LTS (24); the project itself also runs on Node >= 20.
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: the lock cannot list chdb's optional engine builds for other platforms (see README).
RUN npm install --omit=dev --no-audit --no-fund
COPY alerts ./alerts
COPY access ./access
COPY analyst ./analyst
COPY api ./api
COPY cli ./cli
# The web app: its committed build (dashboards/dist) is what is served; no build step in the image.
COPY dashboards ./dashboards
COPY domain ./domain
COPY ingest ./ingest
COPY sql ./sql
COPY jobs ./jobs
COPY scripts ./scripts
ENV NODE_ENV=production DATA_DIR=/data PORT=8080
EXPOSE 8080
# node itself is PID 1 (exec form, no npm/npx/shell in between), so `docker stop`'s
# SIGTERM reaches meterhouse's handler, which flushes buffered events before exiting.
CMD ["node", "--import", "tsx", "api/main.ts"]

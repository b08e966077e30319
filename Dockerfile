# meterhouse in server mode (CLICKHOUSE_URL set). The embedded engine also works
# in this image; mount a volume at /data and leave CLICKHOUSE_URL unset.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: the lock cannot list chdb's optional engine builds for other platforms (see README).
RUN npm install --omit=dev --no-audit --no-fund
COPY api ./api
COPY ingest ./ingest
COPY sql ./sql
COPY jobs ./jobs
COPY scripts ./scripts
ENV NODE_ENV=production DATA_DIR=/data PORT=8080
EXPOSE 8080
CMD ["npx", "tsx", "api/main.ts"]

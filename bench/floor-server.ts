// The least a Node + chdb ingest server does per event, for `npm run bench:floor` (bench/floor.ts), which starts it
// as its own process. Not meterhouse: no key, no check of the contract, no identity lookup, no rollup, no billing log.
// POST /v1/events: the body is parsed with JSON.parse (to count its events) and, with FLOOR_MODE=store, its bytes go
// as they are into one ReplacingMergeTree table through chdb's raw insert (the engine's own JSONEachRow parser);
// FLOOR_MODE=parse stores nothing. FLOOR_MODE=kafka: the engine's Kafka table (JSONEachRow) feeds the same table
// through one materialized view, and POST stores nothing. It reads topic FLOOR_KAFKA_TOPIC on FLOOR_KAFKA_BROKERS in a
// consumer group of the topic's name, with two consumers on a thread each (as `npm run bench:kafka` runs meterhouse)
// and meterhouse's default block size, flush interval and poll timeout. GET /count: the rows stored so far.
// GET /stored: the distinct events stored and their sum per metric (FINAL). Prints the port it listens on, then a
// newline.
import { createServer } from 'node:http';
import { Session } from 'chdb';

const mode = process.env.FLOOR_MODE;
if (mode !== 'parse' && mode !== 'store' && mode !== 'kafka') throw new Error(`FLOOR_MODE=${mode}: parse, store or kafka`);
const session = new Session(process.env.FLOOR_DATA_DIR!);
// The bench's events: eventId, customerId, metricName, timestamp (epoch ms), quantity (a decimal string, or 1), dimensions.
await session.queryAsync(
  `CREATE TABLE IF NOT EXISTS floor_events (eventId String, customerId String, metricName LowCardinality(String), timestamp Int64,
    quantity Decimal(38, 9), dimensions Map(LowCardinality(String), String))
  ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(timestamp, 'UTC'))
  ORDER BY (metricName, customerId, timestamp, eventId)`,
);
if (mode === 'kafka') {
  const setting = (name: string) => {
    const value = process.env[name] ?? '';
    if (!/^[\w.:,-]+$/.test(value)) throw new Error(`${name}=${JSON.stringify(value)}: host:port list or topic name expected`);
    return `'${value}'`;
  };
  await session.queryAsync(
    `CREATE TABLE floor_kafka (tenantId String, eventId String, customerId String, metricName String, timestamp Int64,
      quantity Decimal(38, 9), dimensions Map(String, String))
    ENGINE = Kafka SETTINGS kafka_broker_list = ${setting('FLOOR_KAFKA_BROKERS')}, kafka_topic_list = ${setting('FLOOR_KAFKA_TOPIC')},
      kafka_group_name = ${setting('FLOOR_KAFKA_TOPIC')}, kafka_format = 'JSONEachRow', kafka_num_consumers = 2, kafka_thread_per_consumer = 1,
      kafka_max_block_size = 65536, kafka_flush_interval_ms = 500, kafka_poll_timeout_ms = 500`,
  );
  await session.queryAsync(
    `CREATE MATERIALIZED VIEW floor_kafka_view TO floor_events AS
    SELECT eventId, customerId, metricName, timestamp, quantity, dimensions FROM floor_kafka`,
  );
}

async function stored(): Promise<string> {
  const text = (
    await session.queryAsync(
      `SELECT metricName, count() AS events, toString(sum(quantity)) AS sum FROM floor_events FINAL GROUP BY metricName ORDER BY metricName`,
      { format: 'JSONEachRow' },
    )
  ).text!();
  return JSON.stringify(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { metricName: string; events: number; sum: string }),
  );
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/count') {
          const rows = (await session.queryAsync('SELECT count() FROM floor_events', { format: 'CSV' })).text!().trim();
          res.writeHead(200, { 'content-type': 'application/json' }).end(rows);
          return;
        }
        if (req.method === 'GET' && req.url === '/stored') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(await stored());
          return;
        }
        const body = Buffer.concat(chunks);
        const events = (JSON.parse(body.toString('utf8')) as unknown[]).length;
        if (mode === 'kafka') throw new Error('FLOOR_MODE=kafka takes its events from the topic');
        if (mode === 'store') await session.insert({ table: 'floor_events', values: body, format: 'JSONEachRow' });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: events, duplicates: 0 }));
      } catch (error) {
        process.stderr.write(`floor server: ${String(error)}\n`);
        if (res.headersSent) return;
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error).slice(0, 300) }));
      }
    })();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => {
  session.close();
  process.exit(0);
});

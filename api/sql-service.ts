import type { Connection } from '../sql/connect.js';
import type { Config } from './config.js';
import { ReadGate } from './read-gate.js';
import type { Access } from '../access/access.js';
import { AuditLog } from '../access/audit.js';
import { SqlService } from '../analyst/service.js';

/**
 * The analyst SQL service over the connection's analyst clients. On the
 * embedded engine its history and audit rows are written through the first
 * analyst connection: chdb runs parameterized statements one at a time per
 * process, and an audit append (parameterized) on ingest's connection could
 * wait there behind a 30 s analyst query, holding ingest's inserts up. A
 * server's analyst user is readonly: there they go through the main client.
 */
export async function sqlService(connection: Connection, config: Config, access: Access): Promise<SqlService> {
  const { db } = connection;
  const recorder = connection.mode === 'embedded' ? { client: connection.analystClients[0]!, database: db.database, embedded: true } : db;
  const service = new SqlService({
    database: db.database,
    clients: connection.analystClients,
    gate: new ReadGate(
      connection.analystClients.map((client) => ({ client, database: db.database })),
      { maxQueued: config.SQL_MAX_QUEUED, queueTimeoutMs: config.READ_QUEUE_TIMEOUT_MS },
    ),
    recorder,
    audit: new AuditLog(recorder),
    limitsFor: (tenantId) => access.tenants.limitsFor(tenantId),
    maxThreads: config.READ_MAX_THREADS,
    osThreadPriority: config.SQL_OS_THREAD_PRIORITY,
    maxResultBytes: config.SQL_MAX_RESULT_BYTES,
    summaryReadsRows: connection.mode === 'server',
  });
  await service.prepare(connection.mode === 'embedded');
  return service;
}

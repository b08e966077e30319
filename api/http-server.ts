import type { ServerOptions } from 'node:http';
import type { Config } from './config.js';

/**
 * Timeouts of the HTTP server, so slow or idle clients cannot hold sockets
 * and memory: the headers must arrive within HTTP_HEADERS_TIMEOUT_MS, the
 * whole request (headers and body) within HTTP_REQUEST_TIMEOUT_MS, and an
 * idle keep-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS.
 * Node checks the first two every `connectionsCheckingInterval` (30 s by
 * default): checked often enough that a limit holds to within a second.
 */
export function httpServerOptions(config: Pick<Config, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'>): ServerOptions {
  return {
    headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.HTTP_HEADERS_TIMEOUT_MS / 4))),
  };
}

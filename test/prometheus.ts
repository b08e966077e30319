import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';
import { freePort } from '../scripts/s3/host.js';

/**
 * A real Prometheus (Debian's `prometheus` package, installed by .ci/run)
 * scraping one target every second with a bearer credential, evaluating the
 * given rule files. Queried through its HTTP API.
 */
export interface PrometheusServer {
  url: string;
  query(expr: string): Promise<{ status: string; error?: string; data?: { resultType: string; result: unknown[] } }>;
  get<T = any>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startPrometheus(target: { host: string; credentials: string; ruleFiles: string[] }): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'meterhouse-prometheus-'));
  const config = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ${JSON.stringify(target.ruleFiles)}
scrape_configs:
  - job_name: meterhouse
    authorization:
      credentials: ${JSON.stringify(target.credentials)}
    static_configs:
      - targets: [${JSON.stringify(target.host)}]
`;
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.on('data', (b: Buffer) => stderr.push(b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // If this test process dies without stop(), Prometheus must not outlive it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const get = async (path: string) => (await fetch(`${url}${path}`)).json();
  await waitFor(
    'Prometheus to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr.join('')}`);
      return fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    20_000,
  );
  return {
    url,
    get,
    query: (expr) => get(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    async stop() {
      process.off('exit', orphanGuard);
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the Kafka-protocol test broker (librdkafka's mock cluster, see
 * scripts/kafka-broker/README.md) in the foreground:
 *
 *   npx tsx scripts/kafka-broker.ts [--brokers N] [--topic name:partitions[:replicas]]...
 *                                   [--initial-rebalance-delay-ms MS] [--debug]
 *
 * Builds it first if .cache/kafka-broker/ has no current build, then prints
 * BOOTSTRAP=host:port[,...] on a line of its own and runs until SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ensureKafkaBroker } from './kafka-broker-build.js';

const usage = 'usage: npx tsx scripts/kafka-broker.ts [--brokers N] [--topic name:partitions[:replicas]]... [--initial-rebalance-delay-ms MS] [--debug]';

function fail(msg: string): never {
  process.stderr.write(`kafka-broker: ${msg}\n${usage}\n`);
  process.exit(2);
}

let values: { brokers?: string; topic?: string[]; 'initial-rebalance-delay-ms'?: string; debug?: boolean; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      brokers: { type: 'string' },
      topic: { type: 'string', multiple: true },
      'initial-rebalance-delay-ms': { type: 'string' },
      debug: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const args: string[] = [];
if (values.brokers !== undefined) {
  if (!/^[1-9]\d*$/.test(values.brokers) || Number(values.brokers) > 64) fail(`--brokers must be 1..64, got ${values.brokers}`);
  args.push('--brokers', values.brokers);
}
for (const t of values.topic ?? []) {
  if (!/^[A-Za-z0-9._-]+:[1-9]\d*(:[1-9]\d*)?$/.test(t)) fail(`--topic must be name:partitions[:replicas], got ${t}`);
  args.push('--topic', t);
}
const delay = values['initial-rebalance-delay-ms'];
if (delay !== undefined) {
  if (!/^\d+$/.test(delay)) fail(`--initial-rebalance-delay-ms must be a number, got ${delay}`);
  args.push('--initial-rebalance-delay-ms', delay);
}
if (values.debug) args.push('--debug');

let binary: string;
try {
  binary = await ensureKafkaBroker();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}

// The broker exits on stdin EOF too, so it cannot outlive this process.
const child = spawn(binary, [...args, '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });
let ready = false;
createInterface({ input: child.stdout }).on('line', (line) => {
  if (line.startsWith('BOOTSTRAP=')) ready = true;
  process.stdout.write(`${line}\n`);
});
child.on('error', (err) => {
  process.stderr.write(`kafka-broker: cannot run ${binary}: ${err.message}\n`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    // SIGHUP (terminal closed) is passed on as SIGTERM: the broker treats that as a clean stop.
    if (child.exitCode === null && child.signalCode === null) child.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig);
  });
}

child.on('exit', (code, signal) => {
  if (!ready) process.stderr.write(`kafka-broker: broker exited before printing BOOTSTRAP (${signal ?? `exit ${code}`})\n`);
  process.exitCode = code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1);
});

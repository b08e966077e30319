import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ensureKafkaBroker } from '../scripts/kafka-broker-build.js';

/**
 * A Kafka-protocol test broker (librdkafka's mock cluster in a process of its
 * own, see scripts/kafka-broker/README.md) for tests: builds it on first use
 * (cached in .cache/kafka-broker/), starts it on random 127.0.0.1 ports and
 * parses its BOOTSTRAP line. Topics must be pre-created via `topics`: the
 * mock has no CreateTopics (unknown topics are auto-created with 4 partitions).
 */
export interface KafkaTopicSpec {
  name: string;
  partitions: number;
  /** Defaults to min(3, brokers). */
  replicas?: number;
}

export interface KafkaBrokerOptions {
  /** Number of brokers in the mock cluster (default 1). */
  brokers?: number;
  /** Topics to create up front: specs or "name:partitions[:replicas]" strings. */
  topics?: readonly (KafkaTopicSpec | string)[];
  /** Delay before the first rebalance of an empty group (mock default 100 ms). */
  initialRebalanceDelayMs?: number;
  /** How long to wait for the BOOTSTRAP line once the binary is built (default 10 s). */
  startTimeoutMs?: number;
  /** Pass the broker's stderr through (librdkafka mock log with `debug`). */
  verbose?: boolean;
  /** Enable librdkafka's mock debug log (implies verbose output on stderr). */
  debug?: boolean;
}

export interface KafkaBroker {
  /** Comma-separated host:port list, as Kafka clients take it. */
  bootstrap: string;
  /** The same, as an array (KafkaJS `brokers`). */
  brokers: string[];
  pid: number;
  /** Take broker `id` (1-based) away: its connections drop and new ones are refused. */
  down(id?: number): Promise<void>;
  /** Bring broker `id` back. */
  up(id?: number): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

export function brokerArgs(opts: Pick<KafkaBrokerOptions, 'brokers' | 'topics' | 'initialRebalanceDelayMs' | 'debug'>): string[] {
  const args: string[] = [];
  if (opts.brokers !== undefined) args.push('--brokers', String(opts.brokers));
  for (const t of opts.topics ?? []) {
    args.push('--topic', typeof t === 'string' ? t : `${t.name}:${t.partitions}${t.replicas ? `:${t.replicas}` : ''}`);
  }
  if (opts.initialRebalanceDelayMs !== undefined) args.push('--initial-rebalance-delay-ms', String(opts.initialRebalanceDelayMs));
  if (opts.debug) args.push('--debug');
  return args;
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const binary = await ensureKafkaBroker();
  const verbose = opts.verbose || opts.debug;
  // stdin stays an open pipe we never write to: if this process dies without
  // stop(), the broker sees EOF and exits instead of lingering.
  const child = spawn(binary, [...brokerArgs(opts), '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 50) stderrTail.shift();
    if (verbose) process.stderr.write(`${line}\n`);
  });
  const exited = new Promise<void>((res) => child.once('close', () => res()));
  const lines = createInterface({ input: child.stdout });

  const bootstrap = await new Promise<string>((res, rej) => {
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    const settle = () => {
      clearTimeout(timer);
      child.off('error', onError);
      child.off('exit', onExit);
      lines.off('line', onLine);
    };
    const fail = (why: string) => {
      settle();
      child.kill('SIGKILL');
      // Let the process (and its stderr) finish so the message is complete, but not forever:
      // a process that failed to spawn may never emit 'close'.
      const drained = new Promise<void>((r) => setTimeout(r, 2000).unref());
      void Promise.race([exited, drained]).then(() => rej(new Error(`kafka test broker ${why}\n${stderrTail.join('\n')}`)));
    };
    const onLine = (line: string) => {
      const m = /^BOOTSTRAP=(\S+)$/.exec(line);
      if (m?.[1]) {
        settle();
        res(m[1]);
      }
    };
    const onError = (err: Error) => fail(`failed to start: ${err.message}`);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited before it was ready (${signal ?? `exit ${code}`})`);
    const timer = setTimeout(() => fail(`printed no BOOTSTRAP line within ${timeoutMs} ms`), timeoutMs);
    lines.on('line', onLine);
    child.once('error', onError);
    child.once('exit', onExit);
  });

  // Commands are answered in order, one "OK <command>" / "ERR <command>" line each.
  const answers: ((line: string) => void)[] = [];
  lines.on('line', (line) => answers.shift()?.(line));
  const command = (text: string) =>
    new Promise<void>((res, rej) => {
      answers.push((line) => (line === `OK ${text}` ? res() : rej(new Error(`kafka test broker: ${line}`))));
      child.stdin.write(`${text}\n`);
    });

  let stopping: Promise<void> | undefined;
  return {
    bootstrap,
    brokers: bootstrap.split(','),
    pid: child.pid ?? -1,
    down: (id = 1) => command(`down ${id}`),
    up: (id = 1) => command(`up ${id}`),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      })();
      return stopping;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import { readFile, readdir, readlink } from 'node:fs/promises';

/** meterhouse (api/main.ts) as its own process: the load generator never shares its CPU time or heap. */
export interface ServerProcess {
  base: string;
  proc: ChildProcess;
  /** User + system CPU seconds the server has used so far (engine threads included). */
  cpuSeconds(): Promise<number>;
  /** CPU seconds so far per thread name (ClickHouse names its threads; Node's are all "node"), live threads only. */
  threadCpuSeconds(): Promise<Map<string, number>>;
  /** Resident set size now, MiB. */
  rssMiB(): Promise<number>;
  /** The kernel's peak resident set size of the process (VmHWM), MiB. */
  peakRssMiB(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * CPU seconds each kind of the server's threads used between two `threadCpuSeconds()` snapshots: the engine's query
 * threads (inserts and their views, lookups, reads, reconciliation), its merges (`MergeMutate`), and Node's threads
 * (`node`: JS, GC, and the libuv threads that call into the engine, which run part of each query). Threads that ended
 * between the snapshots are in the process's total only.
 */
export function cpuByThreadKind(before: Map<string, number>, after: Map<string, number>): { queries: number; merges: number; node: number } {
  const out = { queries: 0, merges: 0, node: 0 };
  for (const [name, seconds] of after) out[name === 'MergeMutate' ? 'merges' : name === 'node' ? 'node' : 'queries'] += seconds - (before.get(name) ?? 0);
  return out;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User + system CPU seconds process `pid` has used so far, all its threads. */
export async function processCpuSeconds(pid: number): Promise<number> {
  // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the ")" that ends the command name.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Until a process has used under 0.05 CPU s a second for 5 seconds running (at most 10 minutes): its CPU seconds then. */
export async function quietCpuSeconds(cpuSeconds: () => Promise<number>): Promise<number> {
  let last = await cpuSeconds();
  const started = performance.now();
  for (let still = 0; still < 5 && performance.now() - started < 600_000;) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = await cpuSeconds();
    still = now - last < 0.05 ? still + 1 : 0;
    last = now;
  }
  return last;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  // BENCH_SERVER_NODE_ARGS: extra Node flags for the server (e.g. --cpu-prof --cpu-prof-dir=bench/results/profiles).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'api/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave the server behind, whatever ends this process (one listener per live server: a bench may start many).
  const killServer = () => proc.kill('SIGKILL');
  process.on('exit', killServer);
  proc.once('exit', () => process.off('exit', killServer));
  let output = '';
  proc.stdout!.on('data', (b) => (output += b));
  proc.stderr!.on('data', (b) => (output += b));
  // LOG_LEVEL=warn hides the "listening" line: find the port from /proc instead of the log.
  const base = await new Promise<string>((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = async () => {
      const port = await listeningPort(proc.pid!);
      if (port) return resolve(`http://127.0.0.1:${port}`);
      if (proc.exitCode !== null || Date.now() > deadline) return reject(new Error(`server did not listen:\n${output}`));
      setTimeout(poll, 100);
    };
    void poll();
  });
  proc.on('exit', (code, signal) => {
    // Synchronously: the load generator may fail (and exit) right after, on the refused connection.
    if (code !== 0 && signal !== 'SIGTERM') writeSync(2, `server exited (${code ?? signal}):\n${output.slice(-3000)}\n`);
  });
  const status = async (field: string) =>
    Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => ''))?.[1] ?? 0) / 1024);
  return {
    base,
    proc,
    cpuSeconds: () => processCpuSeconds(proc.pid!),
    async threadCpuSeconds() {
      const byName = new Map<string, number>();
      for (const tid of await readdir(`/proc/${proc.pid}/task`).catch(() => [])) {
        const stat = await readFile(`/proc/${proc.pid}/task/${tid}/stat`, 'utf8').catch(() => '');
        if (!stat) continue; // the thread ended meanwhile
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
      }
      return byName;
    },
    rssMiB: () => status('VmRSS'),
    peakRssMiB: () => status('VmHWM'),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

/** The TCP port a process listens on, from /proc/net/tcp and its socket inodes. */
async function listeningPort(pid: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]!);
  }
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && inodes.has(f[9]!)) return parseInt(f[1]!.split(':')[1]!, 16);
  }
  return undefined;
}

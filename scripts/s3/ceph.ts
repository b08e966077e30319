/**
 * A single-node Ceph cluster serving S3 on 127.0.0.1, for tests and local runs:
 * one monitor, one OSD (BlueStore on a sparse file), one RADOS Gateway. It
 * installs nothing: the Debian packages ceph-mon, ceph-osd and radosgw must be
 * there (.ci/run installs them).
 *
 * The monitor's ports (3300, 6789) are fixed, so there is one such cluster per
 * machine: its state lives in one directory (default: <tmpdir>/meterhouse-s3)
 * that every checkout shares. Tests isolate themselves by key prefix.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBucket } from '../../sql/s3/client.js';
import { withLock } from './lock.js';
import { freePort, portFree, run, tool, waitFor } from './host.js';

export const DEFAULT_S3_STATE_DIR = join(tmpdir(), 'meterhouse-s3');
const MON_PORTS = [3300, 6789] as const;
const REGION = 'us-east-1';
const BUCKET = 'meterhouse';

export interface LocalS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  region: string;
}

/** The lines `npm run s3` prints, in the environment's own names. */
export function envLines(s3: LocalS3): string[] {
  return [
    `S3_ENDPOINT=${s3.endpoint}`,
    `S3_ACCESS_KEY_ID=${s3.accessKeyId}`,
    `S3_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
    `S3_BUCKET=${s3.bucket}`,
    `S3_REGION=${s3.region}`,
  ];
}

interface Paths {
  dir: string;
  conf: string;
  keyring: string;
  settings: string;
  port: string;
  initialized: string;
  log: string;
  run: string;
}

const pathsOf = (dir: string): Paths => ({
  dir,
  conf: join(dir, 'ceph.conf'),
  keyring: join(dir, 'keyring'),
  settings: join(dir, 's3.json'),
  port: join(dir, 'rgw.port'),
  initialized: join(dir, 'initialized'),
  log: join(dir, 'log'),
  run: join(dir, 'run'),
});

const DAEMONS = { mon: 'mon.a', osd: 'osd.0', rgw: 'client.rgw.a' } as const;
type Daemon = keyof typeof DAEMONS;

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

function cephConf(p: Paths, fsid: string): string {
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${MON_PORTS[0]},v1:127.0.0.1:${MON_PORTS[1]}]
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = ${p.keyring}
run dir = ${p.run}
pid file = ${p.run}/$name.pid
admin socket = ${p.run}/$name.asok
log file = ${p.log}/$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = ${p.dir}/mon

[osd]
osd data = ${p.dir}/osd
osd objectstore = bluestore
bluestore block path = ${p.dir}/osd-block
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 939524096
bluestore cache autotune = true

[client.rgw.a]
rgw data = ${p.dir}/rgw
rgw thread pool size = 64
rgw enable usage log = false
`;
}

async function ceph(p: Paths, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await run('ceph', ['-c', p.conf, '--connect-timeout', '15', ...args], { timeout: timeoutMs });
    return stdout;
  } catch (error) {
    throw new Error(`ceph ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`, { cause: error });
  }
}

/** The PID of a daemon of this cluster if it is alive (its pid file names a live process of ours). */
async function daemonPid(p: Paths, daemon: Daemon): Promise<number | undefined> {
  const pid = Number((await readFile(join(p.run, `${DAEMONS[daemon]}.pid`), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes(p.conf) ? pid : undefined;
}

/** Any HTTP answer from the gateway (an anonymous request gets an S3 error document) means it serves. */
const answers = (endpoint: string) => fetch(endpoint, { signal: AbortSignal.timeout(1000) }).then(async (r) => (await r.body?.cancel(), true));

async function createCluster(p: Paths): Promise<void> {
  // Leftovers of an interrupted first start: its daemons, then its files.
  await stopDaemons(p);
  await rm(p.dir, { recursive: true, force: true });
  for (const d of [p.dir, p.log, p.run, join(p.dir, 'mon'), join(p.dir, 'osd'), join(p.dir, 'rgw')]) await mkdir(d, { recursive: true, mode: 0o700 });
  await writeFile(p.conf, cephConf(p, randomUUID()));
  const keys: [string, string[]][] = [
    ['mon.', ['--cap', 'mon', 'allow *']],
    ['client.admin', ['--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']],
    [DAEMONS.osd, ['--cap', 'mon', 'allow profile osd', '--cap', 'osd', 'allow *']],
    [DAEMONS.rgw, ['--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx']],
  ];
  await tool('ceph-authtool', ['--create-keyring', p.keyring]);
  for (const [name, caps] of keys) await tool('ceph-authtool', [p.keyring, '--gen-key', '-n', name, ...caps]);
  const monmap = join(p.dir, 'monmap');
  const fsid = /fsid = (\S+)/.exec(await readFile(p.conf, 'utf8'))![1]!;
  await tool('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${MON_PORTS[0]},v1:127.0.0.1:${MON_PORTS[1]}]`, monmap]);
  await tool('ceph-mon', ['-c', p.conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', p.keyring]);
  const s3: LocalS3 = {
    endpoint: '',
    accessKeyId: `MH${randomBytes(9).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
    bucket: BUCKET,
    region: REGION,
  };
  await writeFile(p.settings, JSON.stringify(s3), { mode: 0o600 });
}

async function startMon(p: Paths): Promise<void> {
  if (await daemonPid(p, 'mon')) return;
  for (const port of MON_PORTS) {
    if (!(await portFree(port))) throw new Error(`port ${port} on 127.0.0.1 is taken: another Ceph monitor (another state directory?) runs on this machine`);
  }
  await tool('ceph-mon', ['-c', p.conf, '-i', 'a']);
  await waitFor('the Ceph monitor did not answer', 30_000, async () => (await ceph(p, ['mon', 'stat'], 5000), true), join(p.log, 'mon.a.log'));
}

async function startOsd(p: Paths, first: boolean): Promise<void> {
  if (first) {
    // The monitor's mkfs imports only its own key: give it the others.
    await ceph(p, ['auth', 'import', '-i', p.keyring]);
    const uuid = randomUUID();
    const id = (await ceph(p, ['osd', 'new', uuid])).trim();
    if (id !== '0') throw new Error(`expected OSD id 0, got ${id}`);
    await tool('ceph-osd', ['-c', p.conf, '-i', '0', '--mkfs', '--osd-uuid', uuid], 120_000);
  }
  if (!(await daemonPid(p, 'osd'))) await tool('ceph-osd', ['-c', p.conf, '-i', '0']);
  await waitFor(
    'the OSD did not come up',
    60_000,
    async () => /"num_up_osds":1/.test(await ceph(p, ['osd', 'stat', '-f', 'json'], 5000)),
    join(p.log, 'osd.0.log'),
  );
}

async function startRgw(p: Paths): Promise<string> {
  let port = Number((await readFile(p.port, 'utf8').catch(() => '')).trim());
  if (!(await daemonPid(p, 'rgw'))) {
    if (!port || !(await portFree(port))) port = await freePort();
    await writeFile(p.port, String(port));
    await tool('radosgw', ['-c', p.conf, '-n', DAEMONS.rgw, `--rgw-frontends=beast endpoint=127.0.0.1:${port} tcp_nodelay=1`]);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor('the RADOS Gateway did not answer', 90_000, () => answers(endpoint), join(p.log, `${DAEMONS.rgw}.log`));
  return endpoint;
}

/**
 * Start whatever part of the cluster is not running (creating the cluster, its
 * S3 user and bucket on first use) and return once S3 answers. Safe to call
 * from several processes at once: they take turns on a lock.
 */
export async function ensureLocalS3(dir = DEFAULT_S3_STATE_DIR): Promise<LocalS3> {
  const p = pathsOf(dir);
  return withLock(`${dir}.lock`, 180_000, async () => {
    const first = !(await exists(p.initialized));
    if (first) await createCluster(p);
    await startMon(p);
    await startOsd(p, first);
    const endpoint = await startRgw(p);
    const s3: LocalS3 = { ...(JSON.parse(await readFile(p.settings, 'utf8')) as LocalS3), endpoint };
    if (first) {
      await tool('radosgw-admin', [
        '-c',
        p.conf,
        'user',
        'create',
        '--uid=meterhouse',
        '--display-name=meterhouse',
        `--access-key=${s3.accessKeyId}`,
        `--secret-key=${s3.secretAccessKey}`,
      ]);
      await createBucket(s3);
      await writeFile(p.initialized, new Date().toISOString());
    }
    return s3;
  });
}

async function stopDaemons(p: Paths): Promise<Daemon[]> {
  const stopped: Daemon[] = [];
  // Gateway first, monitor last: each stops while what it talks to is still up.
  for (const daemon of ['rgw', 'osd', 'mon'] as const) {
    const pid = await daemonPid(p, daemon);
    if (!pid) continue;
    process.kill(pid, 'SIGTERM');
    // The pid file goes before the process does: wait for the process.
    const gone = () =>
      access(`/proc/${pid}`).then(
        () => false,
        () => true,
      );
    await waitFor(`${DAEMONS[daemon]} (PID ${pid}) did not stop`, 30_000, gone).catch(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it exited meanwhile
      }
    });
    stopped.push(daemon);
  }
  return stopped;
}

/** Stop the cluster's daemons; its data stays for the next start. */
export async function stopLocalS3(dir = DEFAULT_S3_STATE_DIR): Promise<Daemon[]> {
  return withLock(`${dir}.lock`, 60_000, () => stopDaemons(pathsOf(dir)));
}

/**
 * `npm run s3`: start the local S3 server (single-node Ceph RADOS Gateway, see
 * scripts/s3/ceph.ts) if it is not running, print its settings as
 * S3_ENDPOINT=... lines once it answers, and return. `npm run s3 -- stop`
 * stops it (its data stays). `--dir` chooses the state directory.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_S3_STATE_DIR, ensureLocalS3, envLines, stopLocalS3 } from './s3/ceph.js';

const usage = 'usage: npm run s3 [-- [start|stop] [--dir DIR]]';

let parsed;
try {
  parsed = parseArgs({ options: { dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
} catch (error) {
  process.stderr.write(`s3: ${(error as Error).message}\n${usage}\n`);
  process.exit(2);
}
const { values, positionals } = parsed;
const command = positionals[0] ?? 'start';
if (values.help || positionals.length > 1 || !['start', 'stop'].includes(command)) {
  process.stdout.write(`${usage}\n`);
  process.exit(values.help ? 0 : 2);
}
const dir = values.dir ?? DEFAULT_S3_STATE_DIR;

try {
  if (command === 'stop') {
    const stopped = await stopLocalS3(dir);
    process.stdout.write(stopped.length > 0 ? `s3: stopped ${stopped.join(', ')} (data kept in ${dir})\n` : 's3: not running\n');
  } else {
    const started = Date.now();
    const s3 = await ensureLocalS3(dir);
    process.stderr.write(`s3: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (state in ${dir})\n`);
    process.stdout.write(`${envLines(s3).join('\n')}\n`);
  }
} catch (error) {
  process.stderr.write(`s3: ${(error as Error).message}\n`);
  process.exit(1);
}

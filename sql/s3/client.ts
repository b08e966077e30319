import { signS3Request, type S3Credentials } from './sign.js';

/** An S3 bucket (path-style addressing, as Ceph RGW and MinIO serve it). */
export interface S3Target extends S3Credentials {
  endpoint: string;
  bucket: string;
}

export interface S3Object {
  key: string;
  size: number;
}

/** An S3 request that failed; the message never contains the secret key. */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function bucketUrl(target: S3Target, query: Record<string, string> = {}): URL {
  const url = new URL(target.endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(target.bucket)}`;
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

async function send(target: S3Target, method: string, url: URL, timeoutMs: number): Promise<Response> {
  const signed = signS3Request(target, method, url);
  try {
    return await fetch(signed.url, { method, headers: signed.headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const why =
      error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : cause instanceof Error ? cause.message : String(cause);
    throw new S3Error(`S3 endpoint ${target.endpoint} is not reachable: ${why}`, undefined, { cause: error });
  }
}

/** S3 error documents carry a <Code>; status text alone is often empty. */
async function errorCode(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.status}`;
}

/**
 * Check, with one short request, that the endpoint answers, the credentials are
 * accepted and the bucket exists; the error says which of them is wrong.
 */
export async function probeBucket(target: S3Target, timeoutMs: number): Promise<void> {
  const res = await send(target, 'GET', bucketUrl(target, { 'list-type': '2', 'max-keys': '1' }), timeoutMs);
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const code = await errorCode(res);
  const where = `bucket "${target.bucket}" at ${target.endpoint}`;
  if (res.status === 404) throw new S3Error(`${where} does not exist (${code})`, res.status);
  if (res.status === 403)
    throw new S3Error(
      `${where}: access denied for access key ${target.accessKeyId} (${code}): check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`,
      res.status,
    );
  throw new S3Error(`${where} answered ${res.status} (${code})`, res.status);
}

/** Create the bucket; an existing bucket owned by these credentials is fine. */
export async function createBucket(target: S3Target, timeoutMs = 10_000): Promise<void> {
  const res = await send(target, 'PUT', bucketUrl(target), timeoutMs);
  if (res.ok) return void (await res.body?.cancel());
  const code = await errorCode(res);
  if (code === 'BucketAlreadyOwnedByYou') return;
  throw new S3Error(`cannot create bucket "${target.bucket}" at ${target.endpoint}: ${code}`, res.status);
}

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

/** Every object under a prefix (ListObjectsV2, following continuation tokens). */
export async function listObjects(target: S3Target, prefix: string, timeoutMs = 10_000): Promise<S3Object[]> {
  const objects: S3Object[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': '1000' };
    if (token) query['continuation-token'] = token;
    const res = await send(target, 'GET', bucketUrl(target, query), timeoutMs);
    if (!res.ok) throw new S3Error(`cannot list bucket "${target.bucket}": ${await errorCode(res)}`, res.status);
    const xml = await res.text();
    for (const [, body] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = /<Key>([\s\S]*?)<\/Key>/.exec(body!)?.[1];
      const size = /<Size>(\d+)<\/Size>/.exec(body!)?.[1];
      if (key !== undefined) objects.push({ key: unescapeXml(key), size: Number(size ?? 0) });
    }
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml)?.[1] : undefined;
  } while (token);
  return objects;
}

function objectUrl(target: S3Target, key: string): URL {
  const url = bucketUrl(target);
  url.pathname = `${url.pathname}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return url;
}

/** Write one object (a single PUT; a PUT of the same key and bytes again is harmless). */
export async function putObject(target: S3Target, key: string, body: Uint8Array, contentType: string, timeoutMs = 10_000): Promise<void> {
  const url = objectUrl(target, key);
  const signed = signS3Request(target, 'PUT', url, body);
  let res: Response;
  try {
    res = await fetch(signed.url, {
      method: 'PUT',
      headers: { ...signed.headers, 'content-type': contentType },
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new S3Error(`cannot write s3://${target.bucket}/${key} at ${target.endpoint}: ${error instanceof Error ? error.message : String(error)}`, undefined, {
      cause: error,
    });
  }
  if (!res.ok) throw new S3Error(`cannot write s3://${target.bucket}/${key}: ${await errorCode(res)}`, res.status);
  await res.body?.cancel();
}

/** Read one object whole; undefined when it does not exist. */
export async function getObject(target: S3Target, key: string, timeoutMs = 10_000): Promise<Buffer | undefined> {
  const res = await send(target, 'GET', objectUrl(target, key), timeoutMs);
  if (res.status === 404) return void (await res.body?.cancel());
  if (!res.ok) throw new S3Error(`cannot read s3://${target.bucket}/${key}: ${await errorCode(res)}`, res.status);
  return Buffer.from(await res.arrayBuffer());
}

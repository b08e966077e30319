import { describe, expect, it } from 'vitest';
import { signS3Request, uriEncode } from './sign.js';

// The worked examples of AWS's "Signature Version 4 (AWS SigV4)" for S3 (header-based auth).
const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' };
const at = new Date('2013-05-24T00:00:00Z');
const signature = (url: string) => /Signature=([0-9a-f]{64})$/.exec(signS3Request(creds, 'GET', new URL(url), '', at).headers.authorization!)?.[1];

describe('SigV4 for S3', () => {
  it('matches AWS examples: GET bucket lifecycle, list objects', () => {
    expect(signature('https://examplebucket.s3.amazonaws.com/?lifecycle')).toBe('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
    expect(signature('https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J')).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  it('never puts the secret key in the headers', () => {
    const headers = signS3Request(creds, 'GET', new URL('http://127.0.0.1:9000/b?list-type=2'), '', at).headers;
    expect(JSON.stringify(headers)).not.toContain(creds.secretAccessKey);
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, /,
    );
  });

  it('encodes as RFC 3986', () => {
    expect(uriEncode("a b/c*'~")).toBe('a%20b%2Fc%2A%27~');
  });
});

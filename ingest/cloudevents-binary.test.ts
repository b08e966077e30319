import { describe, expect, it } from 'vitest';
import { binaryCloudEvent, decodeHeaderValue } from './cloudevents-binary.js';

describe('decodeHeaderValue (CloudEvents HTTP binding)', () => {
  it('percent-decodes one round, as UTF-8', () => {
    expect(decodeHeaderValue('acme')).toEqual({ value: 'acme' });
    expect(decodeHeaderValue('acm%C3%A9%20%22q%22%20%2541')).toEqual({ value: 'acmé "q" %41' });
    expect(decodeHeaderValue('%F0%9F%93%88')).toEqual({ value: '📈' });
  });

  it('unquotes a double-quoted value first (older senders)', () => {
    expect(decodeHeaderValue('"a \\"b\\" c"')).toEqual({ value: 'a "b" c' });
    expect(decodeHeaderValue('"a"b"')).toMatchObject({ error: expect.stringMatching(/quoted string/) });
  });

  it('refuses what it would have to guess or replace', () => {
    expect(decodeHeaderValue('acmé')).toMatchObject({ error: expect.stringMatching(/printable ASCII/) });
    expect(decodeHeaderValue('50%')).toMatchObject({ error: expect.stringMatching(/'%' at character 3/) });
    expect(decodeHeaderValue('%zz')).toMatchObject({ error: expect.stringMatching(/%25/) });
    expect(decodeHeaderValue('%FF')).toEqual({ error: 'percent-decodes to bytes that are not UTF-8' });
    expect(decodeHeaderValue('%ED%A0%80')).toEqual({ error: 'percent-decodes to bytes that are not UTF-8' }); // a lone surrogate
  });
});

describe('binaryCloudEvent', () => {
  it('is binary mode only with ce-specversion and a media type that is not a cloudevents one', () => {
    expect(binaryCloudEvent(new Headers({ 'content-type': 'application/json' }))).toBeUndefined();
    expect(binaryCloudEvent(new Headers({ 'ce-specversion': '1.0', 'content-type': 'application/cloudevents+json' }))).toBeUndefined();
    expect(binaryCloudEvent(new Headers({ 'ce-specversion': '1.0', 'content-type': 'text/plain' }))?.mediaTypeError).toMatch(/must be JSON/);
  });

  it('maps headers and body onto a structured CloudEvent', () => {
    const b = binaryCloudEvent(
      new Headers({
        'ce-specversion': '1.0',
        'ce-id': 'e%2F1',
        'ce-type': 't',
        'ce-myext': 'x',
        'content-type': 'application/json; charset=utf-8',
        authorization: 'Bearer k',
      }),
    )!;
    expect(b.withData({ quantity: '2' })).toEqual({
      specversion: '1.0',
      id: 'e/1',
      type: 't',
      myext: 'x',
      datacontenttype: 'application/json; charset=utf-8',
      data: { quantity: '2' },
    });
    expect(b.withData(undefined)).not.toHaveProperty('data');
  });
});

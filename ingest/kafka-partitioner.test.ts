import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { memoizedDefaultPartitioner } from './kafka-partitioner.js';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
const args = (key: PartitionerArgs['message']['key'], partitions: PartitionMetadata[], partition?: number): PartitionerArgs => ({
  topic: 'usage-events',
  partitionMetadata: partitions,
  message: { key, value: '{}', ...(partition === undefined ? {} : { partition }) },
});
const keys = Array.from({ length: 5_000 }, (_, i) => `tenant-${i % 7}:cust-${(i * 7919) % 1_300}${i % 11 === 0 ? '-é😀' : ''}`);

describe('memoizedDefaultPartitioner', () => {
  it("answers KafkaJS's default partitioner for every key, again and again, as the partition count changes", () => {
    const reference = Partitioners.DefaultPartitioner();
    const memoized = memoizedDefaultPartitioner()();
    for (const n of [4, 1, 12, 4, 7, 2, 4]) {
      const partitions = metadata(n);
      for (const key of [...keys, ...keys]) expect(memoized(args(key, partitions))).toBe(reference(args(key, partitions)));
    }
  });

  it('keeps at most its bound of keys and still answers the same', () => {
    const reference = Partitioners.DefaultPartitioner();
    const memoized = memoizedDefaultPartitioner(10)();
    const partitions = metadata(5);
    for (const key of [...keys, ...keys.slice(0, 100)]) expect(memoized(args(key, partitions))).toBe(reference(args(key, partitions)));
  });

  it('hashes a key once, then answers from memory', () => {
    // KafkaJS's partitioner filters the partitions' metadata on every call: count the calls.
    const partitions = metadata(4);
    let filtered = 0;
    const filter = partitions.filter.bind(partitions);
    Object.defineProperty(partitions, 'filter', { value: (...a: Parameters<typeof filter>) => (filtered++, filter(...a)) });
    const memoized = memoizedDefaultPartitioner()();
    for (let i = 0; i < 1_000; i++) memoized(args('tenant-1:cust-42', partitions));
    for (let i = 0; i < 1_000; i++) memoized(args('tenant-1:cust-43', partitions));
    expect(filtered).toBe(2);
  });

  it('leaves a message with its own partition, or without a string key, to the partitioner', () => {
    const memoized = memoizedDefaultPartitioner()();
    const partitions = metadata(8);
    expect(memoized(args('tenant-1:cust-42', partitions, 6))).toBe(6);
    expect(memoized(args('tenant-1:cust-42', partitions, 3))).toBe(3);
    const reference = Partitioners.DefaultPartitioner();
    const buffer = Buffer.from('tenant-1:cust-42');
    expect(memoized(args(buffer, partitions))).toBe(reference(args(buffer, partitions)));
    // Without a key KafkaJS picks partitions in turn: always a valid one.
    for (let i = 0; i < 20; i++) expect(memoized(args(null, partitions))).toBeGreaterThanOrEqual(0);
  });
});

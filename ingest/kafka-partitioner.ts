import { Partitioners, type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';

/** Keys remembered at most; past it the memo starts again (a tenant's customers, typically, fit many times over). */
export const PARTITION_MEMO_KEYS = 100_000;

/**
 * KafkaJS's default (Java-compatible murmur2) partitioner with each key's partition remembered. A keyed message's
 * partition depends only on its key and the topic's partition count (`murmur2(key) % partitions`), so a remembered
 * answer is the one the partitioner gives; the memo starts again when the count changes. Messages with a partition
 * of their own or without a string key go to the partitioner as they are.
 *
 * Why: the API keys every message `tenant:customerId`, and a customer sends many events. KafkaJS computes murmur2 in
 * 64-bit emulation and filters the topic's partitions again for every message: about 3 of the Kafka path's server
 * CPU seconds per 1M events in a profile (docs/benchmarks.md, "Kafka path").
 */
export function memoizedDefaultPartitioner(maxKeys = PARTITION_MEMO_KEYS): ICustomPartitioner {
  return () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const memo = new Map<string, number>();
    let partitions = -1;
    return (args: PartitionerArgs) => {
      const { key, partition } = args.message;
      if (typeof key !== 'string' || (partition !== undefined && partition !== null)) return partitioner(args);
      if (args.partitionMetadata.length !== partitions) {
        memo.clear();
        partitions = args.partitionMetadata.length;
      }
      let chosen = memo.get(key);
      if (chosen === undefined) {
        chosen = partitioner(args);
        if (memo.size >= maxKeys) memo.clear();
        memo.set(key, chosen);
      }
      return chosen;
    };
  };
}

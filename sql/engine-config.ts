/**
 * The embedded engine's server configuration. ClickHouse defaults are sized
 * for a dedicated server (90% of RAM, a 5 GiB mark cache); meterhouse shares a
 * machine with its API, so every cache and pool is capped here.
 */
export interface EngineLimits {
  maxServerMemoryBytes: number;
  markCacheBytes: number;
  backgroundPoolSize: number;
  /** fsync every inserted part before the insert returns: an acknowledged event survives power loss. */
  fsyncAfterInsert: boolean;
  /**
   * The Kafka engine's consumer session timeout: how long a consumer that died
   * without leaving (a crash, SIGKILL) keeps its partitions before the group
   * hands them to a live one. librdkafka's default is 45 s.
   */
  kafkaSessionTimeoutMs?: number | undefined;
}

export function renderEngineConfig(limits: EngineLimits): string {
  const fsync = limits.fsyncAfterInsert ? 1 : 0;
  return `<clickhouse>
  <max_server_memory_usage>${Math.trunc(limits.maxServerMemoryBytes)}</max_server_memory_usage>
  <mark_cache_size>${Math.trunc(limits.markCacheBytes)}</mark_cache_size>
  <index_mark_cache_size>${Math.trunc(limits.markCacheBytes / 4)}</index_mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <background_pool_size>${Math.trunc(limits.backgroundPoolSize)}</background_pool_size>
  <background_merges_mutations_concurrency_ratio>2</background_merges_mutations_concurrency_ratio>
  <merge_tree>
    <fsync_after_insert>${fsync}</fsync_after_insert>
    <fsync_part_directory>${fsync}</fsync_part_directory>
  </merge_tree>${limits.kafkaSessionTimeoutMs ? `
  <kafka>
    <session_timeout_ms>${Math.trunc(limits.kafkaSessionTimeoutMs)}</session_timeout_ms>
    <heartbeat_interval_ms>${Math.max(100, Math.trunc(limits.kafkaSessionTimeoutMs / 3))}</heartbeat_interval_ms>
  </kafka>` : ''}
</clickhouse>
`;
}

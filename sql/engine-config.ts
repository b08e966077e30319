import { COLD_DISK, COLD_VOLUME, HOT_VOLUME, STORAGE_POLICY, diskEndpoint, type S3Storage } from './tiering.js';

/**
 * The embedded engine's server configuration. ClickHouse defaults are sized
 * for a dedicated server (90% of RAM, a 5 GiB mark cache); meterhouse shares a
 * machine with its API, so every cache and pool is capped here.
 */
export interface EngineLimits {
  maxServerMemoryBytes: number;
  markCacheBytes: number;
  backgroundPoolSize: number;
  /**
   * The Linux nice value of the engine's merge and mutation threads (0-19; 0: the same as every other
   * thread). Above 0, merges yield the CPU to inserts and reads when both want it, and take whatever
   * is idle otherwise: on 2 cores, merges took a third of the server's CPU during a 10M backfill
   * (docs/benchmarks.md, "Merge threads at a lower priority").
   */
  mergeThreadsNice?: number | undefined;
  /** fsync every inserted part before the insert returns: an acknowledged event survives power loss. */
  fsyncAfterInsert: boolean;
  /**
   * The Kafka engine's consumer session timeout: how long a consumer that died
   * without leaving (a crash, SIGKILL) keeps its partitions before the group
   * hands them to a live one. librdkafka's default is 45 s.
   */
  kafkaSessionTimeoutMs?: number | undefined;
}

const xml = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * An `s3` disk and the hot/cold policy over it. The file holds the secret key:
 * it is written owner-only (sql/connect.ts) and never logged.
 */
function renderStorage(s3: S3Storage): string {
  return `
  <storage_configuration>
    <disks>
      <${COLD_DISK}>
        <type>s3</type>
        <endpoint>${xml(diskEndpoint(s3))}</endpoint>
        <access_key_id>${xml(s3.accessKeyId)}</access_key_id>
        <secret_access_key>${xml(s3.secretAccessKey)}</secret_access_key>
        <region>${xml(s3.region)}</region>
        <retry_attempts>${Math.trunc(s3.retryAttempts)}</retry_attempts>
        <connect_timeout_ms>${Math.trunc(s3.connectTimeoutMs)}</connect_timeout_ms>
      </${COLD_DISK}>
    </disks>
    <policies>
      <${STORAGE_POLICY}>
        <volumes>
          <${HOT_VOLUME}><disk>default</disk></${HOT_VOLUME}>
          <${COLD_VOLUME}><disk>${COLD_DISK}</disk></${COLD_VOLUME}>
        </volumes>
      </${STORAGE_POLICY}>
    </policies>
  </storage_configuration>`;
}

export function renderEngineConfig(limits: EngineLimits, s3?: S3Storage): string {
  const fsync = limits.fsyncAfterInsert ? 1 : 0;
  return `<clickhouse>
  <max_server_memory_usage>${Math.trunc(limits.maxServerMemoryBytes)}</max_server_memory_usage>
  <mark_cache_size>${Math.trunc(limits.markCacheBytes)}</mark_cache_size>
  <index_mark_cache_size>${Math.trunc(limits.markCacheBytes / 4)}</index_mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <background_pool_size>${Math.trunc(limits.backgroundPoolSize)}</background_pool_size>
  <background_merges_mutations_concurrency_ratio>2</background_merges_mutations_concurrency_ratio>
  <os_threads_nice_value_merge_mutate>${Math.trunc(limits.mergeThreadsNice ?? 0)}</os_threads_nice_value_merge_mutate>
  <merge_tree>
    <fsync_after_insert>${fsync}</fsync_after_insert>
    <fsync_part_directory>${fsync}</fsync_part_directory>
  </merge_tree>${
    limits.kafkaSessionTimeoutMs
      ? `
  <kafka>
    <session_timeout_ms>${Math.trunc(limits.kafkaSessionTimeoutMs)}</session_timeout_ms>
    <heartbeat_interval_ms>${Math.max(100, Math.trunc(limits.kafkaSessionTimeoutMs / 3))}</heartbeat_interval_ms>
  </kafka>`
      : ''
  }${s3 ? renderStorage(s3) : ''}
</clickhouse>
`;
}

import { Kafka, logLevel, type Admin } from 'kafkajs';

/**
 * Kafka administration the process needs: make sure the topic exists (with
 * the configured partitions) and read the consumer group's lag for /metrics.
 * One admin connection, opened lazily and dropped after any failure.
 */
export class KafkaAdmin {
  private readonly kafka: Kafka;
  private admin: Admin | undefined;

  constructor(private readonly opts: { brokers: string[]; clientId: string; topic: string; group: string; timeoutMs: number }) {
    this.kafka = new Kafka({
      clientId: `${opts.clientId}-admin`,
      brokers: opts.brokers,
      connectionTimeout: Math.min(3000, opts.timeoutMs),
      requestTimeout: opts.timeoutMs,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
      logLevel: logLevel.NOTHING,
    });
  }

  /** Run `fn` on the connection; after a failure, once more on a fresh one (the old may be stale after an outage). */
  private async connected<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.admin) {
          const admin = this.kafka.admin();
          this.admin = admin;
          await admin.connect();
        }
        return await fn(this.admin);
      } catch (error) {
        await this.close();
        if (attempt >= 2) throw error;
      }
    }
  }

  /** Create the topic if the cluster does not list it; 'exists' | 'created'. */
  ensureTopic(partitions: number, replicationFactor: number): Promise<'exists' | 'created'> {
    return this.connected(async (admin) => {
      if ((await admin.listTopics()).includes(this.opts.topic)) return 'exists';
      await admin.createTopics({ topics: [{ topic: this.opts.topic, numPartitions: partitions, replicationFactor }], waitForLeaders: true });
      return 'created';
    });
  }

  /** Messages in the topic not yet committed by the consumer group, per partition. */
  consumerLag(): Promise<{ partition: number; lag: number }[]> {
    return this.connected(async (admin) => {
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(this.opts.topic),
        admin.fetchOffsets({ groupId: this.opts.group, topics: [this.opts.topic] }),
      ]);
      const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      return ends.map((end) => {
        const high = Number(end.high);
        const at = done.get(end.partition) ?? -1;
        // No commit yet: everything from the log start is lag.
        return { partition: end.partition, lag: Math.max(0, high - (at >= 0 ? at : Number(end.low))) };
      });
    });
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => {});
  }
}

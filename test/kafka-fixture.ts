import { Kafka, logLevel, type Producer } from 'kafkajs';
import { closeEngine } from './harness.js';
import type { KafkaBroker } from './kafka-broker.js';

/** An idempotent producer on the test broker, connected: what another service producing into the topic would use. */
export async function connectedProducer(broker: KafkaBroker): Promise<Producer> {
  const producer = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

/** The end of a Kafka test file: the producer disconnected, then the engine closed (its consumers stop before their broker does), then the broker. */
export async function closeKafkaEngine(producer: Producer | undefined, broker: KafkaBroker | undefined): Promise<void> {
  await producer?.disconnect();
  await closeEngine();
  await broker?.stop();
}

import { randomUUID } from "node:crypto";
import os from "node:os";
import { Queue, type ConnectionOptions, type JobsOptions } from "bullmq";
import type { Db } from "~/server/platform/db/client";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "~/server/reliability/outbox/backoff";
import type { DeliveredEvent } from "~/server/contracts/events";
import { claimDueEvents, markPublished, markPublishFailed, releaseClaims, type ClaimedEvent } from "~/server/reliability/outbox/relay-store";
import type { Logger } from "~/server/platform/logger";
import { queueKeyPrefix, QueueName } from "~/server/contracts/queues";
import type { WorkerMetrics } from "../metrics";
import { listenForOutboxEvents } from "./outbox-notify-listener";
import { createDeferredMarks } from "./outbox-published-marks";
import type { Link } from "@opentelemetry/api";
import { bullmqTelemetry } from "~/server/platform/telemetry/bullmq";
import { linkFromCarrier, SpanKind, tracingEnabled, withSpan, type TraceCarrier } from "~/server/platform/telemetry/tracing";

export interface OutboxRelayOptions {
  /** Fallback poll when no notification arrives (missed NOTIFY, retries coming due, expired leases). */
  pollIntervalMs: number;
  batchSize: number;
  /** How long a claim is this relay's; after it, another relay takes the events over. */
  leaseMs: number;
  /** Backoff between publish attempts of a failing event. */
  retry?: BackoffPolicy;
  /** What the consumers' jobs get: attempts and backoff of a failing handler. */
  consumerJob?: { attempts: number; backoffMs: number };
  /** Give up on one publish call after this long (Redis unresponsive). */
  publishTimeoutMs?: number;
  /**
   * How long after publishing a batch the relay marks it published (default: half the lease). The
   * consumers' consumed mark marks an event published too, so the events consumed by then cost no
   * mark of their own (outbox-published-marks.ts). 0: mark at once.
   */
  publishedMarkDelayMs?: number;
  relayId?: string;
}

/** One event as a job of the outbox-events queue. */
export type OutboxJobToAdd = ReturnType<typeof toJob>;

/**
 * Where the relay's jobs go: by default the outbox-events queue's addBulk. Another publisher wraps
 * that queue (a test's broker that refuses some events, or one that stops at a chosen moment).
 */
export type OutboxPublisher = (queue: Queue, jobs: OutboxJobToAdd[]) => Promise<unknown>;

const addToQueue: OutboxPublisher = (queue, jobs) => queue.addBulk(jobs);

export interface RelayDeps {
  db: Db;
  /** For the relay's own LISTEN connection. */
  databaseUrl: string;
  connection: ConnectionOptions;
  prefix: string;
  logger: Logger;
  options: OutboxRelayOptions;
  /** Relay lag (commit → in the queue) and publish failures, for the worker's /metrics. */
  metrics?: Pick<WorkerMetrics, "published" | "publishFailed">;
  /** How a batch is published (default: addBulk on the outbox-events queue). */
  publisher?: OutboxPublisher;
}

export function consumerJobOptions(eventId: string, consumerJob: { attempts: number; backoffMs: number }): JobsOptions {
  return {
    // The event id as job id: publishing the same event again (after a lost mark, a lease takeover)
    // is a no-op in BullMQ while the first job is kept.
    jobId: eventId,
    attempts: consumerJob.attempts,
    backoff: { type: "exponential", delay: consumerJob.backoffMs, jitter: 0.5 },
    // Keep completed jobs long enough to outlive any lease, so a re-publish stays a no-op; the
    // inbox makes a later duplicate harmless anyway. Failed jobs go (PostgreSQL records the death)
    // so an operator's retry can publish the event again under the same id.
    removeOnComplete: { age: 3600, count: 50_000 },
    removeOnFail: true,
  };
}

export function toJob(event: ClaimedEvent, consumerJob: { attempts: number; backoffMs: number }) {
  const data: DeliveredEvent = {
    id: event.id,
    type: event.eventType,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    aggregateSeq: event.aggregateSeq,
    payload: event.payload,
    headers: event.headers,
    createdAt: event.createdAt.toISOString(),
  };
  return { name: event.eventType, data, opts: consumerJobOptions(event.id, consumerJob) };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Span links of a relay round: the writing request of each event (bounded: a span keeps 128 links). */
function roundLinks(events: ClaimedEvent[]): Link[] | undefined {
  if (!tracingEnabled()) return undefined;
  const links: Link[] = [];
  for (const event of events) {
    const link = linkFromCarrier(event.headers as TraceCarrier);
    if (link) links.push(link);
    if (links.length === 128) break;
  }
  return links;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The outbox relay: claims due events (FOR UPDATE SKIP LOCKED, with a lease), publishes them to the
 * outbox-events queue with the event id as job id, marks them published. It wakes on NOTIFY (sent
 * by PostgreSQL at commit) and polls as a fallback. Several relays may run side by side.
 */
export async function startOutboxRelay(deps: RelayDeps) {
  const { db, logger, options } = deps;
  const relayId = options.relayId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = logger.child({ component: "outbox-relay", relayId });
  const retry = options.retry ?? DEFAULT_BACKOFF;
  const consumerJob = options.consumerJob ?? { attempts: 5, backoffMs: 1000 };
  const publishTimeoutMs = options.publishTimeoutMs ?? Math.max(1000, Math.floor(options.leaseMs / 3));

  // A producer fails fast while Redis is away (no offline queue, one retry per command) so the relay
  // notices the outage and hands its claims back instead of hanging on them.
  const queue = new Queue(QueueName.outboxEvents, {
    connection: { ...deps.connection, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(100 * times, 1000) } as ConnectionOptions,
    prefix: queueKeyPrefix(deps.prefix, QueueName.outboxEvents),
    ...bullmqTelemetry(),
  });
  let lastQueueError = 0;
  queue.on("error", (err) => {
    // ioredis repeats its connection error on every reconnect attempt: log it now and then.
    if (Date.now() - lastQueueError > 10_000) log.warn({ err: err.message }, "outbox queue connection error");
    lastQueueError = Date.now();
  });

  let stopping = false;
  let wakePending = true;
  let wakeNow: (() => void) | null = null;
  const wake = () => {
    wakePending = true;
    wakeNow?.();
  };
  const waitForWake = (ms: number) =>
    new Promise<void>((resolve) => {
      if (wakePending || stopping) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeNow = null;
        resolve();
      }
      wakeNow = done;
    });

  const listener = listenForOutboxEvents({ databaseUrl: deps.databaseUrl, logger: log, onNotify: wake });

  const stats = { claimed: 0, published: 0, markedElsewhere: 0, failed: 0, released: 0, cycles: 0 };

  async function redisReachable(): Promise<boolean> {
    try {
      // Any real round trip will do; this one is cheap (an LLEN-like count).
      await withTimeout(queue.count(), 1000, "Redis round trip");
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Claim nothing while Redis is known (or, at start, not yet known) to be unreachable: events stay
   * pending in PostgreSQL, unleased, for any relay that can publish them, until Redis answers again.
   */
  let brokerUp = false;
  async function ensureBroker() {
    if (brokerUp) return;
    if (await redisReachable()) {
      brokerUp = true;
      return;
    }
    log.warn("Redis is unreachable: outbox events stay pending until it is back");
    let delay = 200;
    while (!stopping && !(await redisReachable())) {
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
    if (stopping) return;
    brokerUp = true;
    log.info("Redis is reachable again: publishing resumes");
  }

  const publish = deps.publisher ?? addToQueue;

  /** One claim → publish → mark round. Returns how many events it claimed. */
  async function cycle(): Promise<number> {
    // At most one batch's mark pending behind the publishing: marks never pile up.
    if (marks.running > 1) await marks.settled();
    const events = await claimDueEvents(db, { relayId, batchSize: options.batchSize, leaseMs: options.leaseMs });
    if (events.length === 0) return 0;
    // A round's span links to the requests whose events it carries (a span has one parent; a batch has many).
    return withSpan(
      "outbox.relay round",
      { kind: SpanKind.PRODUCER, attributes: { "messaging.batch.message_count": events.length, "metastore.relay_id": relayId }, links: roundLinks(events) },
      () => publishClaimed(events),
    );
  }

  async function publishClaimed(events: ClaimedEvent[]): Promise<number> {
    stats.claimed += events.length;
    try {
      await withTimeout(publish(queue, events.map((e) => toJob(e, consumerJob))), publishTimeoutMs, "publishing to Redis");
    } catch (error) {
      if (!(await redisReachable())) {
        stats.released += await releaseClaims(db, relayId, events.map((e) => e.id));
        brokerUp = false;
        return 0;
      }
      // Redis is fine, so something about the events failed: publish them one by one, so one bad
      // event does not hold back (or burn the attempts of) the rest of the batch.
      if (events.length === 1) await recordFailure(events[0]!, error);
      else await publishOneByOne(events);
      return events.length;
    }
    deps.metrics?.published(events);
    markInBackground(events.map((e) => e.id));
    return events.length;
  }

  // Marking published is off the critical path: the next claim may start while earlier batches are
  // being marked (their rows are leased, so no relay claims them meanwhile), and the mark waits half a
  // lease so that events consumed by then need none (see outbox-published-marks.ts). A lost mark
  // (crash) only means a no-op re-publish after the lease.
  const marks = createDeferredMarks({
    delayMs: options.publishedMarkDelayMs ?? Math.floor(options.leaseMs / 2),
    mark: (ids) => markPublished(db, relayId, ids),
    onMarked: (given, changed) => {
      stats.published += changed;
      // Consumed before the mark came due (the consumers marked them), or taken over by another relay.
      stats.markedElsewhere += given - changed;
    },
    onError: (error, ids) =>
      log.warn({ err: (error as Error).message, events: ids.length }, "marking events published failed; they are re-published (a no-op) after their lease"),
  });
  function markInBackground(ids: string[]) {
    marks.add(ids);
  }

  async function publishOneByOne(events: ClaimedEvent[]) {
    const ok: string[] = [];
    for (const [i, event] of events.entries()) {
      try {
        await withTimeout(publish(queue, [toJob(event, consumerJob)]), publishTimeoutMs, "publishing to Redis");
        deps.metrics?.published([event]);
        ok.push(event.id);
      } catch (error) {
        if (!(await redisReachable())) {
          // Redis went away half-way: the rest is not the events' fault either.
          stats.released += await releaseClaims(db, relayId, events.slice(i).map((e) => e.id));
          brokerUp = false;
          break;
        }
        await recordFailure(event, error);
      }
    }
    stats.published += await markPublished(db, relayId, ok);
  }

  async function recordFailure(event: ClaimedEvent, error: unknown) {
    deps.metrics?.publishFailed(event.eventType);
    stats.failed += await markPublishFailed(db, relayId, [event], error, retry);
    log.warn({ err: (error as Error).message, eventId: event.id, attempt: event.attempts + 1 }, "publishing an outbox event failed");
  }

  let loopErrors = 0;
  const loop = (async () => {
    while (!stopping) {
      wakePending = false;
      let claimed = 0;
      try {
        await ensureBroker();
        if (stopping) break;
        claimed = await cycle();
        stats.cycles++;
        loopErrors = 0;
      } catch (error) {
        loopErrors++;
        log.error({ err: (error as Error).message }, "outbox relay cycle failed (PostgreSQL unreachable?); retrying");
        await sleep(Math.min(10_000, 100 * 2 ** Math.min(loopErrors, 7)));
        continue;
      }
      // A full batch means more is probably due: go again at once.
      if (claimed < options.batchSize) await waitForWake(options.pollIntervalMs);
    }
  })();

  let closing: Promise<void> | undefined;
  await listener.ready;
  log.info({ pollIntervalMs: options.pollIntervalMs, batchSize: options.batchSize, leaseMs: options.leaseMs }, "outbox relay started");

  return {
    relayId,
    stats,
    wake,
    get listening() {
      return listener.connected;
    },
    /** Stop claiming, finish the batch in hand and its mark, then close connections (idempotent). */
    close() {
      closing ??= (async () => {
        stopping = true;
        wakeNow?.();
        await loop;
        await marks.flush();
        await listener.close();
        await queue.close();
        log.info(stats, "outbox relay stopped");
      })();
      return closing;
    },
  };
}

export type OutboxRelay = Awaited<ReturnType<typeof startOutboxRelay>>;

/**
 * The chaos run's knobs, in one place. Timings are short versions of production's so that a whole
 * run (faults, convergence, checks) fits in a few minutes; the convergence bound is derived from them.
 */
export const chaosConfig = {
  /** Seed of the load's and the schedule's pseudo-random choices: every run makes the same plan. */
  seed: Number(process.env.CHAOS_SEED ?? 9),
  users: 3,
  clientsPerUser: 2,
  /** Load runs this long; the last fault ends at about 68 s (see faults/schedule.ts). */
  loadMs: 72_000,
  /** Pause between one client's operations (jittered ±50 %). */
  thinkMs: 250,
  /** A request with no answer after this long counts as a hang. */
  requestTimeoutMs: 30_000,
  /** A mutation with no definite answer after this long (retries included) is unresolved. */
  mutationDeadlineMs: 150_000,
  /** Convergence: nothing pending and nothing moving for this long. */
  quietMs: 3_000,
  maxUploadBytes: 64 * 1024,
  /** The app's timings (environment of web and workers). */
  appEnv: {
    OUTBOX_POLL_INTERVAL_MS: "1000",
    OUTBOX_LEASE_MS: "5000",
    SAGA_SWEEP_EVERY_MS: "1000",
    SAGA_STUCK_AFTER_MS: "5000",
    IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS: "10",
    IDEMPOTENCY_LEASE_SECONDS: "21",
    // The reconciler of events stuck after Redis lost their jobs (issue 9, defect 1); ignored by builds without it.
    OUTBOX_STALLED_AFTER_MS: "5000",
    OUTBOX_RECONCILE_EVERY_MS: "1000",
    OUTBOX_CONSUMER_CONCURRENCY: "8",
    SAGA_CONCURRENCY: "8",
  },
} as const;

/**
 * BullMQ's own deadlines for a job whose worker was SIGKILLed mid-job (its defaults; the worker does
 * not change them): the job stays `active` until its lock expires, and the next stalled-job check
 * moves it back to waiting. Until then nothing may run it again, by design (it might still be running).
 */
export const BULLMQ_LOCK_DURATION_MS = 30_000;
export const BULLMQ_STALLED_INTERVAL_MS = 30_000;

/**
 * Convergence bound after the last fault: 30 s, plus the longest deadline the system must wait out
 * before it may act on work a dead process or a lost Redis left behind: the idempotency lease of a
 * request killed mid-flight; the outbox lease, the stalled-event deadline and the reconciler's
 * period; the saga stuck deadline and the sweeper's period; BullMQ's lock and stalled-job check for
 * a job whose worker was killed.
 */
export function convergenceBoundMs(): number {
  const e = chaosConfig.appEnv;
  return (
    30_000 +
    Math.max(
      Number(e.IDEMPOTENCY_LEASE_SECONDS) * 1000,
      Number(e.OUTBOX_LEASE_MS) + Number(e.OUTBOX_STALLED_AFTER_MS) + Number(e.OUTBOX_RECONCILE_EVERY_MS),
      Number(e.SAGA_STUCK_AFTER_MS) + Number(e.SAGA_SWEEP_EVERY_MS),
      BULLMQ_LOCK_DURATION_MS + BULLMQ_STALLED_INTERVAL_MS,
    )
  );
}

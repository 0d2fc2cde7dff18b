// @ts-check
// The one schema for the server environment. Plain JS (with types checked through JSDoc) so that
// next.config.js can import it and a bad environment fails `next build` / `next dev` at start,
// not at the first request. The worker imports the same module.
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

export const serverEnvSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection URL"),
  /**
   * Session-capable PostgreSQL connection for what cannot go through a transaction pooler (the
   * relay's LISTEN, migrations, the saga runner's prepared statements); unset: DATABASE_URL.
   */
  DIRECT_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection URL")
    .optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL"),
  /**
   * Seed nodes of a Redis Cluster (`host:port,host:port`): when set, every Redis client is a
   * Cluster client and REDIS_URL lends only its credentials and TLS (rediss://) to each node.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(
      /^\s*(\[[^\]]+\]|[^\s,:]+):\d{1,5}\s*(,\s*(\[[^\]]+\]|[^\s,:]+):\d{1,5}\s*)*$/,
      "must be a comma-separated list of host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)",
    )
    .optional(),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters (use `openssl rand -hex 32`)"),
  SESSION_TTL_HOURS: z.coerce.number().int().positive().default(24 * 7),
  COOKIE_SECURE: bool.optional(),
  /** How long a resolved session is reused in-process (ms) while Redis pub/sub invalidation is live; 0: off. */
  SESSION_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  STORAGE_DIR: z.string().min(1).default("./.data/storage"),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(25 * 1024 * 1024),
  MAX_JSON_BODY_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  APP_ORIGIN: z
    .url({ protocol: /^https?$/, message: "must be the app's public origin, e.g. https://metastore.example.com" })
    .transform((v) => new URL(v).origin)
    .optional(),
  TRUST_PROXY: z
    .union([z.enum(["true", "false"]), z.coerce.number().int().min(0).max(10)])
    .transform((v) => (v === "true" ? 1 : v === "false" ? 0 : v))
    .default(0),
  SIGNIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(5),
  SIGNIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(50),
  SIGNIN_THROTTLE_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
  QUEUE_PREFIX: z.string().min(1).regex(/^[\w-]+$/, "letters, digits, - and _ only").default("metastore"),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().max(24 * 30).default(24),
  IDEMPOTENCY_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  STORAGE_GC_GRACE_MINUTES: z.coerce.number().int().min(1).default(60),
  STORAGE_GC_EVERY_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(30),
  IDEMPOTENCY_CLEANUP_EVERY_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(10),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // OpenTelemetry: traces go by OTLP (http/protobuf) to `<endpoint>/v1/traces` when set; unset, no SDK is started.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, message: "must be an http(s) URL such as http://127.0.0.1:4318" }).optional(),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(3101),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(3102),
  WORKER_METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  SAGA_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  SAGA_SWEEP_EVERY_MS: z.coerce.number().int().min(100).default(10_000),
  SAGA_STUCK_AFTER_MS: z.coerce.number().int().min(500).default(30_000),
  OUTBOX_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5000),
  OUTBOX_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  OUTBOX_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().max(24 * 365).default(24 * 7),
  OUTBOX_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(256).max(10 * 1024 * 1024).default(64 * 1024),
  OUTBOX_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  OUTBOX_STALLED_AFTER_MS: z.coerce.number().int().min(1000).max(24 * 3_600_000).default(60_000),
  OUTBOX_RECONCILE_EVERY_MS: z.coerce.number().int().min(200).max(3_600_000).default(15_000),
  CACHE_ENABLED: bool.default(true),
  CACHE_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(1).max(5000).default(20),
  SEED_DEMO_ACCOUNTS: bool.optional(),
  DEMO_USER_EMAIL: z.email().default("demo@metastore.local"),
  DEMO_USER_PASSWORD: z.string().min(8).default("demo-password"),
  DEMO_OPERATOR_EMAIL: z.email().default("operator@metastore.local"),
  DEMO_OPERATOR_PASSWORD: z.string().min(8).default("operator-password"),
}).superRefine((env, ctx) => {
  // A live keyed request runs at most maxWait (10 s) + the transaction timeout; its lease must outlast that.
  if (env.IDEMPOTENCY_LEASE_SECONDS <= env.IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS + 10) {
    ctx.addIssue({
      code: "custom",
      path: ["IDEMPOTENCY_LEASE_SECONDS"],
      message: `must be more than IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS + 10 (${env.IDEMPOTENCY_TRANSACTION_TIMEOUT_SECONDS + 10}): a shorter lease lets a retry start a second execution of a request that is still running`,
    });
  }
});

/** @typedef {z.infer<typeof serverEnvSchema>} ServerEnv */

/**
 * Parse an environment, throwing one error that names every missing or invalid variable.
 * @param {Record<string, string | undefined>} source
 * @returns {ServerEnv}
 */
export function parseServerEnv(source) {
  const result = serverEnvSchema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join(".") || "(environment)";
    const missing = source[name] === undefined || source[name] === "";
    return `  - ${name}: ${missing ? "missing" : issue.message}`;
  });
  return /** @type {never} */ (
    (() => {
      throw new Error(
        `Invalid server environment (see .env.example for every variable and a working default):\n${lines.join("\n")}`,
      );
    })()
  );
}

/** @type {ServerEnv | undefined} */
let cached;

/** The process environment, parsed once. */
export function getEnv() {
  cached ??= parseServerEnv(process.env);
  return cached;
}

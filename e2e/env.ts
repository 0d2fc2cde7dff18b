/**
 * The e2e run's own world: its own database, Redis prefix, storage folder and ports, so it never
 * touches development data and can run beside other suites.
 */
export const E2E_PORT = Number(process.env.E2E_PORT ?? 3210);
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const dbUrl = new URL(adminUrl);
// A run on its own port (E2E_PORT) also gets its own database and Redis prefix: two checkouts can run the suite at once.
// E2E_NAME names the run outright; E2E_DATABASE / E2E_QUEUE_PREFIX override the names outright.
const runName = process.env.E2E_NAME?.replace(/\W/g, "_") ?? (process.env.E2E_PORT ? `e2e_${E2E_PORT}` : "e2e");
dbUrl.pathname = `/${process.env.E2E_DATABASE ?? `metastore_${runName}`}`;

export const e2eEnv: Record<string, string> = {
  NODE_ENV: "production",
  NEXT_TELEMETRY_DISABLED: "1",
  DATABASE_URL: dbUrl.toString(),
  REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
  SESSION_SECRET: "e2e-secret-e2e-secret-e2e-secret-e2e-secret",
  COOKIE_SECURE: "false", // allowed in production only for a loopback APP_ORIGIN (src/production-checks.js)
  APP_ORIGIN: `http://127.0.0.1:${E2E_PORT}`,
  STORAGE_DIR: `.data/${runName}-storage`,
  MAX_UPLOAD_BYTES: String(5 * 1024 * 1024),
  QUEUE_PREFIX: process.env.E2E_QUEUE_PREFIX ?? runName,
  LOG_LEVEL: "warn",
  WORKER_HEALTH_PORT: String(E2E_PORT + 1),
  WORKER_METRICS_PORT: String(E2E_PORT + 2),
  // Production seeds demo accounts only when asked, and never with the published passwords.
  SEED_DEMO_ACCOUNTS: "true",
  DEMO_USER_EMAIL: "demo@metastore.local",
  DEMO_USER_PASSWORD: "e2e-demo-user-pass-4f1c",
  DEMO_OPERATOR_EMAIL: "operator@metastore.local",
  DEMO_OPERATOR_PASSWORD: "e2e-operator-pass-9b27",
  PORT: String(E2E_PORT),
};

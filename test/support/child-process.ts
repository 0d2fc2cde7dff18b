/**
 * Child processes that join a test app (crash and kill suites): they get the app's database,
 * Redis, queue prefix and storage through the environment, as the real processes get theirs.
 */
import type { TestApp } from "./app";
import { TEST_REDIS_URL } from "./app";

/** This process's environment plus the test app's database, Redis, queue prefix and storage dir, plus `extra`. */
export function childEnvFor(app: TestApp, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: app.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: app.prefix,
    STORAGE_DIR: app.storageDir,
    ...extra,
  };
}

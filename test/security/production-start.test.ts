/**
 * Hole 1: production must not start with public secrets, and the seed must never hand out (or reset
 * to) the published demo credentials. The start command and the seed run as real child processes.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "~/server/auth/passwords";
import { createDb, type Db } from "~/server/platform/db/client";
import { productionProblems } from "~/production-checks.js";
import { parseServerEnv } from "~/env.js";
import { createTestDatabase, type TestDatabase } from "../support/database";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

interface Run {
  code: number | null;
  output: string;
}

function runScript(script: string, env: Record<string, string>, timeoutMs = 60_000, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    // A clean environment (PATH only) plus the given variables: nothing leaks in from the test runner.
    execFile(TSX, [script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env } as unknown as NodeJS.ProcessEnv, timeout: timeoutMs, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const exampleEnv = async () => parseEnv(await readFile(path.join(ROOT, ".env.example"), "utf8")) as Record<string, string>;

describe("the production checklist", () => {
  it("`npm start` with .env.example refuses to start and says what to set", async () => {
    // PostgreSQL "unreachable" and no embedded fallback: should the check ever be skipped, the script
    // stops at the infrastructure step instead of starting servers from a test.
    const env = { ...(await exampleEnv()), DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none", EMBEDDED_POSTGRES: "never" };
    const run = await runScript("scripts/run.ts", env, 30_000, ["start"]);
    // Not started at all: no migration, no build, no server (the refusal comes before any of them).
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/Refusing to start in production/);
    expect(run.output).toMatch(/SESSION_SECRET is the public example/);
    expect(run.output).toMatch(/APP_ORIGIN is not set/);
    expect(run.output).not.toMatch(/PostgreSQL is not reachable|next build/);
  });

  it("names a short secret, published demo passwords and an insecure cookie over the network", () => {
    const env = parseServerEnv({
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: "postgresql://x@127.0.0.1/x",
      REDIS_URL: "redis://127.0.0.1:6379",
      SESSION_SECRET: "é".repeat(16) + "0123456789abcdef", // 32 characters, 48 bytes: fine
      APP_ORIGIN: "https://metastore.example.com",
      COOKIE_SECURE: "false",
      SEED_DEMO_ACCOUNTS: "true",
      DEMO_USER_PASSWORD: "demo-password",
      DEMO_OPERATOR_PASSWORD: "my-own-operator-password",
    });
    expect(productionProblems(env)).toEqual([
      expect.stringMatching(/^DEMO_USER_PASSWORD is the published demo password/),
      expect.stringMatching(/^COOKIE_SECURE=false outside a loopback APP_ORIGIN/),
    ]);
    expect(productionProblems({ ...env, SESSION_SECRET: "a".repeat(31) + "" })).toContainEqual(expect.stringMatching(/SESSION_SECRET is shorter than 32 bytes/));
  });
});

describe("the seed", () => {
  let database: TestDatabase;
  let db: Db;
  let storageDir: string;
  const baseEnv = () => ({
    DATABASE_URL: database.url,
    REDIS_URL: "redis://127.0.0.1:6379",
    SESSION_SECRET: "seed-test-secret-seed-test-secret-0123456",
    STORAGE_DIR: storageDir,
    APP_ORIGIN: "https://metastore.example.com",
    COOKIE_SECURE: "true", // explicit: the checkout's .env (loaded by the seed) must not decide
    LOG_LEVEL: "silent",
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
    storageDir = await mkdtemp(path.join(os.tmpdir(), "metastore-seed-"));
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  it("creates no demo account in production unless SEED_DEMO_ACCOUNTS=true", async () => {
    const run = await runScript("prisma/seed.ts", { ...baseEnv(), NODE_ENV: "production" });
    expect(run.output).toMatch(/no demo accounts in production/);
    expect(run.code).toBe(0);
    expect(await db.user.count()).toBe(0);
  });

  it("refuses the published demo passwords in production, even when asked for demo accounts", async () => {
    const run = await runScript("prisma/seed.ts", { ...baseEnv(), NODE_ENV: "production", SEED_DEMO_ACCOUNTS: "true" });
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/DEMO_USER_PASSWORD is the published demo password/);
    expect(await db.user.count()).toBe(0);
  });

  it("never resets an existing account's password or role (the operator keeps what its owner set)", async () => {
    await db.user.create({
      data: { email: "operator@metastore.local", name: "Real Operator", role: "viewer", passwordHash: await hashPassword("the-owner-chose-this") },
    });
    const run = await runScript("prisma/seed.ts", { ...baseEnv(), NODE_ENV: "development" });
    expect(run.code).toBe(0);
    const operator = await db.user.findUniqueOrThrow({ where: { email: "operator@metastore.local" } });
    expect(operator.role).toBe("viewer");
    expect(operator.name).toBe("Real Operator");
    expect(await verifyPassword(operator.passwordHash, "the-owner-chose-this")).toBe(true);
    expect(await verifyPassword(operator.passwordHash, "operator-password")).toBe(false);
    // The missing demo user was created (development is zero-config).
    expect(await db.user.count({ where: { email: "demo@metastore.local" } })).toBe(1);
  });
});

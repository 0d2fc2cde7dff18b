/** Before the e2e run: a fresh e2e database (dropped, migrated, seeded), empty storage and Redis prefix. */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import pg from "pg";
import { Redis } from "ioredis";
import { e2eEnv } from "./env";

const env = { ...process.env, ...e2eEnv };
const dbName = new URL(e2eEnv.DATABASE_URL!).pathname.slice(1);
const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
await admin.end();
rmSync(e2eEnv.STORAGE_DIR!, { recursive: true, force: true });

const redis = new Redis(e2eEnv.REDIS_URL!);
let cursor = "0";
do {
  const [next, keys] = await redis.scan(cursor, "MATCH", `${e2eEnv.QUEUE_PREFIX}:*`, "COUNT", 1000);
  cursor = next;
  if (keys.length) await redis.del(...keys);
} while (cursor !== "0");
await redis.quit();

execFileSync("npm", ["run", "--silent", "db:migrate"], { stdio: "inherit", env });
execFileSync("npm", ["run", "--silent", "db:seed"], { stdio: "inherit", env });

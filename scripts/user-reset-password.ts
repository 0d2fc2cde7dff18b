/**
 * `npm run user:reset-password -- --email someone@example.com`: the way back into an account when
 * no operator can sign in to reset it from the console (the last operator forgot their password).
 * Prints a one-time password (valid ONE_TIME_PASSWORD_TTL_MS; the account must set its own password
 * at the first sign-in), ends every session of the account (session version bumped), and writes an
 * audit row with the actor "cli" and the OS user in its reason. Reads DATABASE_URL, REDIS_URL and
 * QUEUE_PREFIX from the environment / .env, like the app.
 *
 * Exit codes: 0 reset; 1 no such user or a failure; 2 bad usage.
 */
import "../src/load-dotenv";
import { hostname, userInfo } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";

const USAGE = "usage: npm run user:reset-password -- --email <address> [--reason <text>]";

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let args: { email?: string; reason?: string; help?: boolean };
try {
  ({ values: args } = parseArgs({
    options: { email: { type: "string" }, reason: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  }));
} catch (error) {
  usage((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const email = z.email().max(320).safeParse(args.email?.trim());
if (!email.success) usage(args.email ? `not an email address: ${args.email}` : "--email is required");

// Loaded once the arguments are known to be right: a usage error answers without loading them.
const [{ getEnv }, { createDb }, { DomainError }, { createRedisClient, redisTargetFrom }, { resetPassword }] = await Promise.all([
  import("../src/env.js"),
  import("../src/server/platform/db/client"),
  import("../src/server/platform/errors"),
  import("../src/server/platform/redis"),
  import("../src/server/features/users/password-reset"),
]);
const env = getEnv();
const db = createDb(env.DATABASE_URL);
// Other instances cache resolved sessions for SESSION_CACHE_TTL_MS unless told on this channel (see
// composition.ts): told once the reset committed; if Redis does not answer, the cache's TTL ends them.
const redis = createRedisClient(redisTargetFrom(env), { maxRetriesPerRequest: 1, lazyConnect: true });
redis.on("error", () => {});
const userChanged = async (userId: string) => {
  try {
    await Promise.race([
      redis.publish(`${env.QUEUE_PREFIX}:sessions:changed`, userId),
      new Promise((_, reject) => setTimeout(() => reject(new Error("Redis did not answer within 3 s")), 3_000).unref()),
    ]);
  } catch (error) {
    console.error(`warning: other instances were not told (${(error as Error).message}); cached sessions end within SESSION_CACHE_TTL_MS`);
  }
};

const osUser = `${userInfo().username}@${hostname()}`;
let code = 0;
try {
  const reset = await resetPassword({ db, userChanged }, email.data!, {
    actor: { id: null, email: "cli" },
    reason: `npm run user:reset-password by ${osUser}${args.reason ? `: ${args.reason}` : ""}`,
  });
  console.log(`Password of ${reset.email} reset; every session of the account has ended.`);
  console.log(`One-time password (valid until ${reset.passwordExpiresAt.toISOString()}; a new password must be set at sign-in):`);
  console.log(reset.oneTimePassword);
} catch (error) {
  code = 1;
  console.error(error instanceof DomainError ? error.message : `password reset failed: ${(error as Error).message}`);
} finally {
  redis.disconnect();
  await db.$disconnect();
}
process.exit(code);

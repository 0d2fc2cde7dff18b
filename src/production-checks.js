// @ts-check
// The production checklist that `npm start`, `next start` (next.config.js) and the worker enforce
// before serving anything. Development stays zero-config: nothing here runs unless NODE_ENV is
// production. Plain JS like env.js, because next.config.js imports it.

/** SESSION_SECRET of .env.example: public, so anyone could seal a session cookie for any user id. */
export const EXAMPLE_SESSION_SECRET = "dev-only-secret-change-me-0123456789abcdef";
/** The demo passwords written in .env.example and the README. */
export const PUBLISHED_DEMO_PASSWORDS = ["demo-password", "operator-password"];

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Everything wrong with this environment for production, one human instruction per line (empty: ready).
 * @param {import("./env.js").ServerEnv} env
 * @returns {string[]}
 */
export function productionProblems(env) {
  /** @type {string[]} */
  const problems = [];
  if (env.SESSION_SECRET === EXAMPLE_SESSION_SECRET) {
    problems.push("SESSION_SECRET is the public example from .env.example: set your own (`openssl rand -hex 32`)");
  } else if (Buffer.byteLength(env.SESSION_SECRET, "utf8") < 32) {
    problems.push("SESSION_SECRET is shorter than 32 bytes: set a longer random one (`openssl rand -hex 32`)");
  }
  if (env.SEED_DEMO_ACCOUNTS) {
    if (PUBLISHED_DEMO_PASSWORDS.includes(env.DEMO_USER_PASSWORD)) {
      problems.push("DEMO_USER_PASSWORD is the published demo password: set another, or unset SEED_DEMO_ACCOUNTS");
    }
    if (PUBLISHED_DEMO_PASSWORDS.includes(env.DEMO_OPERATOR_PASSWORD)) {
      problems.push("DEMO_OPERATOR_PASSWORD is the published demo password: set another, or unset SEED_DEMO_ACCOUNTS");
    }
  }
  if (!env.APP_ORIGIN) {
    problems.push("APP_ORIGIN is not set: set the public origin browsers use, e.g. APP_ORIGIN=https://metastore.example.com (mutations from any other origin are refused)");
  } else if (env.COOKIE_SECURE === false && !LOOPBACK_HOSTS.has(new URL(env.APP_ORIGIN).hostname)) {
    problems.push("COOKIE_SECURE=false outside a loopback APP_ORIGIN: remove it (session cookies must be Secure over the network)");
  }
  return problems;
}

/**
 * Throw one error listing every production problem; do nothing outside production.
 * @param {import("./env.js").ServerEnv} env
 */
export function assertProductionReady(env) {
  if (env.NODE_ENV !== "production") return;
  const problems = productionProblems(env);
  if (problems.length === 0) return;
  throw new Error(
    `Refusing to start in production (NODE_ENV=production) with this environment:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
      "See the README's Security section for the production checklist.",
  );
}

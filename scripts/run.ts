/**
 * `npm run dev` / `npm start`: one command that brings up everything.
 *   1. .env from .env.example when missing; the environment is validated (src/env.js).
 *   2. PostgreSQL and Redis reachable (embedded / spawned fallbacks: see infra.ts).
 *   3. Database created and migrated, demo data seeded.
 *   4. Next.js (`next dev`, or `next build` + `next start`) and the worker, side by side;
 *      Ctrl-C (or SIGTERM) stops both, then the services this script started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { ensureInfra } from "./infra";
import { loadDotEnv, parseStartableEnv } from "./load-env";

const mode = process.argv[2] === "start" ? "start" : "dev";

loadDotEnv("run");

// `npm start` is production: the web server, the worker and the seed all run with NODE_ENV=production,
// and nothing starts while the environment fails the production checklist (src/production-checks.js).
if (mode === "start") Object.assign(process.env, { NODE_ENV: "production" });
const env = await parseStartableEnv("run");
const infra = await ensureInfra(env);
const childEnv = { ...process.env, DATABASE_URL: infra.databaseUrl, REDIS_URL: infra.redisUrl, NEXT_TELEMETRY_DISABLED: "1" };

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "inherit", env: childEnv });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

const children: ChildProcess[] = [];
let stopping = false;
async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
  await infra.stop();
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  await run("npm", ["run", "--silent", "db:migrate"]);
  await run("npm", ["run", "--silent", "db:seed"]);
  if (mode === "start") await run("npx", ["next", "build"]);
} catch (error) {
  console.error(`[run] ${(error as Error).message}`);
  await stopAll(1);
}

const port = process.env.PORT ?? "3000";
const web = spawn("npx", ["next", mode, "-p", port, ...(mode === "start" ? ["-H", process.env.HOST ?? "127.0.0.1"] : [])], { stdio: "inherit", env: childEnv });
const worker = spawn("npx", ["tsx", "worker/index.ts"], { stdio: "inherit", env: childEnv });
children.push(web, worker);
const demo = mode === "dev" || env.SEED_DEMO_ACCOUNTS ? ` (sign in as ${env.DEMO_USER_EMAIL} / ${env.DEMO_OPERATOR_EMAIL})` : "";
console.log(`[run] MetaStore on ${env.APP_ORIGIN ?? `http://localhost:${port}`}${demo}`);
for (const child of children) {
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`[run] a process exited (code ${code}); stopping the others`);
      void stopAll(code ?? 1);
    }
  });
}

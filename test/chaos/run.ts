/**
 * `npm run test:chaos`: the whole system under faults, then convergence, then the invariants.
 *   1. world: private PostgreSQL + Redis, `next start` (production build), two workers, own users
 *   2. load: careful clients (Idempotency-Key, retried until a definite answer) and a steady reader
 *   3. faults: faults/schedule.ts, one after another and overlapping, while the load runs
 *   4. convergence: after the last fault, nothing pending and nothing moving, within a stated bound
 *   5. invariants: printed as PASS/FAIL with the ids that broke them; a table of the run
 * CHAOS_SCENARIO=scale (`npm run test:scale`): 3 web instances behind HAProxy and 4 workers, random
 * SIGKILLs of web instances and workers, the same invariants, then the cross-instance checks.
 * Writes test-results/chaos.json (chaos-scale.json) for `npm test`. Exit code 1 on any failure.
 * CHAOS_KEEP=1 keeps the world's folder (logs of web, workers; PostgreSQL data) for a post-mortem.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { chaosConfig, convergenceBoundMs } from "./config";
import { runFaults } from "./faults/schedule";
import { Timeline } from "./faults/timeline";
import { waitForConvergence } from "./invariants/convergence";
import { checkCrossInstance } from "./invariants/cross-instance";
import { checkData } from "./invariants/data";
import { checkRequests } from "./invariants/requests";
import { describeStuckEvents } from "./invariants/stuck";
import { check, type Check } from "./invariants/check";
import { LoadClient, runReader } from "./load/client";
import { signIn } from "./load/http";
import { Ledger } from "./load/ledger";
import { seededRandom } from "./load/random";
import { renderChecks, renderTable } from "./report";
import { chosenScenario } from "./scenarios";
import { createWorld, type World } from "./world";

const started = Date.now();
const scenario = chosenScenario();
const log = (line: string) => console.log(`[chaos${scenario.name === "classic" ? "" : `:${scenario.name}`} ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

let world: World | null = null;
let exitCode = 1;
try {
  world = await createWorld(log, scenario.shape);
  const ledger = new Ledger();
  const timeline = new Timeline();

  const cookies = await Promise.all(world.users.map((u) => signIn(world!.baseUrl, u.email, u.password)));
  const clients = world.users.flatMap((user, u) =>
    Array.from({ length: chaosConfig.clientsPerUser }, (_, c) => new LoadClient(`u${u}c${c}`, user, cookies[u]!, world!.baseUrl, ledger, seededRandom(chaosConfig.seed * 100 + u * 10 + c))),
  );

  const t0 = Date.now();
  const loadUntil = t0 + scenario.loadMs;
  log(`load: ${clients.length} clients + 1 reader for ${scenario.loadMs / 1000} s; faults from the ${scenario.name} schedule`);
  const load = Promise.all([...clients.map((c) => c.run(loadUntil)), runReader(ledger, world.users[0]!, cookies[0]!, world.baseUrl, loadUntil)]);
  await runFaults(world, timeline, t0, log, scenario.schedule());
  const lastFault = timeline.lastEnd();
  log(`faults over (last service back at t=${((lastFault - t0) / 1000).toFixed(1)} s); waiting for the load to finish its mutations`);
  await load;

  const boundMs = convergenceBoundMs();
  log(`load over: ${ledger.mutations.length} mutations, ${ledger.attempts.length} requests; waiting for convergence (bound ${boundMs / 1000} s after the last fault)`);
  const convergence = await waitForConvergence(world.databaseUrl, { since: lastFault, boundMs, quietMs: chaosConfig.quietMs });
  const convergenceCheck = check(
    `converges within ${boundMs / 1000} s of the last fault`,
    convergence.converged ? [] : [`still pending: ${JSON.stringify(convergence.last)}`, ...(await describeStuckEvents(world.databaseUrl, world.redis.url, "chaos"))],
    convergence.converged ? `${(convergence.ms / 1000).toFixed(1)} s` : "did not converge",
  );

  const requests = checkRequests(ledger, timeline, t0);
  const data = await checkData(world.databaseUrl, world.storageDir, ledger);
  const checks: Check[] = [convergenceCheck, ...data.checks, ...requests.checks];
  if (scenario.crossInstanceChecks) {
    log("cross-instance checks through HAProxy (sessions, sign-out, cache, idempotency, rate limits)");
    checks.push(...(await checkCrossInstance(world.baseUrl, world.databaseUrl, world.webs.length)));
  }
  const workerSelfExits = [...world.workers, ...world.webs].reduce((n, p) => n + p.selfExits.length, 0);
  const table = renderTable({ timeline, ledger, requests: requests.figures, data: data.figures, convergence, boundMs, workerSelfExits });

  console.log(`\n${renderChecks(checks)}\n\n${table}\n`);
  const failed = checks.filter((c) => !c.ok);
  console.log(failed.length === 0 ? `chaos: all ${checks.length} invariants held` : `chaos: ${failed.length} of ${checks.length} invariants broke (logs: ${world.dir})`);
  mkdirSync("test-results", { recursive: true });
  writeFileSync(
    `test-results/${scenario.resultFile}`,
    JSON.stringify({ passed: checks.length - failed.length, failed: failed.length, checks, table, seconds: Math.round((Date.now() - started) / 1000) }, null, 2),
  );
  exitCode = failed.length === 0 ? 0 : 1;
} catch (error) {
  console.error("chaos: the run itself failed:", error);
  mkdirSync("test-results", { recursive: true });
  writeFileSync(`test-results/${scenario.resultFile}`, JSON.stringify({ passed: 0, failed: 1, error: String(error) }));
} finally {
  await world?.close({ keepDir: exitCode !== 0 || process.env.CHAOS_KEEP === "1" }).catch((e) => console.error("chaos: cleanup failed:", e));
}
process.exit(exitCode);

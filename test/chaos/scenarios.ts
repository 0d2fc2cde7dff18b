/**
 * The chaos suite's two runs, same load and same invariants:
 *   classic  one web instance, two workers; faults of every kind (workers, web, Redis, PostgreSQL)
 *   scale    three web instances behind HAProxy, four workers; random SIGKILLs of web instances
 *            and workers (restarted), then the cross-instance checks (sessions, cache invalidation,
 *            idempotency, rate limits through HAProxy). `npm run test:scale`.
 * Chosen with CHAOS_SCENARIO (default classic).
 */
import { chaosConfig } from "./config";
import { faultSchedule, scaleFaultSchedule, type ScheduledFault } from "./faults/schedule";
import { SCALE_SIGNIN_LIMITS } from "./invariants/cross-instance";
import type { WorldShape } from "./world";

export interface Scenario {
  name: "classic" | "scale";
  shape: WorldShape;
  loadMs: number;
  schedule(): ScheduledFault[];
  /** test-results/<file>: what `npm test` reads. */
  resultFile: string;
  crossInstanceChecks: boolean;
}

const SCALE_SHAPE = {
  webs: 3,
  workers: 4,
  proxied: true,
  // This suite's port range: HAProxy 3520, web instances 3521-3523, worker health 3540-3543.
  portBase: 3520,
  env: { SIGNIN_MAX_FAILURES_PER_ACCOUNT: String(SCALE_SIGNIN_LIMITS.perAccount), SIGNIN_MAX_FAILURES_PER_ADDRESS: String(SCALE_SIGNIN_LIMITS.perAddress) },
} satisfies WorldShape;

export function chosenScenario(name = process.env.CHAOS_SCENARIO ?? "classic"): Scenario {
  if (name === "scale") {
    const loadMs = 40_000;
    return {
      name,
      shape: SCALE_SHAPE,
      loadMs,
      schedule: () => scaleFaultSchedule(chaosConfig.seed, SCALE_SHAPE, loadMs - 4_000),
      resultFile: "chaos-scale.json",
      crossInstanceChecks: true,
    };
  }
  if (name !== "classic") throw new Error(`CHAOS_SCENARIO must be classic or scale, not ${name}`);
  return {
    name,
    shape: { webs: 1, workers: 2, proxied: false },
    loadMs: chaosConfig.loadMs,
    schedule: faultSchedule,
    resultFile: "chaos.json",
    crossInstanceChecks: false,
  };
}

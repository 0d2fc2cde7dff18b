/**
 * The worker's saga metrics under faults, with the test-only five-step saga (real rows in its own
 * database, real BullMQ): transient step failures are timed as `retry`, a step that fails for good
 * turns the saga around and its compensations are timed under phase `compensate`, and each saga is
 * counted once in sagas_finished_total with the status it ended in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_TABLES_SQL, testSagaRegistry } from "~test/fixtures/saga/test-sagas";
import { createTestApp, type TestApp } from "~test/support/app";
import { parseSamples, sumOf } from "~test/support/prometheus-text";
import { createWorkerMetrics } from "../metrics";
import { startSagaTestBed } from "~test/support/saga";
import { waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({ cacheRedisUrl: null });
  for (const sql of TEST_TABLES_SQL) await app.services.db.$executeRawUnsafe(sql);
});
afterAll(() => app.close());

describe("worker saga metrics", () => {
  it("time retries, compensations and finished sagas by type, step and result", async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const registry = testSagaRegistry(app.services.db, { attempts: 3 });
    const bed = await startSagaTestBed(app, registry, { concurrency: 4, metrics });
    const { sagas } = bed;
    try {
      // Every execute fails on its first attempt, then succeeds: 5 retries, 5 advances.
      const flaky = await sagas.startSaga("test.five", { flakyAttempts: 1 });
      // Step 2 fails for good: steps 0-1 advance, 2 turns it around, compensations of 1 and 0 run.
      const failing = await sagas.startSaga("test.five", { failAt: 2 });
      const ids = [flaky.id, failing.id];
      const ended = await waitFor(
        "both sagas to end",
        async () => {
          const rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
          return rows.every((r) => r.status === "completed" || r.status === "compensated") && rows.length === 2 ? rows : false;
        },
        30_000,
      );
      expect(Object.fromEntries(ended.map((r) => [r.id, r.status]))).toEqual({ [flaky.id]: "completed", [failing.id]: "compensated" });
      const samples = await waitFor("both finishes counted", async () => {
        const s = parseSamples(await metrics.registry.metrics());
        return sumOf(s, "metastore_sagas_finished_total") === 2 ? s : false;
      });
      const steps = (labels: Record<string, string>) => sumOf(samples, "metastore_saga_step_duration_seconds_count", { saga_type: "test.five", ...labels });

      expect(sumOf(samples, "metastore_sagas_finished_total", { saga_type: "test.five", status: "completed" })).toBe(1);
      expect(sumOf(samples, "metastore_sagas_finished_total", { saga_type: "test.five", status: "compensated" })).toBe(1);
      // The flaky saga: each step once as retry (its first attempt) and once as advanced. The failing
      // saga has no transient failures: steps 0-2 advance once each (step 2's permanent error turns
      // it to compensating, which is also an advance), steps 3-4 never run for it.
      for (const step of ["step-0", "step-1", "step-2", "step-3", "step-4"]) {
        expect(steps({ step, phase: "execute", result: "retry" }), step).toBe(1);
        expect(steps({ step, phase: "execute", result: "advanced" }), step).toBe(["step-3", "step-4"].includes(step) ? 1 : 2);
      }
      expect(steps({ phase: "compensate", result: "advanced" })).toBe(2); // steps 1 and 0 undone
      expect(steps({ step: "step-0", phase: "compensate" })).toBe(1);
      expect(sumOf(samples, "metastore_saga_step_duration_seconds_count", { saga_type: "unknown" })).toBe(0);
    } finally {
      await bed.close();
    }
  });
});

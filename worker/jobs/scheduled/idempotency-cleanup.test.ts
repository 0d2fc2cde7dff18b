import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "~test/support/app";
import { startIdempotencyCleanup } from "./idempotency-cleanup";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

async function insertRecords(n: number, expiresInMs: number) {
  for (let i = 0; i < n; i++) {
    await app.services.db.idempotencyKey.create({
      data: {
        scope: `${randomUUID()}:files.upload`,
        key: randomUUID(),
        fingerprint: "f".repeat(64),
        state: "completed",
        result: { json: { type: "data", data: null } },
        responseStatus: 200,
        expiresAt: new Date(Date.now() + expiresInMs),
      },
    });
  }
}

describe("idempotency clean-up job (BullMQ job scheduler in the worker)", () => {
  it("deletes expired records in batches on its schedule and leaves live ones", async () => {
    await insertRecords(7, -60_000);
    await insertRecords(3, 3600_000);
    const cleanup = await startIdempotencyCleanup({
      connection: app.bullConnection,
      prefix: app.queuePrefix,
      db: app.services.db,
      logger: pino({ level: "silent" }),
      everyMs: 200,
      batchSize: 3,
    });
    try {
      const completed = new Promise<{ deleted: number; batches: number }>((resolve) =>
        cleanup.worker.on("completed", (_job, result: { deleted: number; batches: number }) => {
          if (result.deleted > 0) resolve(result);
        }),
      );
      expect(await completed).toEqual({ deleted: 7, batches: 3 });
      expect(await app.services.db.idempotencyKey.count()).toBe(3);
      expect(await app.services.db.idempotencyKey.count({ where: { expiresAt: { lte: new Date() } } })).toBe(0);
      const schedulers = await cleanup.queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ key: "idempotency-cleanup" });
      expect(Number(schedulers[0]!.every)).toBe(200);
    } finally {
      await cleanup.close();
    }
  });
});

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";
import { appendTagged, outboxQueue, recordingConsumer, startConsumers, startRelay, waitFor } from "~test/fixtures/outbox.test-support";

let app: TestApp;
beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

const LEASE_MS = 3000;

/** Run the child relay until it reports the stage, then SIGKILL it (no cleanup, no shutdown hooks). */
async function killRelayAt(stage: "claimed" | "published"): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "../../test/fixtures/outbox-relay-kill-child.ts")], {
    cwd: path.resolve(import.meta.dirname, "../.."),
    env: { ...process.env, STAGE: stage, DATABASE_URL: app.databaseUrl, REDIS_URL: TEST_REDIS_URL, PREFIX: app.prefix, LEASE_MS: String(LEASE_MS) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const count = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/(CLAIMED|PUBLISHED) (\d+)/);
      if (m) resolve(Number(m[2]));
    });
    child.once("exit", (code) => reject(new Error(`child relay exited (${code}) before ${stage}: ${stderr}`)));
    setTimeout(() => reject(new Error(`child relay never reached ${stage}: ${stderr}`)), 30_000);
  });
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  return count;
}

describe("a relay killed with SIGKILL", () => {
  it.each(["claimed", "published"] as const)("mid-batch (after it %s): another relay takes over after the lease; nothing lost, nothing delivered twice", async (stage) => {
    const queue = outboxQueue(app);
    await queue.obliterate({ force: true });
    const events = await Promise.all(Array.from({ length: 20 }, () => appendTagged(db(), randomUUID())));
    const ids = events.map((e) => e.id).sort();

    expect(await killRelayAt(stage)).toBe(20);
    // The dead relay's claims are still there: publishing, under its lease.
    const orphaned = await db().outboxEvent.findMany({ where: { id: { in: ids } } });
    expect(orphaned.every((e) => e.status === "publishing" && e.claimedBy === "doomed-relay" && e.leaseUntil)).toBe(true);
    if (stage === "published") expect((await queue.getJobs(["waiting"])).map((j) => j.id).sort()).toEqual(ids);
    else expect(await queue.count()).toBe(0);

    const survivor = await startRelay(app, { pollIntervalMs: 100 });
    try {
      // Not before the lease runs out…
      await new Promise((r) => setTimeout(r, LEASE_MS / 3));
      expect(await db().outboxEvent.count({ where: { id: { in: ids }, status: "published" } })).toBe(0);
      // …then everything is published by the survivor.
      await waitFor("the survivor to publish the orphans", async () => (await db().outboxEvent.count({ where: { id: { in: ids }, status: "published" } })) === 20);
      // Re-publishing what the dead relay already published was a no-op: one job per event.
      const waiting = await queue.getJobs(["waiting"]);
      expect(waiting.map((j) => j.id).sort()).toEqual(ids);

      // Downstream, each event is handled exactly once.
      const recorder = recordingConsumer();
      const consumers = await startConsumers(app, [recorder.consumer]);
      try {
        await waitFor("all events handled", async () => recorder.total() === 20 && consumers.stats.handled === 20);
        await new Promise((r) => setTimeout(r, 300));
        expect(consumers.stats.handled).toBe(20);
        expect(recorder.total()).toBe(20);
      } finally {
        await consumers.close();
      }
    } finally {
      await survivor.close();
      await queue.close();
    }
  });
});

const db = () => app.services.db;

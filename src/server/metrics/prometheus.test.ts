import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import type { TestApp } from "~test/support/app";
import { createTestAppWithUser } from "~test/support/app-with-user";
import { createMetricsRegistry } from "./prometheus";

let app: TestApp;
let user: SessionUser;

beforeAll(async () => ({ app, user } = await createTestAppWithUser()));
afterAll(() => app.close());

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Prometheus metrics", () => {
  it("reports outbox, saga, idempotency and cache state read from PostgreSQL and Redis", async () => {
    const fd = new FormData();
    fd.append("file", new File(["metrics"], "m.txt", { type: "text/plain" }));
    // A keyed upload, then the same request again: one execution and one replay.
    for (let i = 0; i < 2; i++) {
      const res = await app.http("/api/trpc/files.upload", { method: "POST", body: fd, user, headers: { "Idempotency-Key": "metrics-key-1" } });
      expect(res.status).toBe(200);
    }
    // No relay runs in this test: the upload's event stays pending.
    await app.caller(user).files.list({}); // a cache miss, then a hit
    await app.caller(user).files.list({});
    const finishedAt = new Date();
    await app.services.db.sagaInstance.createMany({
      data: [
        { type: "file.upload", status: "completed", input: {}, createdAt: new Date(finishedAt.getTime() - 2000), finishedAt },
        { type: "file.upload", status: "compensated", input: {}, createdAt: new Date(finishedAt.getTime() - 4000), finishedAt },
      ],
    });

    const text = await createMetricsRegistry(app.services).metrics();

    expect(value(text, 'metastore_outbox_events{status="pending"}')).toBe(1);
    expect(value(text, 'metastore_outbox_events{status="dead"}')).toBe(0);
    expect(value(text, "metastore_outbox_oldest_due_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(value(text, "metastore_outbox_blocked_aggregates")).toBe(0);
    expect(value(text, 'metastore_sagas{status="completed"}')).toBe(1);
    expect(value(text, 'metastore_sagas{status="compensated"}')).toBe(1);
    expect(value(text, "metastore_saga_success_ratio")).toBe(0.5);
    expect(value(text, "metastore_saga_compensation_ratio")).toBe(0.5);
    expect(value(text, 'metastore_idempotency_requests{outcome="requests"}')).toBe(2);
    expect(value(text, 'metastore_idempotency_requests{outcome="replayed"}')).toBe(1);
    expect(value(text, 'metastore_idempotency_records{state="completed"}')).toBe(1);
    expect(value(text, 'metastore_cache_calls{prefix="files",result="hits"}')).toBe(1);
    expect(value(text, 'metastore_cache_calls{prefix="files",result="misses"}')).toBe(1);
    expect(text).toMatch(/^metastore_web_process_cpu_seconds_total /m);
  });
});

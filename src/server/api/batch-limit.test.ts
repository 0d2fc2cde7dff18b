/**
 * Issue 11, hole 10: a tRPC batch is bounded. The server refuses an oversized batch with a 400 a
 * person can act on, before running any call; the app's own client links split batches so they
 * never hit it. Through the real fetch handler.
 */
import { createTRPCClient } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { appLinks } from "~/trpc/links";
import type { TestApp } from "~test/support/app";
import { createTestAppWithUser } from "~test/support/app-with-user";
import { TRPC_MAX_BATCH_SIZE } from "./limits";
import type { AppRouter } from "./root";

let app: TestApp;
let user: SessionUser;
beforeAll(async () => ({ app, user } = await createTestAppWithUser()));
afterAll(() => app.close());

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function batchGet(paths: string[]) {
  const input = Object.fromEntries(paths.map((_, i) => [i, { json: null }]));
  return app.http(`/api/trpc/${paths.join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`, { user });
}

describe("tRPC batch size", () => {
  it(`answers a batch of ${TRPC_MAX_BATCH_SIZE} calls`, async () => {
    const res = await batchGet(Array.from({ length: TRPC_MAX_BATCH_SIZE }, () => "health.ping"));
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json[]).length).toBe(TRPC_MAX_BATCH_SIZE);
  });

  it("refuses a larger batch with 400 and a message that says the limit, running none of its calls", async () => {
    const before = await app.services.db.idempotencyKey.count();
    const res = await batchGet(Array.from({ length: 5000 }, () => "files.list"));
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    const error = Array.isArray(body) ? body[0].error : body.error;
    expect(error.json.message).toBe(`A batch may carry at most ${TRPC_MAX_BATCH_SIZE} calls: send the calls in smaller batches`);
    expect(error.json.data.code).toBe("BAD_REQUEST");
    expect(await app.services.db.idempotencyKey.count()).toBe(before);
  });

  it("the app's client links split many queries into batches within the limit", async () => {
    const sizes: number[] = [];
    const client = createTRPCClient<AppRouter>({
      links: appLinks({
        url: "http://localhost/api/trpc",
        fetch: async (url, init) => {
          const u = new URL(String(url));
          sizes.push(u.pathname.split("/").pop()!.split(",").length);
          return app.http(u.pathname + u.search, { ...(init as RequestInit), user });
        },
      }),
    });
    const results = await Promise.all(Array.from({ length: 3 * TRPC_MAX_BATCH_SIZE + 7 }, () => client.health.ping.query()));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(TRPC_MAX_BATCH_SIZE);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(3 * TRPC_MAX_BATCH_SIZE + 7);
  });
});

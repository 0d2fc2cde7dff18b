import { expect, test } from "@playwright/test";
import { signIn } from "./support";

test("/api/metrics: 401 signed out, 403 for a user, Prometheus text for an operator", async ({ page, request }) => {
  expect((await request.get("/api/metrics")).status()).toBe(401);

  await signIn(page, "user");
  expect((await page.request.get("/api/metrics")).status()).toBe(403);
  await page.context().clearCookies();

  await signIn(page, "operator");
  const res = await page.request.get("/api/metrics");
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toMatch(/^text\/plain/);
  const text = await res.text();
  // The seeded demo files' events exist, whatever state the worker has them in by now.
  const outboxTotal = [...text.matchAll(/^metastore_outbox_events\{status="\w+"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
  expect(outboxTotal).toBeGreaterThanOrEqual(3);
  expect(text).toMatch(/^metastore_sagas\{status="completed"\} \d+$/m);
});

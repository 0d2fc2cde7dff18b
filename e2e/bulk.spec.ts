import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import pg from "pg";
import { confirmBulkAndCheckAudit, e2eEnv, signIn } from "./support";

/**
 * A bulk retry by filter in real Chromium against the running app and worker: the dry run shows the
 * count, the confirmed action runs in the worker with progress to a summary, and the audit log
 * shows it with both counts.
 */
const EVENTS = 30;

/** Dead outbox events whose error carries `marker` (dead: the relay leaves them alone until retried). */
async function seedDeadEvents(marker: string) {
  const db = new pg.Client({ connectionString: e2eEnv.DATABASE_URL });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, attempts, last_error, last_failed_at, created_at)
       SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' || substr(r, 7, 12))::uuid,
              'file', f::text, 1, 'file.tagged', jsonb_build_object('fileId', f, 'ownerId', f, 'tags', jsonb_build_array('e2e')),
              'dead', 5, $1, now(), now() - interval '1 minute'
       FROM generate_series(1, $2::int) g,
            LATERAL (SELECT lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - 60000 + g), 12, '0') AS h, md5(random()::text) AS r, gen_random_uuid() AS f) x`,
      [`consumer file-inspector: ${marker} exploded`, EVENTS],
    );
  } finally {
    await db.end();
  }
}

test("bulk retry by filter: dry-run count → confirm with a reason → progress → summary → in the audit log with both counts", async ({ page }, testInfo) => {
  const marker = `bulk-e2e-${randomUUID().slice(0, 8)}`;
  await seedDeadEvents(marker);
  await signIn(page, "operator");

  await page.goto("/admin/bulk");
  await page.getByLabel("Text in the error").fill(marker);
  await page.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByRole("status", { name: "Dry run result" })).toHaveText(`${EVENTS} events would be retried.`);
  await expect(page.getByRole("table", { name: "Dry run sample" }).getByRole("row")).toHaveCount(11); // header + 10
  await page.screenshot({ path: testInfo.outputPath("bulk-dry-run.png"), fullPage: true });

  await confirmBulkAndCheckAudit(page, testInfo, {
    button: `Retry ${EVENTS} events…`,
    dialog: "Retry events by filter",
    count: EVENTS,
    done: "events retried",
    marker,
    summaryShot: "bulk-summary.png",
    auditShot: "audit-log.png",
  });
});

import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import pg from "pg";
import { confirmBulkAndCheckAudit, e2eEnv, signIn } from "./support";

/**
 * A bulk redrive of sagas by filter in real Chromium against the running app and worker: from the
 * sagas list's "Bulk redrive…" link (its filter prefilled), the dry run shows the count, the
 * confirmed action runs in the worker with progress to a summary, and the audit log shows it with
 * both counts.
 */
const SAGAS = 12;

/** Failed file.upload sagas whose error carries `marker`, made a minute ago (no step has run). */
async function seedFailedSagas(marker: string) {
  const db = new pg.Client({ connectionString: e2eEnv.DATABASE_URL });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO saga_instance (id, type, status, current_step, input, context, last_error, version, created_at, updated_at, finished_at)
       SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' || substr(r, 7, 12))::uuid,
              'file.upload', 'failed', 0, jsonb_build_object('e2e', g), '{"generation": 0, "outputs": {}}'::jsonb, $1, 0,
              now() - interval '1 minute', now() - interval '1 minute', now() - interval '1 minute'
       FROM generate_series(1, $2::int) g,
            LATERAL (SELECT lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - 60000 + g), 12, '0') AS h, md5(random()::text) AS r) x`,
      [`step store-blob: ${marker} storage unavailable`, SAGAS],
    );
  } finally {
    await db.end();
  }
}

test("bulk redrive of sagas by filter: link from the sagas list → dry-run count → confirm with a reason → progress → summary → audit log with both counts", async ({ page }, testInfo) => {
  const marker = `saga-bulk-e2e-${randomUUID().slice(0, 8)}`;
  await seedFailedSagas(marker);
  await signIn(page, "operator");

  // The sagas list, filtered; its "Bulk redrive…" link carries the filter to the bulk page.
  await page.goto(`/admin/sagas?status=failed&error=${encodeURIComponent(marker)}`);
  await page.getByRole("link", { name: "Bulk redrive…" }).click();
  await expect(page).toHaveURL(/\/admin\/bulk\?target=saga/);
  const form = page.getByRole("form", { name: "Bulk saga filter" });
  await expect(form.getByLabel("Text in the error")).toHaveValue(marker);
  await expect(form.getByRole("checkbox", { name: "failed" })).toBeChecked();

  await form.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByRole("status", { name: "Dry run result" })).toHaveText(`${SAGAS} sagas would be redriven.`);
  await expect(page.getByRole("table", { name: "Dry run sample" }).getByRole("row")).toHaveCount(11); // header + 10
  await page.screenshot({ path: testInfo.outputPath("bulk-sagas-dry-run.png"), fullPage: true });

  await confirmBulkAndCheckAudit(page, testInfo, {
    button: `Redrive ${SAGAS} sagas…`,
    dialog: "Redrive sagas by filter",
    count: SAGAS,
    done: "sagas redriven",
    marker,
    summaryShot: "bulk-sagas-summary.png",
    auditShot: "bulk-sagas-audit-log.png",
  });
});

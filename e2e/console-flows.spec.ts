/**
 * The console's main flows, click by click: a dead event's failure group from the overview (one
 * click) to its retry (the third); a fork of a failed saga from step 3 runs steps 3..n; a viewer
 * reads every page and is offered no action.
 */
import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { consolePages, screenshot, seedDeadEvents, settled, signIn, sql, uploadAsDemoUser } from "./support";

test("overview → failure group → retry and confirm: a dead event's group is one click away, its retry the third", async ({ page }, testInfo) => {
  // Letters only: the fingerprint keeps words and drops numbers and ids, so the marker names the group.
  const marker = randomUUID().replace(/[^a-f]/g, "").slice(0, 8);
  const error = `consumer file-indexer: index ${marker} refused the tags`;
  // Enough events to rank first among the overview's top groups whatever earlier specs left behind.
  const ids = await seedDeadEvents(error, 60);
  await signIn(page, "operator");
  await page.goto("/admin");

  // Click 1: the group, from the overview.
  await page.getByRole("list", { name: "Top failure groups" }).getByRole("link", { name: new RegExp(marker) }).click();
  await expect(page).toHaveURL(/\/admin\/failures\?source=outbox&fingerprint=[0-9a-f]{32}$/);
  const groups = page.getByRole("table", { name: "Failure groups" });
  await expect(groups.locator("tbody tr")).toHaveCount(1);
  await expect(groups).toContainText(marker);
  await expect(groups).toContainText("60 dead");
  await screenshot(page, testInfo, "failure-group");

  // Click 2: retry the group; click 3: confirm.
  await groups.getByRole("button", { name: "Retry group…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Retry 60 events" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Group retried: 60 events queued again" })).toBeVisible();

  // The server did it: none of them is dead any more, and the audit log has the action.
  const [left] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM outbox_event WHERE id = ANY($1::uuid[]) AND status = 'dead'`, [ids]);
  expect(left!.n).toBe(0);
  const audit = await sql(`SELECT 1 FROM operator_audit WHERE action LIKE 'failures.retry%' AND affected_count = 60`);
  expect(audit.length).toBeGreaterThan(0);
});

test("a fork of a failed saga from step 3 runs steps 3..n, and its timeline shows them", async ({ page, browser }) => {
  const name = `fork-${Date.now()}.txt`;
  await uploadAsDemoUser(browser, name);
  // The upload's saga, failed after its steps ran (what a failure in the last step leaves): every step has its output, so any step can start a fork.
  const [saga] = await sql<{ id: string }>(
    `UPDATE saga_instance SET status = 'failed', last_error = 'e2e: derive failed' WHERE id = (SELECT id FROM saga_instance WHERE input->>'name' = $1 ORDER BY created_at DESC LIMIT 1) RETURNING id::text`,
    [name],
  );
  await signIn(page, "operator");
  await page.goto(`/admin/sagas/${saga!.id}`);
  // The form's controls are disabled until React has hydrated it: the click waits for them.
  await page.getByRole("combobox", { name: "Start at step" }).click();
  await page.getByRole("option", { name: "3. store-blob" }).click();
  await page.getByRole("button", { name: "Fork from step 3" }).click();
  const forked = page.getByRole("status").filter({ hasText: "Forked as" });
  await expect(forked).toContainText("starting at step 3");
  const forkHref = (await forked.getByRole("link").getAttribute("href"))!;
  const forkId = forkHref.split("/").pop()!;
  await forked.getByRole("link").click();
  // Both timelines have the same heading: wait for the fork's page itself.
  await expect(page).toHaveURL(new RegExp(`${forkHref}$`));
  await expect(page.getByText("Forked from", { exact: true })).toBeVisible();

  await expect(page.getByRole("heading", { name: "Saga file.upload" })).toBeVisible();
  const timeline = page.getByRole("table", { name: "Saga timeline" });
  for (const step of ["store-blob", "inspect", "create-record", "derive"]) {
    await expect(timeline.locator("tr", { hasText: step })).toContainText("succeeded", { timeout: 30_000 });
  }
  // The fork ran steps 3..6 itself (execution ids of its own); steps 1 and 2 are the original's, copied with their outputs, never run again.
  const steps = await sql<{ step_index: number; own: boolean }>(
    `SELECT step_index, execution_id LIKE $1::text || '.%' AS own FROM saga_step_log WHERE saga_id = $1::uuid AND phase = 'execute' ORDER BY step_index`,
    [forkId],
  );
  expect(steps.filter((s) => s.own).map((s) => s.step_index)).toEqual([2, 3, 4, 5]);
  expect(steps.filter((s) => !s.own).map((s) => s.step_index)).toEqual([0, 1]);
});

/** Buttons that change something (the operator's actions); reading buttons (filters, refresh, load more) are fine for a viewer. */
const ACTION = /^(Retry|Discard|Abort|Resume|Pause|Flush|Delete|Fork|Replay|Change role|Revoke|End|Create|Redrive|Cancel|Run|Start|Compensate|Skip)/;

test("a viewer sees every console page and no action button", async ({ page, browser }) => {
  await uploadAsDemoUser(browser, `viewer-flows-${Date.now()}.txt`);
  await signIn(page, "viewer");
  for (const { name, path } of await consolePages()) {
    await page.goto(path);
    await settled(page);
    await expect(page.getByRole("heading", { name: /Not allowed/ }), `${name}: a page, not the not-allowed message`).toHaveCount(0);
    const buttons = await page.locator("main").getByRole("button").evaluateAll((els) => els.map((e) => (e.getAttribute("aria-label") ?? e.textContent ?? "").trim()));
    expect(buttons.filter((b) => ACTION.test(b)), `${name}: action buttons shown to a viewer`).toEqual([]);
  }
});

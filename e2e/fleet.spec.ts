import { expect, test } from "@playwright/test";
import { signIn } from "./support";

test("the fleet page shows the running worker and BullMQ's queues, and an operator pauses and resumes a queue", async ({ page }) => {
  await signIn(page, "operator");
  await page.goto("/admin");
  await page.getByRole("link", { name: "Fleet" }).click();
  await expect(page).toHaveURL(/\/admin\/fleet$/);
  await expect(page.getByRole("heading", { name: "Worker fleet" })).toBeVisible();

  // The e2e worker (started by the Playwright config) registered itself on its fleet beat.
  const workers = page.getByRole("table", { name: "Worker processes" });
  await expect(workers.getByRole("row").filter({ hasText: "live" }).first()).toBeVisible({ timeout: 30_000 });
  await expect(workers).toContainText("outbox-relay");

  const queues = page.getByRole("table", { name: "Queues" });
  const retention = queues.getByRole("row").filter({ hasText: "outbox-retention" });
  await expect(retention).toContainText("running");
  await expect(queues.getByRole("row").filter({ hasText: "heartbeat" })).toContainText("not pausable");

  await retention.getByRole("button", { name: "Pause" }).click();
  const pauseDialog = page.getByRole("dialog", { name: "Pause queue outbox-retention" });
  await pauseDialog.getByRole("button", { name: "Pause outbox-retention" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Queue outbox-retention paused." })).toBeVisible();
  await expect(retention).toContainText("paused");

  await retention.getByRole("button", { name: "Resume" }).click();
  await page.getByRole("dialog", { name: "Resume queue outbox-retention" }).getByRole("button", { name: "Resume outbox-retention" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Queue outbox-retention resumed." })).toBeVisible();
  await expect(retention).toContainText("running");
});

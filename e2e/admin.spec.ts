import { expect, test, type Page } from "@playwright/test";
import { signIn, uploadAsDemoUser } from "./support";

/** The number shown in one tile of an overview group (e.g. group "Outbox events by status", tile "published"). */
function statValue(page: Page, group: string, label: string) {
  return page
    .locator(`dl[aria-label="${group}"] .stat`)
    .filter({ has: page.locator("dt", { hasText: new RegExp(`^${label}$`, "i") }) })
    .locator("dd");
}

const count = (text: string | null) => Number((text ?? "").replace(/[^\d]/g, "") || 0);

test("a signed-out visitor is sent to sign-in and back to the dashboard page", async ({ page }) => {
  await page.goto("/admin/sagas");
  await expect(page).toHaveURL(/\/signin\?next=(%2F|\/)admin(%2F|\/)sagas/);
});

test("a plain user sees the not-allowed message on /admin", async ({ page }) => {
  await signIn(page, "user");
  await expect(page.getByRole("link", { name: "Dashboard" })).toHaveCount(0); // the top bar does not offer it
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "403 · Not allowed" })).toBeVisible();
  await expect(page.locator("main").getByRole("alert")).toContainText("for viewers and operators");
  await expect(page.getByRole("navigation", { name: "Dashboard sections" })).toHaveCount(0);
  await page.goto("/admin/outbox");
  await expect(page.getByRole("heading", { name: "403 · Not allowed" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Outbox events" })).toHaveCount(0);
});

test("the operator sees real numbers, a completed upload saga's timeline and the published events", async ({ page, browser }) => {
  const name = `admin-e2e-${Date.now()}.txt`;
  await uploadAsDemoUser(browser, name);

  await signIn(page, "operator");
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByTestId("live-indicator")).toContainText(/updated \d+s ago/);
  // The relay publishes after the saga committed the event: the overview refreshes itself every 5 s.
  await expect.poll(async () => count(await statValue(page, "Outbox events by status", "published").textContent()), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect.poll(async () => count(await statValue(page, "Sagas by status", "completed").textContent()), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect(statValue(page, "Saga outcomes", "Success rate")).toContainText("%");
  await expect(statValue(page, "Cache totals", "Redis")).toHaveText("ready");

  // Sagas: the completed file-upload saga, and its timeline with every step.
  await page.getByRole("navigation", { name: "Dashboard sections" }).getByRole("link", { name: "Sagas" }).click();
  await page.getByRole("form", { name: "Filter sagas" }).getByLabel("completed", { exact: true }).check();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/status=completed/);
  const sagas = page.getByRole("table", { name: "Sagas" });
  await expect(sagas).toContainText("file.upload");
  await expect(sagas.locator("tbody tr").first()).toContainText("completed");
  await sagas.getByRole("link", { name: /Timeline of file\.upload saga/ }).first().click();
  await expect(page.getByRole("heading", { name: "Saga file.upload" })).toBeVisible();
  const timeline = page.getByRole("table", { name: "Saga timeline" });
  for (const step of ["check-staged", "reserve-quota", "store-blob", "inspect", "create-record", "derive"]) {
    await expect(timeline.locator("tr", { hasText: step })).toContainText("succeeded");
  }
  // A completed saga offers redrive only when a step is not in effect: abort/resume/retry are disabled.
  await expect(page.getByRole("button", { name: "Abort…" })).toBeDisabled();
  await expect(page.getByRole("button", { name: "Resume" })).toBeDisabled();
  await expect(page.getByRole("button", { name: "Retry step" })).toBeDisabled();

  // Outbox: the upload's file.uploaded event was published; its detail shows the payload.
  await page.getByRole("navigation", { name: "Dashboard sections" }).getByRole("link", { name: "Outbox" }).click();
  await page.getByLabel("Event type").fill("file.uploaded");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/type=file\.uploaded/);
  const events = page.getByRole("table", { name: "Outbox events" });
  await expect(events.locator("tbody tr").first()).toBeVisible();
  await expect(events.locator("tbody tr", { hasText: "file.uploaded" })).not.toHaveCount(0);
  await expect(events.locator("tbody tr").filter({ hasNotText: "file.uploaded" })).toHaveCount(0);
  await expect(events.locator("tbody tr", { hasText: "published" }).first()).toBeVisible({ timeout: 15_000 });
  await events.getByRole("link", { name: /Event file\.uploaded/ }).first().click();
  await expect(page.getByRole("heading", { name: "Event file.uploaded" })).toBeVisible();
  await expect(page.getByLabel("Event payload")).toContainText(`"name": "${name}"`);
  await expect(page.getByText("Published", { exact: true })).toBeVisible();

  // Retry all matching, with nothing failed: the confirm shows the filter, the result says 0.
  await page.getByRole("link", { name: "← Outbox" }).click();
  await page.getByRole("form", { name: "Filter outbox events" }).getByLabel("failed", { exact: true }).check();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page.getByText("No event matches status failed.")).toBeVisible();
  await page.getByRole("button", { name: "Retry all matching…" }).click();
  const confirm = page.getByRole("dialog", { name: "Retry all matching events" });
  await expect(confirm).toContainText("status failed");
  await confirm.getByRole("button", { name: "Retry them" }).click();
  await expect(page.getByRole("status")).toHaveText("No failed or dead event matched: nothing was retried.");
  await expect(confirm).toBeHidden();

  // Idempotency: that mutation carried a key; its record shows the stored result.
  await page.getByRole("navigation", { name: "Dashboard sections" }).getByRole("link", { name: "Idempotency" }).click();
  await page.getByRole("form", { name: "Search idempotency records" }).getByLabel("Procedure").fill("admin.outbox.retryMatching");
  await page.getByRole("button", { name: "Search" }).click();
  const records = page.getByRole("table", { name: "Idempotency records" });
  await expect(records).toContainText("admin.outbox.retryMatching");
  await records.locator("summary", { hasText: "data" }).first().click();
  await expect(records.getByLabel(/Stored result of/).first()).toContainText('"retried": 0');

  // Cache: flush the files prefix through the confirm dialog.
  await page.getByRole("navigation", { name: "Dashboard sections" }).getByRole("link", { name: "Cache" }).click();
  await expect(page.getByRole("heading", { name: "Query cache" })).toBeVisible();
  await page.getByLabel("Prefix", { exact: true }).fill("files");
  await page.getByRole("button", { name: "Flush prefix…", exact: true }).click();
  await page.getByRole("dialog", { name: "Flush cache prefix", exact: true }).getByRole("button", { name: "Flush prefix", exact: true }).click();
  await expect(page.getByRole("status")).toContainText(/Prefix files flushed: \d+ keys? deleted\./);
});

test("a viewer reads the dashboard but is offered no action", async ({ page, browser }) => {
  await uploadAsDemoUser(browser, `viewer-e2e-${Date.now()}.txt`);
  await signIn(page, "viewer");
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Dashboard sections" })).toContainText("Read-only");

  await page.goto("/admin/outbox");
  const events = page.getByRole("table", { name: "Outbox events" });
  await expect(events.locator("tbody tr").first()).toBeVisible();
  await expect(events.getByRole("link", { name: "Details" }).first()).toBeVisible();
  await expect(page.getByRole("button", { name: /Retry|Discard/ })).toHaveCount(0);

  await page.goto("/admin/sagas");
  await page.getByRole("table", { name: "Sagas" }).getByRole("link").first().click();
  await expect(page.getByRole("table", { name: "Saga timeline" })).toBeVisible();
  await expect(page.getByRole("group", { name: "Saga actions" })).toHaveCount(0);

  await page.goto("/admin/cache");
  await expect(page.getByRole("heading", { name: "Query cache" })).toBeVisible();
  await expect(page.getByRole("button", { name: /Flush/ })).toHaveCount(0);

  await page.goto("/admin/idempotency");
  await expect(page.getByRole("heading", { name: "Counters" })).toBeVisible();
  await expect(page.getByRole("button", { name: /Delete expired/ })).toHaveCount(0);
});

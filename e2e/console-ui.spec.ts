/**
 * The console on the component library: it renders with the library and its charts, the live
 * stream takes over from polling (and polling takes over when the stream is refused; the top
 * failure groups ride it too), a retry goes through a confirm dialog and ends with a toast, and a
 * tablet-width screen never scrolls sideways.
 * Screenshots of every page at desktop and tablet width are attached to the test results.
 */
import { randomUUID } from "node:crypto";
import { expect, test, type Page } from "@playwright/test";
import { screenshot, seedDeadEvents, signIn, sql } from "./support";

const DESKTOP = { width: 1280, height: 900 };
const TABLET = { width: 820, height: 1180 };
const PAGES = ["/admin", "/admin/outbox", "/admin/sagas", "/admin/idempotency", "/admin/cache", "/files"];

/** Every CSP refusal the page reports (a <style> or script without the nonce would be one). */
function collectCspViolations(page: Page) {
  const violations: string[] = [];
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

const liveIndicator = (page: Page) => page.getByTestId("live-indicator");

test("the overview renders with the library, its charts, and turns live; a change arrives without polling", async ({ page }, testInfo) => {
  const violations = collectCspViolations(page);
  await page.setViewportSize(DESKTOP);
  await signIn(page, "operator");
  // An event to look at: the demo user's files page upload is not needed, the file list page's own
  // data is enough; but the outbox must hold one event at least.
  // Not one already dead: earlier specs (bulk, replay) share this database and may have left one, and
  // the count must move.
  const [event] = await sql<{ id: string }>(`SELECT id::text FROM outbox_event WHERE status <> 'dead' ORDER BY id DESC LIMIT 1`);
  test.skip(!event, "the seed wrote no outbox event");

  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "light");
  await expect(page.locator(".mantine-Badge-root").first()).toBeVisible();
  // Charts: backlog by status and sagas by status (recharts SVGs).
  await expect(page.getByRole("img", { name: /Backlog by status/ })).toBeVisible();
  await expect(page.getByRole("img", { name: /Sagas by status/ })).toBeVisible();
  await expect(page.locator(".recharts-surface").first()).toBeVisible();

  await expect(liveIndicator(page)).toHaveAttribute("data-mode", "live");
  await expect(liveIndicator(page)).toContainText(/Live\s*updated \d+s ago/);
  await screenshot(page, testInfo, "overview-1280-live");

  // A change in PostgreSQL shows up through the stream: while live, the page does not poll.
  const polls: string[] = [];
  page.on("request", (req) => {
    if (req.url().includes("admin.outbox.stats")) polls.push(req.url());
  });
  const dead = page.locator('dl[aria-label="Outbox events by status"] .stat').filter({ has: page.locator("dt", { hasText: /^dead$/i }) }).locator("dd");
  const deadBefore = (await sql<{ n: string }>(`SELECT count(*)::text AS n FROM outbox_event WHERE status = 'dead'`))[0]!.n;
  await expect(dead).toHaveText(deadBefore!);
  await sql(`UPDATE outbox_event SET status = 'dead', last_error = 'e2e: the broker said no', attempts = 5, last_failed_at = now() WHERE id = $1`, [event!.id]);
  await expect(dead).toHaveText(String(Number(deadBefore) + 1));
  expect(polls, "the stats came through the stream, not a refetch").toEqual([]);
  expect(violations).toEqual([]);
});

test("a new failure group reaches the overview's top failure groups through the stream, without polling", async ({ page }) => {
  await signIn(page, "operator");
  await page.goto("/admin");
  await expect(liveIndicator(page)).toHaveAttribute("data-mode", "live");
  const polls: string[] = [];
  page.on("request", (req) => {
    if (req.url().includes("admin.failures.groups")) polls.push(req.url());
  });
  // Letters only: the fingerprint keeps words and drops numbers, so the marker names the group.
  const marker = randomUUID().replace(/[^a-f]/g, "").slice(0, 8);
  // Enough events to rank among the top groups whatever earlier specs left behind.
  await seedDeadEvents(`consumer file-indexer: live ${marker} refused the tags`, 100);
  await expect(page.getByRole("list", { name: "Top failure groups" }).getByRole("link", { name: new RegExp(marker) })).toBeVisible();
  expect(polls, "the groups came through the stream, not a refetch").toEqual([]);
});

test("retry an event through the confirm dialog, and the toast says so", async ({ page }, testInfo) => {
  await page.setViewportSize(DESKTOP);
  await signIn(page, "operator");
  const [event] = await sql<{ id: string }>(
    `UPDATE outbox_event SET status = 'dead', last_error = 'e2e: retry me', attempts = 5, last_failed_at = now()
     WHERE id = (SELECT id FROM outbox_event ORDER BY id DESC LIMIT 1) RETURNING id::text`,
  );
  test.skip(!event, "the seed wrote no outbox event");

  await page.goto("/admin/outbox?status=dead");
  const events = page.getByRole("table", { name: "Outbox events" });
  await events.getByRole("button", { name: `Retry event ${event!.id}` }).click();
  const dialog = page.getByRole("dialog", { name: `Retry event ${event!.id.slice(-12)}` });
  await expect(dialog).toBeVisible();
  await screenshot(page, testInfo, "retry-confirm-dialog");
  await dialog.getByRole("button", { name: "Retry event" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator(".mantine-Notification-root").filter({ hasText: `Event ${event!.id.slice(-12)}` })).toContainText("queued for retry");
  await screenshot(page, testInfo, "retry-toast");
  // The server really did it: the event is no longer dead.
  await expect.poll(async () => (await sql<{ status: string }>(`SELECT status::text FROM outbox_event WHERE id = $1`, [event!.id]))[0]!.status).not.toBe("dead");
});

test("when the live stream is refused, the page says polling and keeps refreshing", async ({ page }) => {
  await page.setViewportSize(DESKTOP);
  await signIn(page, "operator");
  await page.route("**/api/trpc/admin.live.watch**", (route) => route.abort("connectionrefused"));
  let polls = 0;
  page.on("request", (req) => {
    if (req.url().includes("admin.outbox.stats")) polls += 1;
  });
  await page.goto("/admin");
  await expect(liveIndicator(page)).toHaveAttribute("data-mode", "polling");
  await expect(liveIndicator(page)).toContainText("Polling");
  // Polling: the stats are fetched again on the interval (the first render came from the server).
  await expect.poll(() => polls, { timeout: 20_000 }).toBeGreaterThan(0);
});

test("every console page and the files page fit a tablet without sideways scrolling", async ({ page }, testInfo) => {
  await signIn(page, "operator");
  for (const [label, size] of [
    ["1280", DESKTOP],
    ["tablet-820", TABLET],
  ] as const) {
    await page.setViewportSize(size);
    for (const path of PAGES) {
      await page.goto(path);
      await expect(page.locator("main")).toBeVisible();
      // Loaded: no loading state left (the live stream keeps a request open, so no "network idle").
      await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${path} at ${label} px scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(0);
      await screenshot(page, testInfo, `${path.replaceAll("/", "_") || "root"}-${label}`);
    }
  }
});

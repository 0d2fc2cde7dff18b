/**
 * What the e2e specs share: signing in as each kind of account, SQL against the run's database (to
 * seed what a page needs and to check what an action did), an upload by the demo user, and
 * screenshots kept as test artifacts. Specs import from here instead of repeating it.
 */
import { expect, test, type Browser, type Page, type TestInfo } from "@playwright/test";
import pg from "pg";
import { CONSOLE_SECTIONS, type ConsoleSection } from "../src/app/admin/_components/sections";
import { errorFingerprint } from "../src/server/reliability/failures/fingerprint";
import { e2eEnv } from "./env";

export { e2eEnv };

export interface Account {
  email: string;
  password: string;
}

/** A viewer account (the seed has none): made on first use, with the demo user's password. */
const VIEWER: Account = { email: "viewer-e2e@metastore.local", password: e2eEnv.DEMO_USER_PASSWORD! };

export const ACCOUNTS = {
  user: { email: e2eEnv.DEMO_USER_EMAIL!, password: e2eEnv.DEMO_USER_PASSWORD! },
  operator: { email: e2eEnv.DEMO_OPERATOR_EMAIL!, password: e2eEnv.DEMO_OPERATOR_PASSWORD! },
  viewer: VIEWER,
} satisfies Record<string, Account>;

export type Who = keyof typeof ACCOUNTS | Account;

/** One query on a connection of its own (specs run one at a time; no pool to leak between them). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const db = new pg.Client({ connectionString: e2eEnv.DATABASE_URL });
  await db.connect();
  try {
    return (await db.query<T>(text, values)).rows;
  } finally {
    await db.end();
  }
}

/** An account like the demo user's (same password), with the given role; nothing if the email exists. */
export async function ensureAccount(email: string, role: "user" | "viewer" | "operator") {
  await sql(
    `INSERT INTO app_user (id, email, name, password_hash, role, created_at, updated_at)
     SELECT gen_random_uuid(), $1, 'E2E ' || $3, password_hash, $3::"Role", now(), now() FROM app_user WHERE email = $2
     ON CONFLICT (email) DO NOTHING`,
    [email, ACCOUNTS.user.email, role],
  );
}

/** Fills in and sends the sign-in form; what happens next is the caller's to check. */
export async function submitSignIn(page: Page, who: Who) {
  const account = typeof who === "string" ? ACCOUNTS[who] : who;
  if (who === "viewer") await ensureAccount(account.email, "viewer");
  await page.goto("/signin");
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Signs in and waits for the landing page (the files page). */
export async function signIn(page: Page, who: Who = "user") {
  await submitSignIn(page, who);
  await expect(page).toHaveURL(/\/files$/);
}

/** The demo user uploads a file through the files page (in a browser context of its own) and waits until it is stored. */
export async function uploadAsDemoUser(browser: Browser, name: string, content = `e2e ${name}\n`) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, "user");
  await page.getByLabel("File to upload").setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from(content) });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText(`Uploaded ${name}.`, { timeout: 30_000 });
  await context.close();
}

/** A full-page screenshot attached to the test's results (and left in its output folder). */
export async function screenshot(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
  return path;
}

/**
 * `count` dead file.tagged events, each of an aggregate of its own (what a consumer bug leaves
 * behind), failed with `error`: their failure fingerprint is the one the worker would record, so
 * they form one failure group. Returns their ids.
 */
export async function seedDeadEvents(error: string, count = 1) {
  const rows = await sql<{ id: string }>(
    `WITH agg AS (
       INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq)
       SELECT 'file', gen_random_uuid()::text, 1 FROM generate_series(1, $3::int) RETURNING aggregate_id)
     INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, attempts, last_error, last_failed_at, failure_fingerprint)
     SELECT gen_random_uuid(), 'file', aggregate_id, 1, 'file.tagged', jsonb_build_object('fileId', aggregate_id, 'ownerId', aggregate_id, 'tags', jsonb_build_array('e2e')),
            'dead', 5, $1, now(), $2
     FROM agg RETURNING id::text`,
    [error, errorFingerprint({ message: error }), count],
  );
  return rows.map((r) => r.id);
}

/** Skips the rest of a test with a reason when a precondition the seed should have met is missing. */
export function need<T>(value: T | undefined | null, why: string): T {
  test.skip(value === undefined || value === null, why);
  return value!;
}

/**
 * Every page of the console (the nav's sections, each list followed by a detail page of a saga or
 * an event the run has written), the files page last. `uploadAsDemoUser` first if the run may not
 * have a saga yet.
 */
export async function consolePages() {
  const [saga] = await sql<{ id: string }>(`SELECT id::text FROM saga_instance ORDER BY created_at DESC LIMIT 1`);
  const [event] = await sql<{ id: string }>(`SELECT id::text FROM outbox_event ORDER BY id DESC LIMIT 1`);
  const sagaId = need(saga?.id, "no saga in the e2e database");
  const eventId = need(event?.id, "no outbox event in the e2e database");
  const details: Partial<Record<ConsoleSection["name"], Array<{ name: string; path: string }>>> = {
    outbox: [{ name: "outbox-event", path: `/admin/outbox/${eventId}` }],
    sagas: [
      { name: "saga-timeline", path: `/admin/sagas/${sagaId}` },
      { name: "trace", path: `/admin/trace/${sagaId}?kind=saga` },
    ],
  };
  return [
    ...CONSOLE_SECTIONS.flatMap((s) => [{ name: s.name as string, path: s.href as string }, ...(details[s.name] ?? [])]),
    { name: "files", path: "/files" },
  ];
}

/** A page has loaded: its main landmark is there and no loading state is left (the live stream keeps a request open: no "network idle"). */
export async function settled(page: Page) {
  await expect(page.locator("main")).toBeVisible();
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
}

/**
 * The second half of every bulk flow, whatever it acts on: confirm the dry run's action with a
 * reason, follow the progress to the summary, and find the run in the audit log with both counts.
 */
export async function confirmBulkAndCheckAudit(
  page: Page,
  testInfo: TestInfo,
  run: { button: string; dialog: string; count: number; done: string; marker: string; summaryShot: string; auditShot: string },
) {
  await page.getByRole("button", { name: run.button }).click();
  const dialog = page.getByRole("dialog", { name: run.dialog });
  await dialog.getByLabel("Reason (optional, kept in the audit log)").fill(`e2e ${run.marker}`);
  await dialog.getByRole("button", { name: "Start" }).click();
  await expect(page.getByRole("progressbar", { name: "Bulk operation progress" })).toBeVisible();
  await expect(page.getByRole("status", { name: "Bulk operation summary" })).toHaveText(
    new RegExp(`^Completed: ${run.count} ${run.done} \\(dry run: ${run.count}; 0 skipped\\)`),
    { timeout: 30_000 },
  );
  await expect(page.getByRole("status", { name: "Bulk operation counts" })).toContainText(`examined ${run.count} of ${run.count}, affected ${run.count}`);
  await page.screenshot({ path: testInfo.outputPath(run.summaryShot), fullPage: true });

  await page.goto(`/admin/audit?text=${encodeURIComponent(run.marker)}&action=bulk.complete`);
  const row = page.getByRole("table", { name: "Audit log" }).getByRole("row").filter({ hasText: "bulk.complete" });
  await expect(row).toHaveCount(1);
  // Columns: when, who, action, target, dry run, affected, reason, outcome.
  await expect(row.getByRole("cell").nth(1)).toHaveText(ACCOUNTS.operator.email);
  await expect(row.getByRole("cell").nth(4)).toHaveText(String(run.count));
  await expect(row.getByRole("cell").nth(5)).toHaveText(String(run.count));
  await expect(row.getByRole("cell").nth(6)).toHaveText(`e2e ${run.marker}`);
  await page.screenshot({ path: testInfo.outputPath(run.auditShot), fullPage: true });
}

import { expect, test, type Page } from "@playwright/test";
import pg from "pg";
import { e2eEnv } from "./env";

/**
 * The console's search box (admin header): "/" focuses it; Enter with one hit opens that hit's
 * page; several hits are listed to pick from. Over the built app, its worker and real uploads.
 */

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/files$/);
}

async function upload(page: Page, name: string) {
  await page.getByLabel("File to upload").setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from(`search e2e ${name}\n`) });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText(`Uploaded ${name}.`, { timeout: 30_000 });
}

/** The uploaded file's id and the id of its outbox event (the upload saga appends it when it commits). */
async function fileAndEvent(name: string): Promise<{ fileId: string; eventId: string }> {
  const db = new pg.Client({ connectionString: e2eEnv.DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ file_id: string; event_id: string }>(
      `SELECT f.id::text AS file_id, e.id::text AS event_id FROM file f JOIN outbox_event e ON e.aggregate_type = 'file' AND e.aggregate_id = f.id::text
        WHERE f.name = $1 ORDER BY e.aggregate_seq LIMIT 1`,
      [name],
    );
    return { fileId: rows[0]!.file_id, eventId: rows[0]!.event_id };
  } finally {
    await db.end();
  }
}

test("the console search: an event id opens the event, a file name opens the file, several hits are listed", async ({ browser }) => {
  const stamp = Date.now().toString(36);
  const first = `search-e2e-${stamp}-first.txt`;
  const second = `search-e2e-${stamp}-second.txt`;
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await signIn(user, e2eEnv.DEMO_USER_EMAIL!, e2eEnv.DEMO_USER_PASSWORD!);
  await upload(user, first);
  await upload(user, second);
  await userContext.close();
  const { fileId, eventId } = await fileAndEvent(first);
  const { fileId: secondId } = await fileAndEvent(second);

  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, e2eEnv.DEMO_OPERATOR_EMAIL!, e2eEnv.DEMO_OPERATOR_PASSWORD!);
  await page.goto("/admin");
  const box = page.getByRole("textbox", { name: "Search the console" });

  // "/" from anywhere on the page focuses the box; an event id + Enter lands on the event's page.
  await page.locator("main").click();
  await page.keyboard.press("/");
  await expect(box).toBeFocused();
  await expect(box).toHaveValue("");
  await box.fill(eventId);
  await box.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/admin/outbox/${eventId}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Event file.uploaded");

  // A file's name + Enter lands on the file's page (its trace: events, saga, consumer runs).
  await page.keyboard.press("/");
  await box.fill(first);
  await box.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/admin/trace/${fileId}\\?kind=file$`));

  // Both files match the common part: Enter lists them, and picking one opens it.
  await page.keyboard.press("/");
  await box.fill(`search-e2e-${stamp}`);
  await box.press("Enter");
  const hits = page.getByRole("option");
  await expect(hits).toHaveCount(2);
  await expect(hits.filter({ hasText: first })).toHaveCount(1);
  await expect(hits.filter({ hasText: second })).toHaveCount(1);
  await hits.filter({ hasText: second }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/trace/${secondId}\\?kind=file$`));

  // Nothing found: the list says so and what to try.
  await page.keyboard.press("/");
  await box.fill(`no-such-thing-${stamp}`);
  await box.press("Enter");
  await expect(page.getByText(`Nothing matches “no-such-thing-${stamp}”`)).toBeVisible();
  await context.close();
});

import { expect, test, type Page } from "@playwright/test";
import pg from "pg";
import { e2eEnv } from "./env";

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/files$/);
}

async function sagaOfUpload(name: string): Promise<string> {
  const db = new pg.Client({ connectionString: e2eEnv.DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM saga_instance WHERE input->>'name' = $1 ORDER BY created_at DESC LIMIT 1`, [name]);
    return rows[0]!.id;
  } finally {
    await db.end();
  }
}

test("the trace page of an upload shows its request, saga steps, event and consumer runs in time order", async ({ browser }) => {
  const name = `traced-${Date.now()}.txt`;
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await signIn(user, e2eEnv.DEMO_USER_EMAIL!, e2eEnv.DEMO_USER_PASSWORD!);
  await user.getByLabel("File to upload").setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from("trace e2e\n") });
  await user.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(user.getByRole("status")).toHaveText(`Uploaded ${name}.`, { timeout: 30_000 });
  await userContext.close();

  const sagaId = await sagaOfUpload(name);
  const operatorContext = await browser.newContext();
  const page = await operatorContext.newPage();
  await signIn(page, e2eEnv.DEMO_OPERATOR_EMAIL!, e2eEnv.DEMO_OPERATOR_PASSWORD!);
  await page.goto(`/admin/sagas/${sagaId}`);
  await page.getByRole("link", { name: "Trace: request → consumers" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/trace/${sagaId}\\?kind=saga$`));
  // Consumer runs are written just after the event is consumed: reload until they are there.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("trace-entry-consumer-run").first()).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 30_000 });

  const trace = page.getByTestId("trace");
  await expect(page.getByTestId("trace-correlation-id")).toHaveText(/^[\w.:-]+$/);
  await expect(page.getByTestId("trace-entry-request")).toContainText("files.startUpload");
  await expect(page.getByTestId("trace-entry-request")).toContainText("Idempotency-Key");
  await expect(page.getByTestId("trace-entry-saga")).toContainText("file.upload");
  expect(await page.getByTestId("trace-entry-saga-step").count()).toBeGreaterThanOrEqual(3);
  await expect(page.getByTestId("trace-entry-event")).toContainText("file.uploaded");
  await expect(page.getByTestId("trace-entry-event")).toContainText("relay delay");
  // Rows in time order: the request first, the consumer runs after their event.
  const kinds = await trace.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-testid")));
  expect(kinds[0]).toBe("trace-entry-request");
  expect(kinds.indexOf("trace-entry-event")).toBeLessThan(kinds.indexOf("trace-entry-consumer-run"));
  // From the event's page, the same chain.
  await page.getByTestId("trace-entry-event").getByRole("link", { name: "file.uploaded" }).click();
  await page.getByRole("link", { name: "Trace: request → consumers" }).click();
  await expect(page.getByTestId("trace-entry-request")).toContainText("files.startUpload");
  await page.screenshot({ path: "test-results/trace-page.png", fullPage: true });
  await operatorContext.close();
});

import { expect, test } from "@playwright/test";
import { signIn, sql, uploadAsDemoUser } from "./support";

async function sagaOfUpload(name: string): Promise<string> {
  const [saga] = await sql<{ id: string }>(`SELECT id FROM saga_instance WHERE input->>'name' = $1 ORDER BY created_at DESC LIMIT 1`, [name]);
  return saga!.id;
}

test("the trace page of an upload shows its request, saga steps, event and consumer runs in time order", async ({ browser }) => {
  const name = `traced-${Date.now()}.txt`;
  await uploadAsDemoUser(browser, name, "trace e2e\n");

  const sagaId = await sagaOfUpload(name);
  const operatorContext = await browser.newContext();
  const page = await operatorContext.newPage();
  await signIn(page, "operator");
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

import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { e2eEnv, signIn, submitSignIn } from "./support";

test("a signed-out visitor is sent to the sign-in page", async ({ page }) => {
  await page.goto("/files");
  await expect(page).toHaveURL(/\/signin\?next=%2Ffiles|\/signin\?next=\/files/);
  await expect(page.getByRole("heading", { name: "Sign in to MetaStore" })).toBeVisible();
});

test("a wrong password is refused with a clear message", async ({ page }) => {
  await submitSignIn(page, { email: e2eEnv.DEMO_USER_EMAIL!, password: "not-the-password" });
  await expect(page.locator("form").getByRole("alert")).toHaveText("Email or password is wrong");
  await expect(page).toHaveURL(/\/signin/);
});

test("sign in, upload, list, rename, download and delete a file", async ({ page }) => {
  await signIn(page, "user");
  await expect(page.getByRole("table", { name: "Files" })).toContainText("welcome.txt"); // seeded demo data

  const name = `e2e-${Date.now()}.txt`;
  const content = `uploaded by playwright at ${new Date().toISOString()}\n`;
  await page.getByLabel("File to upload").setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from(content) });
  await page.getByLabel("Tags for the upload").fill("E2E, test");
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText(`Uploaded ${name}.`);

  const row = page.locator("tr", { hasText: name });
  await expect(row).toBeVisible();
  await expect(row).toContainText("e2e");
  await expect(row).toContainText("test");

  // Rename
  const renamed = name.replace(".txt", "-renamed.txt");
  await row.getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("New name").fill(renamed);
  await page.getByRole("button", { name: "Save" }).click();
  const renamedRow = page.locator("tr", { hasText: renamed });
  await expect(renamedRow).toBeVisible();

  // Download: the browser gets the bytes under the new name.
  const downloadPromise = page.waitForEvent("download");
  await renamedRow.getByRole("link", { name: "Download" }).click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe(renamed);
  expect(await readFile((await download.path())!, "utf8")).toBe(content);

  // Delete, through the confirm dialog.
  await renamedRow.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog", { name: `Delete ${renamed}` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(page.locator("tr", { hasText: renamed })).toHaveCount(0);

  // It stays gone after a reload (server state, not just the client's).
  await page.reload();
  await expect(page.getByRole("table", { name: "Files" })).toContainText("welcome.txt");
  await expect(page.locator("tr", { hasText: renamed })).toHaveCount(0);
});

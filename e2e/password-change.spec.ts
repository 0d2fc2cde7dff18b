import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { signIn } from "./support";

test("a user created with a one-time password must set their own before anything else, then reaches their files", async ({ page }) => {
  const email = `otp-${randomUUID().slice(0, 8)}@e2e.local`;

  // The operator creates the account and reads the one-time password once.
  await signIn(page, "operator");
  await page.goto("/admin/users");
  const create = page.getByRole("region", { name: "Create a user" });
  await create.getByLabel("Email").fill(email);
  await create.getByLabel("Name").fill("New Colleague");
  await create.getByRole("button", { name: "Create user" }).click();
  const oneTimePassword = (await create.getByLabel("One-time password").textContent())!.trim();
  expect(oneTimePassword).toMatch(/^[\w-]{20}$/);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The new user signs in and lands on the change-password page, not on their files.
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(oneTimePassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/change-password\?next=%2Ffiles$/);
  await expect(page.getByRole("heading", { name: "Set your own password" })).toBeVisible();
  await expect(page.getByText("At least 12 characters, different from the current one.")).toBeVisible();

  // Any other page sends them back; the API refuses them with the reason.
  await page.goto("/files");
  await expect(page).toHaveURL(/\/change-password$/);
  const refused = await page.request.get("/api/trpc/files.list");
  expect(refused.status()).toBe(403);
  expect(JSON.stringify(await refused.json())).toContain("one-time password");

  // Clear errors: too short, then the two entries differ; nothing is saved.
  await page.getByRole("textbox", { name: "One-time password" }).fill(oneTimePassword);
  await page.getByRole("textbox", { name: "New password", exact: true }).fill("short");
  await page.getByRole("textbox", { name: "New password again" }).fill("short");
  await page.getByRole("button", { name: "Save new password" }).click();
  await expect(page.getByRole("alert", { name: "The password was not changed" })).toContainText("at least 12 characters (it has 5)");
  await page.getByRole("textbox", { name: "New password", exact: true }).fill("my-own-long-password");
  await page.getByRole("textbox", { name: "New password again" }).fill("my-own-long-passwort");
  await page.getByRole("button", { name: "Save new password" }).click();
  await expect(page.getByRole("alert", { name: "The password was not changed" })).toContainText("do not match");
  // A wrong current password is the server's refusal, shown as it is.
  await page.getByRole("textbox", { name: "One-time password" }).fill("not-the-one-time-password");
  await page.getByRole("textbox", { name: "New password again" }).fill("my-own-long-password");
  await page.getByRole("button", { name: "Save new password" }).click();
  await expect(page.getByRole("alert", { name: "The password was not changed" })).toContainText("The current password is wrong");
  await page.screenshot({ path: test.info().outputPath("change-password.png"), fullPage: true });

  await page.getByRole("textbox", { name: "One-time password" }).fill(oneTimePassword);
  await page.getByRole("button", { name: "Save new password" }).click();
  await expect(page).toHaveURL(/\/files$/);
  await expect(page.getByText(`${email} (user)`)).toBeVisible();
  expect((await page.request.get("/api/trpc/files.list")).status()).toBe(200);
});

import { expect, test } from "@playwright/test";
import { e2eEnv } from "./env";

test("pages run under a nonce CSP without violations, and ?next= cannot lead off the site", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  // Decoded by the server, this is "/\t/evil.com": a tab browsers drop, leaving //evil.com.
  const response = await page.goto("/signin?next=/%09/evil.com");
  const csp = response?.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
  expect(csp).toMatch(/frame-ancestors 'none'/);
  await page.getByLabel("Email").fill(e2eEnv.DEMO_USER_EMAIL!);
  await page.getByLabel("Password").fill(e2eEnv.DEMO_USER_PASSWORD!);
  await page.getByRole("button", { name: "Sign in" }).click(); // works only if the page hydrated under the CSP
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/files$/);
  expect(violations).toEqual([]);
});

test("a mutation sent from another origin is refused with 403", async ({ request }) => {
  const res = await request.post("/api/trpc/auth.signIn", {
    headers: { "content-type": "application/json", origin: "https://evil.example" },
    data: { json: { email: e2eEnv.DEMO_USER_EMAIL, password: e2eEnv.DEMO_USER_PASSWORD } },
  });
  expect(res.status()).toBe(403);
  expect(res.headers()["set-cookie"]).toBeUndefined();
});

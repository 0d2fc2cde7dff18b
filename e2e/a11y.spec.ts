/**
 * Accessibility: axe (WCAG 2.1 A and AA rules) on the sign-in page, every console page and the
 * files page, signed in as an operator (every action shown) and as a viewer (read-only). No
 * serious or critical violation may remain. Each page's screenshot is attached to the results.
 */
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { consolePages, screenshot, settled, signIn, uploadAsDemoUser } from "./support";

const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** The serious and critical violations of the page, one line each with where they are. */
async function seriousViolations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(" | ")}`);
}

async function audit(page: Page, testInfo: TestInfo, name: string) {
  await screenshot(page, testInfo, name);
  expect.soft(await seriousViolations(page), `${name}: serious or critical accessibility violations`).toEqual([]);
}

test.beforeAll(async ({ browser }) => {
  // A saga and its events, for the detail pages.
  await uploadAsDemoUser(browser, `a11y-${Date.now()}.txt`);
});

for (const who of ["operator", "viewer"] as const) {
  test(`no serious accessibility violation on sign-in, every console page and the files page, as ${who}`, async ({ page }, testInfo) => {
    test.setTimeout(180_000);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto("/signin");
    await audit(page, testInfo, `${who}-signin`);
    await signIn(page, who);
    for (const { name, path } of await consolePages()) {
      await page.goto(path);
      await settled(page);
      await audit(page, testInfo, `${who}-${name}`);
    }
  });
}

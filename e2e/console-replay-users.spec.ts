import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { e2eEnv, signIn, sql } from "./support";

test("an edited replay is refused when it breaks the event's contract, then accepted and linked to the original", async ({ page }) => {
  // A dead file.tagged event of its own aggregate (what a consumer bug leaves behind).
  const fileId = randomUUID();
  const eventId = randomUUID();
  await sql(`INSERT INTO outbox_aggregate (aggregate_type, aggregate_id, last_seq) VALUES ('file', $1, 1)`, [fileId]);
  await sql(
    `INSERT INTO outbox_event (id, aggregate_type, aggregate_id, aggregate_seq, event_type, payload, status, attempts, last_error, last_failed_at)
     VALUES ($1, 'file', $2, 1, 'file.tagged', $3, 'dead', 5, 'consumer x: tags were wrong', now())`,
    [eventId, fileId, JSON.stringify({ fileId, ownerId: fileId, tags: ["wrong"] })],
  );
  await signIn(page, "operator");
  await page.goto(`/admin/outbox/${eventId}`);
  const editor = page.getByLabel("Payload (JSON)");
  await expect(editor).toHaveValue(/"wrong"/);

  // Not JSON: caught in the page, nothing sent.
  await editor.fill("{ not json");
  await expect(page.getByText(/Not valid JSON/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Replay edited event" })).toBeDisabled();

  // JSON, but breaks the contract (tags must be a list): the server refuses and names the field.
  await editor.fill(JSON.stringify({ fileId, ownerId: fileId, tags: "fixed" }));
  await page.getByRole("button", { name: "Replay edited event" }).click();
  await expect(page.getByText(/Replay refused: The payload does not match the file\.tagged contract/)).toBeVisible();
  await expect(page.getByRole("list", { name: "Contract violations" })).toContainText("tags");
  expect(await sql(`SELECT id FROM outbox_event WHERE replay_of = $1`, [eventId])).toEqual([]);

  // Fixed: a new event, linked both ways, waiting for the original.
  await editor.fill(JSON.stringify({ fileId, ownerId: fileId, tags: ["fixed"] }));
  await page.getByLabel("Reason (kept in the audit log)").last().fill("tags fixed by hand");
  await page.getByRole("button", { name: "Replay edited event" }).click();
  const done = page.getByRole("status").filter({ hasText: "Replayed as" });
  await expect(done).toContainText(/waits for event .* \(dead\)/);
  const [replay] = await sql<{ id: string; payload: { tags: string[] } }>(`SELECT id, payload FROM outbox_event WHERE replay_of = $1`, [eventId]);
  expect(replay!.payload.tags).toEqual(["fixed"]);
  await page.screenshot({ path: test.info().outputPath("replay-edited.png"), fullPage: true });
  await done.getByRole("link", { name: /^event / }).first().click();
  await expect(page).toHaveURL(new RegExp(`/admin/outbox/${replay!.id}$`));
  await expect(page.getByRole("link", { name: `event ${eventId.slice(-12)}` })).toBeVisible();
  const [audit] = await sql<{ reason: string }>(`SELECT reason FROM operator_audit WHERE action = 'outbox.replayEdited' AND target_ids @> $1::jsonb`, [JSON.stringify([eventId])]);
  expect(audit?.reason).toBe("tags fixed by hand");
});

test("the users page changes a role, and it applies to that user's next request", async ({ page, browser }) => {
  const email = `role-e2e-${randomUUID().slice(0, 8)}@metastore.local`;
  await sql(
    `INSERT INTO app_user (id, email, name, password_hash, role, created_at, updated_at)
     SELECT gen_random_uuid(), $1, 'Role E2E', password_hash, 'viewer', now(), now() FROM app_user WHERE email = $2`,
    [email, e2eEnv.DEMO_USER_EMAIL],
  );
  // The viewer is signed in and sees the dashboard.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, { email, password: e2eEnv.DEMO_USER_PASSWORD! });
  await viewer.goto("/admin/users");
  await expect(viewer.getByRole("heading", { name: "Users" })).toBeVisible();
  await expect(viewer.getByRole("button", { name: "Change role" })).toHaveCount(0); // a viewer sees no action

  await signIn(page, "operator");
  await page.goto(`/admin/users`);
  const search = page.getByRole("form", { name: "Find users" });
  await search.getByLabel("Find by email or name").fill(email);
  await search.getByRole("button", { name: "Search" }).click();
  // The search is in the URL: a shared link or a reload shows the same list.
  await expect(page).toHaveURL(`/admin/users?${new URLSearchParams({ query: email })}`);
  const row = page.getByRole("row").filter({ hasText: email });
  await row.getByLabel(`Role of ${email}`, { exact: true }).selectOption("user");
  await row.getByRole("button", { name: "Change role" }).click();
  await page.getByRole("dialog").getByLabel("Reason (kept in the audit log)").fill("no longer on call");
  await page.getByRole("button", { name: "Make user" }).click();
  await expect(page.getByRole("status").filter({ hasText: `${email} is now user` })).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("users.png"), fullPage: true });

  // The viewer's very next page load is refused the dashboard.
  await viewer.goto("/admin/users");
  await expect(viewer.getByRole("heading", { name: "Users" })).toHaveCount(0);
  await expect(viewer.getByText(/The operator dashboard is for viewers and operators/)).toBeVisible();
  await viewerContext.close();
});

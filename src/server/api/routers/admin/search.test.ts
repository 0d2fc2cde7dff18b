/**
 * admin.search.find over the real router and PostgreSQL: every kind of thing an operator pastes in
 * (event, aggregate, saga and file ids, a file name, an idempotency key, a correlation id, an
 * e-mail) answers typed hits linking to the console page that shows it; who may search; and input
 * that is refused with a 400 a person can act on.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { inTransaction } from "~/server/platform/db/transaction";
import { recordOperatorAction, type TransactionOnly } from "~/server/reliability/audit";
import { createTestApp, type TestApp } from "~test/support/app";
import { createUsersOfEachRole, type UsersOfEachRole } from "~test/support/roles";
import { expectTRPCError } from "~test/support/trpc-error";

let app: TestApp;
let roles: UsersOfEachRole;
let owner: SessionUser;
const tag = randomUUID().slice(0, 6);
const ids = {
  file: "",
  otherFile: "",
  event: randomUUID(),
  saga: "",
  idempotency: "",
  key: `key-${tag}-checkout`,
  correlation: `req-${tag}-0001`,
};
const fileName = `quarterly-report-${tag}.pdf`;

beforeAll(async () => {
  app = await createTestApp();
  roles = await createUsersOfEachRole(app);
  const db = app.services.db;
  owner = await app.createUser({ email: `alice-${tag}@search.test` });
  const file = await db.file.create({ data: { ownerId: owner.id, name: fileName, mimeType: "application/pdf", sizeBytes: 10n, storageKey: `k/${tag}/1` } });
  const other = await db.file.create({ data: { ownerId: owner.id, name: `draft ${fileName}`, mimeType: "application/pdf", sizeBytes: 10n, storageKey: `k/${tag}/2` } });
  ids.file = file.id;
  ids.otherFile = other.id;
  await db.outboxAggregate.create({ data: { aggregateType: "file", aggregateId: file.id, lastSeq: 1 } });
  await db.outboxEvent.create({
    data: { id: ids.event, aggregateType: "file", aggregateId: file.id, aggregateSeq: 1, eventType: "file.created", payload: {}, correlationId: ids.correlation, headers: { correlationId: ids.correlation } },
  });
  ids.saga = (await db.sagaInstance.create({ data: { type: "file.upload", status: "failed", input: {}, correlationId: ids.correlation } })).id;
  ids.idempotency = (
    await db.idempotencyKey.create({
      data: { scope: `${owner.id}:files.upload`, key: ids.key, fingerprint: "f", state: "completed", expiresAt: new Date(Date.now() + 3600_000), correlationId: ids.correlation },
    })
  ).id;
  await inTransaction(db, (tx) =>
    recordOperatorAction(tx as TransactionOnly, {
      actor: { id: roles.operator.id, email: roles.operator.email },
      action: "outbox.retry",
      targetKind: "outbox_event",
      targetIds: [ids.event],
      correlationId: ids.correlation,
    }),
  );
});
afterAll(async () => {
  await app.close();
});

const find = (q: string, limit?: number) => app.caller(roles.viewer).admin.search.find({ q, ...(limit ? { limit } : {}) });
const kinds = (hits: Array<{ kind: string; id: string }>) => hits.map((h) => `${h.kind}:${h.id}`);

describe("admin.search.find: what it finds", () => {
  it("an event id: the event, linking to its page, and the audit rows that name it", async () => {
    const { hits } = await find(ids.event);
    expect(hits[0]).toEqual({ kind: "event", id: ids.event, label: expect.stringMatching(/^Event file\.created · pending · file /), href: `/admin/outbox/${ids.event}` });
    expect(hits).toContainEqual({ kind: "audit", id: ids.event, label: `Operator actions on ${ids.event}`, href: `/admin/audit?targetId=${ids.event}` });
    expect(hits).toHaveLength(2);
  });

  it("an event id in capitals and with spaces around it finds the same event", async () => {
    const { hits } = await find(`  ${ids.event.toUpperCase()} `);
    expect(hits[0]).toMatchObject({ kind: "event", id: ids.event });
  });

  it("a file id: the file (its trace page) and its outbox aggregate (its events)", async () => {
    const { hits } = await find(ids.file);
    expect(hits).toEqual([
      { kind: "file", id: ids.file, label: `File “${fileName}” · active · owner ${owner.email}`, href: `/admin/trace/${ids.file}?kind=file` },
      { kind: "aggregate", id: ids.file, label: `Outbox events of file ${ids.file} (1 so far)`, href: `/admin/outbox?aggregateType=file&aggregateId=${ids.file}` },
    ]);
  });

  it("a saga id: the saga's page", async () => {
    const { hits } = await find(ids.saga);
    expect(hits).toEqual([{ kind: "saga", id: ids.saga, label: "Saga file.upload · failed at step 0", href: `/admin/sagas/${ids.saga}` }]);
  });

  it("an idempotency record's id and its key both lead to the records of that key", async () => {
    const byId = await find(ids.idempotency);
    const byKey = await find(ids.key);
    const hit = { kind: "idempotency", id: ids.idempotency, label: `Idempotency key ${ids.key} · files.upload · completed`, href: `/admin/idempotency?key=${ids.key}` };
    expect(byId.hits).toEqual([hit]);
    expect(byKey.hits).toEqual([hit]);
  });

  it("a correlation id: the request's trace and the operator actions taken under it", async () => {
    const { hits } = await find(ids.correlation);
    expect(hits.map((h) => [h.kind, h.href])).toEqual([
      ["correlation", `/admin/trace/${ids.correlation}?kind=correlation`],
      ["audit", `/admin/audit?text=${ids.correlation}`],
    ]);
  });

  it("part of a file name: the files whose name starts with it first, then those that contain it in any case", async () => {
    const { hits } = await find(`quarterly-report-${tag}`);
    expect(kinds(hits)).toEqual([`file:${ids.file}`, `file:${ids.otherFile}`]);
    const anyCase = await find(`REPORT-${tag}`);
    expect(kinds(anyCase.hits).sort()).toEqual([`file:${ids.file}`, `file:${ids.otherFile}`].sort());
    const exact = await find(`draft ${fileName}`);
    expect(kinds(exact.hits)).toEqual([`file:${ids.otherFile}`]);
  });

  it("an e-mail or part of one: the user, linking to the users page filtered to them", async () => {
    const full = await find(owner.email.toUpperCase());
    expect(full.hits).toEqual([{ kind: "user", id: owner.id, label: `User ${owner.email} · user`, href: `/admin/users?query=${encodeURIComponent(owner.email)}` }]);
    const part = await find(`alice-${tag}`);
    expect(kinds(part.hits)).toEqual([`user:${owner.id}`]);
  });

  it("LIKE wildcards are taken literally, and text under 3 characters matches the start of a name only", async () => {
    expect((await find("%%%")).hits).toEqual([]);
    expect((await find("___")).hits).toEqual([]);
    expect((await find("%")).hits).toEqual([]);
    expect(kinds((await find("qu")).hits)).toEqual([`file:${ids.file}`]);
    expect((await find("rt")).hits).toEqual([]);
  });

  it("an unknown id finds nothing, and the limit caps the hits and says so", async () => {
    expect(await find(randomUUID())).toMatchObject({ hits: [], truncated: false });
    const capped = await find(`quarterly-report-${tag}`, 1);
    expect(capped).toMatchObject({ hits: [{ kind: "file", id: ids.file }], truncated: true });
  });
});

describe("admin.search.find: who may search, and refused input", () => {
  it("viewers and operators may search; users are refused with 403, signed-out callers with 401", async () => {
    expect((await app.caller(roles.operator).admin.search.find({ q: ids.event })).hits[0]?.kind).toBe("event");
    expect((await app.caller(roles.viewer).admin.search.find({ q: ids.event })).hits[0]?.kind).toBe("event");
    await expectTRPCError(app.caller(roles.user).admin.search.find({ q: ids.event }), "FORBIDDEN", /Only viewers and operators may do this; your role is user/);
    await expectTRPCError(app.caller(null).admin.search.find({ q: ids.event }), "UNAUTHORIZED", /sign in/);
  });

  it("empty, blank, too long or over-limit input is a 400 saying what to type", async () => {
    await expectTRPCError(find(""), "BAD_REQUEST", /type an id, a file name/);
    await expectTRPCError(find("   "), "BAD_REQUEST", /type an id, a file name/);
    await expectTRPCError(find("x".repeat(201)), "BAD_REQUEST", /at most 200 characters/);
    await expectTRPCError(find("x", 51), "BAD_REQUEST", /limit can be at most 50/);
  });

  it("over HTTP: a search is a GET query a viewer's browser can send, and a bad one is a 400, never a 5xx", async () => {
    const ok = await app.http(`/api/trpc/admin.search.find?input=${encodeURIComponent(JSON.stringify({ json: { q: fileName } }))}`, { user: roles.viewer });
    expect(ok.status).toBe(200);
    const bad = await app.http(`/api/trpc/admin.search.find?input=${encodeURIComponent(JSON.stringify({ json: { q: 42 } }))}`, { user: roles.viewer });
    expect(bad.status).toBe(400);
  });
});

/**
 * Fuzzing every tRPC procedure, the download route and the metrics route, through the real fetch
 * handlers, PostgreSQL and Redis (issue 11). Inputs: values generated from each procedure's own zod
 * schema (test/fuzz/zod-arbitrary.ts), hostile mutations of them and raw bodies no client would
 * send (test/fuzz/hostile.ts); callers: signed out (no cookie or a broken one), user, viewer and
 * operator. For every request:
 *   - no 5xx, and an answer within REQUEST_TIMEOUT_MS (no hang);
 *   - the right 4xx: 401 signed out, 403 below the procedure's role, 400 for an input its schema
 *     (or the input guard: prototype keys, nesting, NUL) refuses; a message a person can act on;
 *   - a rejected request changes no row of any table (count + md5 of every table before/after);
 *     a query changes none at all.
 * Fixed seeds: a failure prints its seed and input, and re-runs the same. Prints inputs per procedure.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createDownloadHandler } from "~/server/api/download-handler";
import { MAX_INPUT_DEPTH } from "~/server/api/middleware/input-guard";
import { createMetricsHandler } from "~/server/api/metrics-handler";
import { TRPC_MAX_BATCH_SIZE } from "~/server/api/limits";
import { appRouter } from "~/server/api/root";
import { createTrpcHttpHandler } from "~/server/api/http-handler";
import { SESSION_COOKIE, type SessionUser } from "~/server/auth/session";
import { transformer } from "~/server/platform/transformer";
import { createTestApp, type TestApp } from "~test/support/app";
import { sseReader } from "~test/support/sse";
import { brokenCookie, brokenJsonBody, brokenMultipart, mutate, PROTOTYPE_KEYS } from "./hostile";
import { changedTables, fingerprint, fingerprintQuery, tableNames, type StateFingerprint } from "./state";
import { arbitraryFor, nastyString } from "./zod-arbitrary";

const BASE_SEED = 20261201;
const REQUEST_TIMEOUT_MS = 20_000;
/** Runs per (procedure, caller): callers the procedure admits get more (they reach deeper code). */
const RUNS_ADMITTED = Number(process.env.FUZZ_RUNS ?? 80);
const RUNS_REFUSED = Math.max(4, Math.round(RUNS_ADMITTED / 4));

type Role = "signed out" | "user" | "viewer" | "operator";
type Access = "public" | "user" | "viewer" | "operator";
const ROLES: Role[] = ["signed out", "user", "viewer", "operator"];
const RANK: Record<Role, number> = { "signed out": 0, user: 1, viewer: 2, operator: 3 };
const NEEDS: Record<Access, number> = { public: 0, user: 1, viewer: 2, operator: 3 };

/** Who may call what. Every procedure of the router must be listed: a new one fails until classified. */
const ACCESS: Record<string, Access> = {
  "auth.me": "public",
  "auth.signIn": "public",
  "health.ping": "public",
  "auth.signOut": "user",
  "auth.signOutEverywhere": "user",
  "auth.changePassword": "user",
  "files.upload": "user",
  "files.startUpload": "user",
  "files.uploadStatus": "user",
  "files.list": "user",
  "files.get": "user",
  "files.rename": "user",
  "files.setTags": "user",
  "files.delete": "user",
  "admin.idempotency.stats": "viewer",
  "admin.idempotency.records": "viewer",
  "admin.cache.stats": "viewer",
  "admin.fleet.list": "viewer",
  "admin.outbox.stats": "viewer",
  "admin.outbox.list": "viewer",
  "admin.outbox.get": "viewer",
  "admin.outbox.blocked": "viewer",
  "admin.sagas.list": "viewer",
  "admin.sagas.timeline": "viewer",
  "admin.sagas.metrics": "viewer",
  "admin.users.list": "viewer",
  "admin.audit.search": "viewer",
  "admin.search.find": "viewer",
  "admin.failures.groups": "viewer",
  "admin.bulk.dryRun": "viewer",
  "admin.bulk.get": "viewer",
  "admin.bulk.list": "viewer",
  "admin.bulk.start": "operator",
  "admin.bulk.cancel": "operator",
  "admin.failures.retryGroup": "operator",
  "admin.failures.discardGroup": "operator",
  "admin.live.watch": "viewer",
  "admin.trace.get": "viewer",
  "admin.idempotency.deleteExpired": "operator",
  "admin.cache.flushPrefix": "operator",
  "admin.cache.flushTag": "operator",
  "admin.fleet.pauseQueue": "operator",
  "admin.fleet.resumeQueue": "operator",
  "admin.outbox.retry": "operator",
  "admin.outbox.retryMatching": "operator",
  "admin.outbox.discard": "operator",
  "admin.sagas.abort": "operator",
  "admin.sagas.retryStep": "operator",
  "admin.sagas.resume": "operator",
  "admin.sagas.redrive": "operator",
  "admin.sagas.fork": "operator",
  "admin.outbox.replayEdited": "operator",
  "admin.users.changeRole": "operator",
  "admin.users.revokeSessions": "operator",
  "admin.users.create": "operator",
};
/** Argon2 per attempt, on the thread pool: a few runs say all there is to say. */
const FEW_RUNS = new Set(["auth.signIn", "auth.changePassword", "admin.users.create"]);

/**
 * admin.users.changeRole / revokeSessions may hit the fuzz's own users (their ids are in the pool):
 * put their roles back and forget their cookies, so the next case runs as the role it names.
 */
async function restoreFuzzUsers() {
  for (const [role, user] of Object.entries(users)) {
    await app.services.db.user.update({ where: { id: user.id }, data: { role: role as SessionUser["role"] } });
    await app.services.sessions.userChanged(user.id);
  }
  cookies.clear();
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Proc {
  path: string;
  /** A subscription is read like a query (GET, input in the URL) and answers as an SSE stream. */
  type: "query" | "mutation" | "subscription";
  schema: z.ZodType | null;
  multipart: boolean;
}

const procedures: Proc[] = Object.entries(appRouter._def.procedures as Record<string, Json>).map(([path, p]) => ({
  path,
  type: p._def.type,
  schema: p._def.inputs[0] ?? null,
  multipart: p._def.inputs[0]?._zod?.def?.type === "pipe" && p._def.inputs[0]._zod.def.in._zod.def.type === "custom",
}));

let app: TestApp;
let trpc: (req: Request) => Promise<Response>;
let download: (req: Request, id: string) => Promise<Response>;
let users: Record<Exclude<Role, "signed out">, SessionUser>;
let ids: string[] = [];
let fingerprintSql: string;
const cookies = new Map<string, string>();
const tried = new Map<string, number>();
const statuses = new Map<string, Map<number, number>>();

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 64 * 1024 });
  trpc = createTrpcHttpHandler(app.services);
  download = createDownloadHandler(app.services);
  users = {
    user: await app.createUser({ email: "fuzz-user@test.local", password: "fuzz-password-1" }),
    viewer: await app.createUser({ role: "viewer" }),
    operator: await app.createUser({ role: "operator" }),
  };
  // Rows for generated ids to hit: files (live, deleted, someone else's), sagas, outbox events.
  const other = await app.createUser();
  for (const [owner, name] of [[users.user, "a.txt"], [users.user, "b.txt"], [other, "theirs.txt"]] as const) {
    const fd = new FormData();
    fd.append("file", new File([`content of ${name}`], name, { type: "text/plain" }));
    const file = await app.caller(owner).files.upload(fd);
    ids.push(file.id);
  }
  await app.caller(users.user).files.delete({ id: ids[1]! });
  const fd = new FormData();
  fd.append("file", new File(["saga bytes"], "saga.txt", { type: "text/plain" }));
  const started = await app.caller(users.user).files.startUpload(fd);
  ids.push(started.sagaId, started.fileId);
  for (const status of ["failed", "compensated", "aborted", "completed"] as const) {
    const saga = await app.services.db.sagaInstance.create({ data: { type: "file.upload", status, currentStep: 1, input: {}, context: { generation: 0, outputs: {} } }, select: { id: true } });
    ids.push(saga.id);
  }
  const events = await app.services.db.outboxEvent.findMany({ select: { id: true } });
  await app.services.db.outboxEvent.updateMany({ where: { id: events[0]!.id }, data: { status: "dead", lastError: "fuzz" } });
  ids.push(...events.map((e) => e.id), users.user.id, other.id);
  ids = [...new Set(ids)];
  fingerprintSql = fingerprintQuery(await tableNames(app.services.db));
});

afterAll(async () => {
  const lines = [...tried.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = lines.reduce((n, [, c]) => n + c, 0);
  const width = Math.max(...lines.map(([p]) => p.length));
  const codes = (p: string) => [...(statuses.get(p) ?? new Map()).entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(" ");
  console.log(`fuzz: ${total} inputs tried (seed ${BASE_SEED})\n${lines.map(([p, n]) => `  ${p.padEnd(width)} ${String(n).padStart(5)}  ${codes(p)}`).join("\n")}`);
  await app?.close();
});

async function cookieFor(role: Role): Promise<string | undefined> {
  if (role === "signed out") return undefined;
  let cookie = cookies.get(role);
  if (!cookie) {
    const row = await app.services.db.user.findUniqueOrThrow({ where: { id: users[role].id }, select: { id: true, sessionVersion: true } });
    cookie = `${SESSION_COOKIE}=${await app.services.sessions.seal(row)}`;
    cookies.set(role, cookie);
  }
  return cookie;
}

function seedFor(name: string) {
  return BASE_SEED ^ createHash("sha256").update(name).digest().readInt32LE(0);
}

function count(path: string, status: number) {
  tried.set(path, (tried.get(path) ?? 0) + 1);
  const byStatus = statuses.get(path) ?? new Map<number, number>();
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  statuses.set(path, byStatus);
}

async function withTimeout<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms: ${what}`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A message a person can act on: words, no stack trace, no internals (paths, SQL, Prisma). */
function expectHumanMessage(message: unknown, context: string) {
  expect(typeof message, context).toBe("string");
  const text = message as string;
  expect(text.length, `${context}: message length`).toBeGreaterThan(8);
  expect(text, context).toMatch(/[a-z]{3,}[ ,:'][a-z]{2,}/i);
  expect(text, context).not.toMatch(/\n\s+at |\/work\/|node_modules|prisma|Invalid `|ECONN|\bSQL\b|Internal server error/i);
}

// ───────────────────────────── inputs ─────────────────────────────

type Case =
  | { kind: "input"; label: "valid" | "hostile"; input: unknown }
  | { kind: "form"; label: "valid" | "hostile"; form: FormData; expect: number | null }
  | { kind: "raw"; label: "raw"; body: string | Uint8Array; contentType: string }
  | { kind: "batch"; label: "batch"; size: number };

function hasPrototypeKey(value: unknown, depth = 0): boolean {
  if (!value || typeof value !== "object" || depth > 1000) return false;
  return Object.keys(value).some((k) => (PROTOTYPE_KEYS as readonly string[]).includes(k) || hasPrototypeKey((value as Json)[k], depth + 1));
}
function depthOf(value: unknown): number {
  let depth = 0;
  let level: unknown[] = [value];
  while (level.length) {
    const next: unknown[] = [];
    for (const v of level) if (v && typeof v === "object" && !(v instanceof Date)) next.push(...Object.values(v));
    if (next.length === 0 && level.every((v) => !v || typeof v !== "object" || v instanceof Date)) break;
    depth += 1;
    level = next;
  }
  return depth;
}
function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (value && typeof value === "object" && !(value instanceof Date) && depthOf(value) <= 64) return Object.values(value).some(hasNul) || Object.keys(value).some(hasNul);
  return false;
}

/** Would the server refuse this input as malformed (400) before doing anything with it? */
function refusedAsInput(proc: Proc, input: unknown): boolean {
  if (depthOf(input) > MAX_INPUT_DEPTH || hasPrototypeKey(input) || hasNul(input)) return true;
  if (!proc.schema) return false; // no input: whatever is sent is ignored
  return !proc.schema.safeParse(transformer.deserialize(transformer.serialize(input))).success;
}

const tagArb = fc.oneof(fc.stringMatching(/^[a-z0-9 ._-]{1,32}$/), nastyString(40));
const formArb: fc.Arbitrary<{ label: "valid" | "hostile"; form: FormData; expect: number | null }> = fc.oneof(
  fc
    .record({
      content: fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 2000 })),
      name: fc.oneof(nastyString(60), fc.constantFrom("../../etc/passwd", "a".repeat(5000), "\u0000.txt", "CON", ".", "..", " ")),
      type: fc.constantFrom("text/plain", "image/png", "text/html", "", "application/x-msdownload", "a".repeat(300)),
      tags: fc.array(tagArb, { maxLength: 25 }),
      extra: fc.option(fc.constantFrom("__proto__", "constructor", "file"), { nil: undefined }),
    })
    .map(({ content, name, type, tags, extra }) => {
      const form = new FormData();
      form.append("file", new File([typeof content === "string" ? content : Buffer.from(content)], name, { type }));
      for (const tag of tags) form.append("tags", tag);
      if (extra) form.append(extra, "x");
      return { label: "valid" as const, form, expect: null };
    }),
  fc.constantFrom("no file", "file as text", "two files", "huge file").map((variant) => {
    const form = new FormData();
    if (variant === "file as text") form.append("file", "just a string");
    if (variant === "two files") {
      form.append("file", new File(["one"], "1.txt"));
      form.append("file", new File(["two"], "2.txt"));
    }
    if (variant === "huge file") form.append("file", new File([new Uint8Array(200 * 1024)], "big.bin"));
    // The first `file` part counts (two files is a valid upload of the first); too big is 413.
    const expect = variant === "two files" ? null : variant === "huge file" ? 413 : 400;
    return { label: "hostile" as const, form, expect };
  }),
);

function casesFor(proc: Proc): fc.Arbitrary<Case> {
  if (proc.multipart) {
    return fc.oneof(
      { weight: 4, arbitrary: formArb.map((f) => ({ kind: "form" as const, ...f })) },
      { weight: 1, arbitrary: brokenMultipart.map((r) => ({ kind: "raw" as const, label: "raw" as const, ...r })) },
      { weight: 1, arbitrary: brokenJsonBody.map((r) => ({ kind: "raw" as const, label: "raw" as const, ...r })) },
    );
  }
  const valid = proc.schema ? arbitraryFor(proc.schema as never, { ids }) : fc.constant(undefined);
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((input) => ({ kind: "input" as const, label: "valid" as const, input })) },
    { weight: 4, arbitrary: valid.chain(mutate).map((input) => ({ kind: "input" as const, label: "hostile" as const, input })) },
    { weight: 2, arbitrary: brokenJsonBody.map((r) => ({ kind: "raw" as const, label: "raw" as const, ...r })) },
    { weight: 1, arbitrary: fc.integer({ min: TRPC_MAX_BATCH_SIZE + 1, max: 3000 }).map((size) => ({ kind: "batch" as const, label: "batch" as const, size })) },
  );
}

/** The input as the client's transformer sends it; a value superjson refuses (prototype keys) goes as plain JSON. */
function serialize(input: unknown): string {
  // superjson copies by assignment, which turns an own "__proto__" key into a prototype (and so
  // drops it): such inputs, and any superjson refuses, go as plain JSON, exactly as written.
  if (hasPrototypeKey(input)) return JSON.stringify({ json: input });
  try {
    return JSON.stringify(transformer.serialize(input));
  } catch {
    return JSON.stringify({ json: input });
  }
}

/** What the server makes of a raw body: its input, or null if it cannot decode it (JSON, superjson). */
function decodeRaw(proc: Proc, body: string | Uint8Array): { input: unknown } | null {
  const inUrl = proc.type !== "mutation";
  let text = typeof body === "string" ? body : inUrl ? Buffer.from(body).toString("latin1") : new TextDecoder().decode(body);
  if (inUrl && text === "") return { input: undefined }; // no input at all
  if (proc.type === "mutation" && text.startsWith("\ufeff")) text = text.slice(1); // fetch's body.json() drops a BOM
  try {
    return { input: transformer.deserialize(JSON.parse(text)) };
  } catch {
    return null;
  }
}

async function send(proc: Proc, c: Case, cookie: string | undefined): Promise<Response> {
  const headers = new Headers({ origin: "http://localhost", "sec-fetch-site": "same-origin" });
  if (cookie) headers.set("cookie", cookie);
  let url = `http://localhost/api/trpc/${proc.path}`;
  const inUrl = proc.type !== "mutation";
  let init: RequestInit = { method: inUrl ? "GET" : "POST", headers };
  if (c.kind === "batch") {
    url = `http://localhost/api/trpc/${Array.from({ length: c.size }, () => proc.path).join(",")}?batch=1`;
    if (!inUrl) {
      headers.set("content-type", "application/json");
      init.body = JSON.stringify(Object.fromEntries(Array.from({ length: c.size }, (_, i) => [i, { json: null }])));
    }
  } else if (c.kind === "form") {
    init.body = c.form;
  } else if (c.kind === "raw") {
    // A query's input travels in the URL (no body, no content type); a mutation's in the body.
    if (inUrl) url += `?input=${encodeURIComponent(typeof c.body === "string" ? c.body : Buffer.from(c.body).toString("latin1"))}`;
    else {
      headers.set("content-type", c.contentType);
      init = { ...init, body: c.body as BodyInit };
    }
  } else if (inUrl) {
    url += `?input=${encodeURIComponent(serialize(c.input))}`;
  } else {
    headers.set("content-type", "application/json");
    init.body = serialize(c.input);
  }
  return trpc(new Request(url, init));
}

/**
 * The answer as status + body. A subscription's stream (200, text/event-stream) carries its refusal
 * as a `serialized-error` event: that event's HTTP status and error stand for the answer, the same
 * checks apply (4xx, message, httpStatus); a first data event is a 200. The stream is then closed.
 */
async function readAnswer(res: Response): Promise<{ res: { status: number; headers: Headers }; text: string }> {
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) return { res, text: await res.text() };
  const stream = sseReader(res);
  try {
    const event = await stream.nextMeaningful();
    if (event?.event === "serialized-error") {
      const error = JSON.parse(event.data) as Json;
      return { res: { status: error.json.data.httpStatus, headers: res.headers }, text: JSON.stringify({ error }) };
    }
    expect(event, "a subscription stream that ended without an event or error").not.toBeNull();
    return { res, text: event!.data };
  } finally {
    await stream.close();
  }
}

/** The status this case must get from this caller, or null if any 2xx/4xx is right (a valid input). */
function expectedStatus(proc: Proc, c: Case, role: Role, signedIn: boolean): number | null {
  // Refused from the request's shape, before anyone is identified: batch size, content type.
  if (c.kind === "batch") return 400;
  const postedAs = c.kind === "raw" && proc.type === "mutation" ? c.contentType.split(";")[0]! : null;
  if (postedAs && postedAs !== "application/json" && postedAs !== "multipart/form-data") return 415;
  const rank = signedIn ? RANK[role] : 0;
  const needs = NEEDS[ACCESS[proc.path]!];
  if (rank < needs) return rank === 0 ? 401 : 403;
  if (c.kind === "form") return c.expect;
  if (c.kind === "raw") {
    // Broken multipart may still carry a valid upload.
    if (proc.multipart) return null;
    if (postedAs === "multipart/form-data") return proc.schema ? 400 : null;
    const decoded = decodeRaw(proc, c.body);
    return decoded === null || refusedAsInput(proc, decoded.input) ? 400 : null;
  }
  return refusedAsInput(proc, c.input) ? 400 : null;
}

// ───────────────────────────── tRPC procedures ─────────────────────────────

describe("fuzz: every tRPC procedure, every caller", () => {
  it("lists every procedure of the router in ACCESS", () => {
    expect(procedures.map((p) => p.path).sort()).toEqual(Object.keys(ACCESS).sort());
  });

  describe.each(procedures.map((p) => [p.path, p] as const))("%s", (path, proc) => {
    it.each(ROLES)("as %s", async (role) => {
      const admitted = RANK[role] >= NEEDS[ACCESS[path]!];
      const runs = FEW_RUNS.has(path) ? 6 : admitted ? RUNS_ADMITTED : RUNS_REFUSED;
      const cookieArb = role === "signed out" ? fc.option(brokenCookie, { nil: undefined }) : fc.constant(undefined);
      // Queries and refused callers must change nothing at all: one fingerprint around the whole run.
      const wholeRun = proc.type !== "mutation" || !admitted;
      const before = wholeRun ? await fingerprint(app.services.db, fingerprintSql) : null;

      await fc.assert(
        fc.asyncProperty(casesFor(proc), cookieArb, async (c, broken) => {
          const cookie = broken ?? (await cookieFor(role));
          const signedIn = role !== "signed out";
          const expected = expectedStatus(proc, c, role, signedIn);
          const state: StateFingerprint | null = wholeRun ? null : await fingerprint(app.services.db, fingerprintSql);
          const what = `${path} as ${role} (${c.label})`;
          const answer = await withTimeout(what, send(proc, c, cookie));
          const { res, text } = await withTimeout(`${what}: body`, readAnswer(answer));
          count(path, res.status);
          if (res.status === 200 && path === "auth.signOutEverywhere") cookies.delete(role); // its cookie is revoked now
          if (res.status === 200 && (path === "admin.users.changeRole" || path === "admin.users.revokeSessions")) await restoreFuzzUsers();
          expect(res.status, `${what}: ${text.slice(0, 500)}`).toBeLessThan(500);
          // A throttle (429 with Retry-After) may answer before anything else looks at the request.
          const throttled = res.status === 429 && res.headers.get("retry-after") !== null;
          if (expected !== null && !throttled) expect(res.status, `${what}: ${text.slice(0, 500)}`).toBe(expected);
          if (res.status >= 400) {
            const body = JSON.parse(text) as Json;
            const error = Array.isArray(body) ? body[0].error : body.error;
            expectHumanMessage(error?.json?.message, what);
            expect(error.json.data.httpStatus, what).toBe(res.status);
            if (state) expect(changedTables(state, await fingerprint(app.services.db, fingerprintSql)), `${what}: rejected, yet changed`).toEqual([]);
          }
        }),
        { seed: seedFor(`${path}/${role}`), numRuns: runs, endOnFailure: true },
      );
      if (before) expect(changedTables(before, await fingerprint(app.services.db, fingerprintSql)), `${path} as ${role}: changed rows`).toEqual([]);
    });
  });
});

// ───────────────────────────── download and metrics routes ─────────────────────────────

describe("fuzz: the download route", () => {
  it.each(ROLES)("as %s", async (role) => {
    const before = await fingerprint(app.services.db, fingerprintSql);
    const idArb = fc.oneof(
      fc.uuid(),
      fc.constantFrom(...ids),
      fc.constantFrom(...ids).map((id) => id.toUpperCase()),
      nastyString(80),
      fc.constantFrom("..%2F..%2Fetc%2Fpasswd", "%00", "x".repeat(10_000), ""),
    );
    await fc.assert(
      fc.asyncProperty(idArb, fc.constantFrom("", "?inline=1", "?inline=%00", "?inline=1&inline=0"), role === "signed out" ? fc.option(brokenCookie, { nil: undefined }) : fc.constant(undefined), async (id, query, broken) => {
        const cookie = broken ?? (await cookieFor(role));
        const req = new Request(`http://localhost/api/files/${encodeURIComponent(id)}/download${query}`, { headers: cookie ? { cookie } : {} });
        const res = await withTimeout(`download ${id}`, download(req, id));
        count("GET /api/files/[id]/download", res.status);
        expect(res.status).toBeLessThan(500);
        if (!z.uuid().safeParse(id).success) expect(res.status).toBe(400);
        else if (role === "signed out") expect(res.status).toBe(401);
        if (res.status >= 400) expectHumanMessage(((await res.json()) as Json).error, `download as ${role}`);
        else await res.arrayBuffer();
      }),
      { seed: seedFor(`download/${role}`), numRuns: RUNS_ADMITTED, endOnFailure: true },
    );
    expect(changedTables(before, await fingerprint(app.services.db, fingerprintSql))).toEqual([]);
  });
});

describe("fuzz: the metrics route", () => {
  it.each([
    ["a session", undefined],
    ["METRICS_TOKEN", "fuzz-metrics-token-0123456789"],
  ] as const)("authorised by %s", async (_label, token) => {
    const metrics = createMetricsHandler(app.services, { token });
    const authArb = fc.oneof(fc.constant(null), fc.string({ maxLength: 100 }), fc.constant(`Bearer ${token ?? "x"}`), fc.constantFrom("Bearer", "Bearer ", "bearer fuzz-metrics-token-012345678", "Basic Zm9vOmJhcg=="));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROLES), authArb, fc.option(brokenCookie, { nil: undefined }), async (role, authorization, broken) => {
        const headers = new Headers();
        const cookie = broken ?? (await cookieFor(role));
        if (cookie) headers.set("cookie", cookie);
        if (authorization !== null) headers.set("authorization", authorization);
        const res = await withTimeout("metrics", metrics(new Request("http://localhost/api/metrics", { headers })));
        count("GET /api/metrics", res.status);
        expect(res.status).toBeLessThan(500);
        const allowed = token ? authorization === `Bearer ${token}` : !broken && RANK[role] >= RANK.viewer;
        if (allowed) expect(res.status).toBe(200);
        else {
          expect([401, 403]).toContain(res.status);
          expectHumanMessage(((await res.json()) as Json).error, `metrics as ${role}`);
        }
      }),
      { seed: seedFor(`metrics/${token ? "token" : "session"}`), numRuns: RUNS_ADMITTED * 2, endOnFailure: true },
    );
  });
});

/**
 * The client link against the real server: a typed tRPC client whose transport is the real fetch
 * handler (in-process). The network failure is real from the client's point of view: the request
 * reached the server and executed, but the client never got the response.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "~/server/api/root";
import type { SessionUser } from "~/server/auth/session";
import { transformer } from "~/server/platform/transformer";
import type { TestApp } from "~test/support/app";
import { createTestAppWithUser } from "~test/support/app-with-user";
import { idempotencyHeaders, idempotencyLink } from "./idempotency-link";

let app: TestApp;
let user: SessionUser;

beforeAll(async () => ({ app, user } = await createTestAppWithUser()));
afterAll(() => app.close());

/** A fetch into the real handler that loses the first `lose` responses after the server answered them. */
function flakyFetch(lose: number, sent: Array<string | null>): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    sent.push(headers.get("idempotency-key"));
    const res = await app.http(url.pathname + url.search, { ...init, headers, user } as RequestInit & { user: SessionUser });
    if (lose-- > 0) throw new TypeError("fetch failed: connection reset");
    return res;
  };
}

function client(fetchImpl: typeof fetch, retries = 2) {
  return createTRPCClient<AppRouter>({
    links: [
      idempotencyLink<AppRouter>({ retries, retryDelayMs: () => 1 }),
      httpLink({ url: "http://localhost/api/trpc", transformer, headers: idempotencyHeaders, fetch: fetchImpl }),
    ],
  });
}

const fileCount = () => app.services.db.file.count({ where: { ownerId: user.id } });

function form(content: string) {
  const fd = new FormData();
  fd.append("file", new File([content], "link.txt", { type: "text/plain" }));
  return fd;
}

describe("idempotencyLink", () => {
  it("retries a mutation whose response was lost with the same key: one upload, and the caller gets its result", async () => {
    const sent: Array<string | null> = [];
    const before = await fileCount();
    const file = await client(flakyFetch(2, sent)).files.upload.mutate(form("lost twice"));
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(sent).size).toBe(1);
    expect(await fileCount()).toBe(before + 1);
    expect((await app.caller(user).files.get({ id: file.id })).name).toBe("link.txt");
  });

  it("retries a 5xx with the same key: the server released it, so the retry executes, once", async () => {
    const sent: Array<string | null> = [];
    const statuses: number[] = [];
    // A real storage failure on the first attempt: a regular file where the user's blob folder goes.
    const owner = await app.createUser();
    const blocker = path.join(app.storageDir, "files", owner.id);
    await mkdir(path.dirname(blocker), { recursive: true });
    await writeFile(blocker, "in the way");
    const fetchImpl: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      const headers = new Headers(init?.headers);
      sent.push(headers.get("idempotency-key"));
      const res = await app.http(url.pathname + url.search, { ...init, headers, user: owner } as RequestInit & { user: SessionUser });
      statuses.push(res.status);
      if (res.status === 500) await rm(blocker); // the fault clears before the retry
      return res;
    };
    const file = await client(fetchImpl).files.upload.mutate(form("after a 500"));
    expect(statuses).toEqual([500, 200]);
    expect(sent[0]).toBe(sent[1]);
    expect(await app.services.db.file.count({ where: { ownerId: owner.id } })).toBe(1);
    expect(file.name).toBe("link.txt");
  });

  it("gives every mutation call its own key, and queries none", async () => {
    const sent: Array<string | null> = [];
    const c = client(flakyFetch(0, sent));
    const a = await c.files.upload.mutate(form("one"));
    const b = await c.files.upload.mutate(form("one"));
    await c.files.list.query({});
    expect(a.id).not.toBe(b.id);
    expect(sent[0]).not.toBe(sent[1]);
    expect(sent[2]).toBeNull();
  });

  it("keeps a key the caller passes (one per form submission): a double submit executes once", async () => {
    const sent: Array<string | null> = [];
    const c = client(flakyFetch(0, sent));
    const before = await fileCount();
    const submission = { context: { idempotencyKey: "form-submission-7" } };
    const [a, b] = await Promise.all([c.files.upload.mutate(form("double click"), submission), c.files.upload.mutate(form("double click"), submission)]);
    expect(a.id).toBe(b.id); // one executed, the other was told 409 + Retry-After, retried and got the replay (or replayed at once)
    expect(sent.every((k) => k === "form-submission-7")).toBe(true);
    expect(await fileCount()).toBe(before + 1);
  });

  it("does not retry a 4xx, and gives up after its retries with the last error", async () => {
    const sent: Array<string | null> = [];
    const error = await client(flakyFetch(0, sent)).files.rename.mutate({ id: "nope", name: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe("BAD_REQUEST");
    expect(sent).toHaveLength(1);

    const lost: Array<string | null> = [];
    const failure = await client(flakyFetch(5, lost), 2).files.upload.mutate(form("never answered")).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TRPCClientError);
    expect((failure as Error).message).toMatch(/fetch failed/);
    expect(lost).toHaveLength(3);
  });
});

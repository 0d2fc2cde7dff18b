/**
 * A process killed between executing a keyed mutation and completing its record: the mutation's
 * writes and the record share one transaction, so the kill rolls both back; the claim stays
 * in_progress until its lease runs out, then a retry with the same key executes — once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { childEnvFor } from "~test/support/child-process";

let app: TestApp;
let user: SessionUser;
let child: ChildProcess | undefined;
const LEASE_MS = 4000;

beforeAll(async () => {
  app = await createTestApp();
  user = await app.createUser();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await app.close();
});

function startChild(key: string, content: string) {
  const root = path.resolve(import.meta.dirname, "../../../..");
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "../../../../test/fixtures/idempotency-crash-child.ts")], {
    cwd: root,
    env: childEnvFor(app, { USER_ID: user.id, IDEMPOTENCY_KEY: key, LEASE_MS: String(LEASE_MS), CONTENT: content }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const executed = new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("EXECUTED ok")) resolve();
    });
    proc.on("exit", (code) => reject(new Error(`crash child exited (${code}) before executing:\n${stderr}`)));
  });
  return { proc, executed };
}

function upload(key: string, content: string) {
  const body = new FormData();
  body.append("file", new File([content], "crash.txt", { type: "text/plain" }));
  return app.http("/api/trpc/files.upload", { method: "POST", body, user, headers: { "Idempotency-Key": key } });
}

const effects = async () => ({
  files: await app.services.db.file.count({ where: { ownerId: user.id } }),
  usedBytes: (await app.services.db.user.findUniqueOrThrow({ where: { id: user.id } })).usedBytes,
  events: Number(
    (await app.services.db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM outbox_event WHERE payload->>'ownerId' = ${user.id}`)[0]!.n,
  ),
});

describe("crash between execute and complete", () => {
  it("leaves no effect and no completed record; after the lease the key executes once and then replays", async () => {
    const key = randomUUID();
    const content = "written by a process that dies";
    const started = startChild(key, content);
    child = started.proc;
    await started.executed;
    // The child's transaction holds the file row, the quota charge, the outbox event and the claim.
    child.kill("SIGKILL");
    await new Promise((resolve) => child!.once("exit", resolve));

    const record = await app.services.db.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope: `${user.id}:files.upload`, key } } });
    expect(record.state).toBe("in_progress");
    expect(record.result).toBeNull();
    expect(await effects()).toEqual({ files: 0, usedBytes: 0n, events: 0 });

    // Until the lease runs out the claim is protected: a retry is told to come back.
    const early = await upload(key, content);
    if (Date.now() < record.leaseUntil!.getTime() - 200) {
      expect(early.status).toBe(409);
      expect(early.headers.get("retry-after")).toBe("1");
    }

    // Retry like a client would (honouring Retry-After) until the lease has run out.
    let res = early;
    const deadline = Date.now() + 20_000;
    while (res.status === 409 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      res = await upload(key, content);
    }
    expect(res.status).toBe(200);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    expect(Date.now()).toBeGreaterThanOrEqual(record.leaseUntil!.getTime() - 50);
    const created = ((await res.json()) as { result: { data: { json: { id: string } } } }).result.data.json;

    const again = await upload(key, content);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id).toBe(created.id);
    expect(await effects()).toEqual({ files: 1, usedBytes: BigInt(content.length), events: 1 });
    expect(await app.services.db.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope: `${user.id}:files.upload`, key } } })).toMatchObject({
      state: "completed",
      responseStatus: 200,
    });
  });
});

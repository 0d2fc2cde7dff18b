/**
 * The file-upload saga through SIGKILLs: upload workers as child processes, killed at random
 * instants (each step pauses a little first, so kills land mid-step as well as between steps) and
 * replaced while 30 uploads run. Every upload must end done or undone, the quota must equal the
 * live files exactly (never leaks, never double-charged), and no blob may be left behind.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readdir } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestApp, TEST_REDIS_URL, type TestApp } from "~test/support/app";

let app: TestApp;
const children = new Set<ChildProcess>();
const CHILD = path.join(import.meta.dirname, "..", "..", "..", "..", "test", "fixtures", "saga", "child-runner.ts");

async function spawnRunner(): Promise<ChildProcess> {
  const child = fork(CHILD, [], {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      DATABASE_URL: app.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: app.prefix,
      STORAGE_DIR: app.storageDir,
      SAGA_CHILD_SAGAS: "upload",
      SAGA_CHILD_DELAY_MS: "150",
      SAGA_LOCK_MS: "1000",
      SAGA_STALLED_MS: "500",
      SAGA_SWEEP_MS: "500",
      SAGA_STUCK_MS: "2000",
      SAGA_CONCURRENCY: "4",
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`upload runner exited with ${code} before it was ready`)));
  });
  return child;
}

async function blobs(): Promise<string[]> {
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await walk(full)));
      else out.push(path.relative(app.storageDir, full));
    }
    return out;
  };
  return (await walk(app.storageDir)).sort();
}

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await app?.close();
});

it("SIGKILL of upload workers mid-step and between steps: every upload ends done or undone, quota equals live files, no blob left over", async () => {
  const user = await app.createUser({ quotaBytes: 1_000_000n });
  const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#884422" } }).png().toBuffer();
  const exe = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(400, 7)]);
  const kinds = Array.from({ length: 30 }, (_, i) => (i % 5 === 0 ? "exe" : i % 3 === 0 ? "png" : "txt"));
  await Promise.all([spawnRunner(), spawnRunner()]);
  const started = await Promise.all(
    kinds.map((kind, i) => {
      const form = new FormData();
      const bytes = kind === "exe" ? exe : kind === "png" ? png : Buffer.from(`note ${i} `.repeat(10 + i));
      form.append("file", new File([bytes], `${kind}-${i}.${kind}`, { type: "" }));
      return app.caller(user).files.startUpload(form);
    }),
  );

  const killed: number[] = [];
  for (let round = 0; round < 6; round += 1) {
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
    const victims = [...children];
    const victim = victims[Math.floor(Math.random() * victims.length)];
    if (victim?.pid) {
      killed.push(victim.pid);
      victim.kill("SIGKILL");
      await new Promise((r) => victim.once("exit", r));
    }
    await spawnRunner();
  }

  const ids = started.map((s) => s.sagaId);
  const deadline = Date.now() + 90_000;
  let rows: Array<{ id: string; status: string }> = [];
  for (;;) {
    rows = await app.services.db.sagaInstance.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
    if (rows.every((r) => r.status !== "running" && r.status !== "compensating")) break;
    if (Date.now() > deadline) throw new Error(`uploads still moving: ${JSON.stringify(rows.filter((r) => r.status === "running" || r.status === "compensating"))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = new Map(rows.map((r) => [r.id, r.status]));
  for (const [i, s] of started.entries()) expect(status.get(s.sagaId), `upload ${i} (${kinds[i]})`).toBe(kinds[i] === "exe" ? "compensated" : "completed");

  const files = await app.services.db.file.findMany({ where: { ownerId: user.id }, select: { id: true, status: true, sizeBytes: true, storageKey: true, thumbnailKey: true, checksumSha256: true } });
  expect(files.every((f) => f.status === "active" && f.checksumSha256)).toBe(true);
  expect(files.map((f) => f.id).sort()).toEqual(started.filter((_, i) => kinds[i] !== "exe").map((s) => s.fileId).sort());
  const owner = await app.services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { usedBytes: true } });
  expect(owner.usedBytes).toBe(files.reduce((sum, f) => sum + f.sizeBytes, 0n));
  // One file.uploaded event per stored file, none for the refused ones.
  const events = await app.services.db.outboxEvent.groupBy({ by: ["aggregateId"], where: { eventType: "file.uploaded", aggregateId: { in: started.map((s) => s.fileId) } }, _count: true });
  expect(events.length).toBe(files.length);
  expect(events.every((e) => e._count === 1)).toBe(true);
  // Exactly the stored files and their thumbnails remain: no staged copy, no orphan. (A kill in the
  // middle of LocalDiskStorage.put can leave its temp file, `<key>.<uuid>.part`: that is the storage
  // driver's own garbage, not a blob, and is left out here.)
  expect((await blobs()).filter((key) => !key.endsWith(".part"))).toEqual(files.flatMap((f) => [f.storageKey, ...(f.thumbnailKey ? [f.thumbnailKey] : [])]).sort());
  expect(killed.length).toBe(6);
}, 150_000);

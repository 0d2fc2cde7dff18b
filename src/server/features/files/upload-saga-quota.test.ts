/**
 * Issue 11, hole 9: the quota is released exactly once, whoever ends a file's life. The owner may
 * delete the file the upload saga has just recorded, at any point while the saga then compensates
 * (a later step failed for good, or an operator aborted). Every such interleaving is run here, at
 * every step boundary of the compensation, against the real router, saga runner, PostgreSQL and
 * Redis; afterwards the owner's used bytes must equal the bytes of their live files.
 *
 * Each owner also keeps one unrelated live file, so a double release shows (used_bytes is clamped
 * at 0 and would hide it otherwise).
 */
import { asTestOperator } from "~test/support/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "~test/support/app";
import { startTestSagaRunner } from "~test/support/saga";
import { createSagaRegistry, PermanentStepError } from "../../reliability/saga/definition";
import { fileUploadSaga, type FileUploadInput } from "./upload-saga";

let app: TestApp;
let runner: Awaited<ReturnType<typeof startTestSagaRunner>>;

/** Where the owner's delete lands: a phase start of a step (or never / after the saga ended). */
const DELETE_POINTS = [
  "none",
  "derive.execute",
  "derive.compensate",
  "create-record.compensate",
  // Not awaited: the owner's delete and the compensation's transaction race for the file row.
  "racing create-record.compensate",
  "store-blob.compensate",
  "reserve-quota.compensate",
  "check-staged.compensate",
  "after",
] as const;
type DeletePoint = (typeof DELETE_POINTS)[number];
type Ending = "derive fails" | "operator aborts";

interface Plan {
  owner: SessionUser;
  ending: Ending;
  deleteAt: DeletePoint;
  deleted?: string;
  racing?: Promise<void>;
}
const plans = new Map<string, Plan>();

async function deleteAsOwner(plan: Plan, fileId: string) {
  // The owner's own delete, through the router; refused (NOT_FOUND) only if the file is already gone.
  plan.deleted = await app
    .caller(plan.owner)
    .files.delete({ id: fileId })
    .then(
      () => "deleted",
      (e: { code?: string }) => `refused ${e.code}`,
    );
}

async function inject(step: string, phase: "execute" | "compensate", input: FileUploadInput) {
  const plan = plans.get(input.name);
  if (!plan) return;
  if (plan.deleteAt === `${step}.${phase}`) await deleteAsOwner(plan, input.fileId);
  if (plan.deleteAt === `racing ${step}.${phase}`) plan.racing = deleteAsOwner(plan, input.fileId);
  if (step === "derive" && phase === "execute") {
    if (plan.ending === "derive fails") throw new PermanentStepError("injected: derive failed for good");
    const [saga] = await app.services.db.$queryRaw<Array<{ id: string }>>`SELECT id FROM saga_instance WHERE input->>'fileId' = ${input.fileId}`;
    await app.services.sagas.abort(saga!.id, "the quota interleaving test aborts it", asTestOperator);
  }
}

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: 64 * 1024 });
  const saga = fileUploadSaga({ db: app.services.db, storage: app.services.storage, inject });
  runner = await startTestSagaRunner(app, createSagaRegistry([saga]), { concurrency: 8, sweepEveryMs: 500, stuckAfterMs: 5_000 });
});
afterAll(async () => {
  await runner?.close();
  await app?.close();
});

function form(content: string, name: string) {
  const fd = new FormData();
  fd.append("file", new File([content], name, { type: "text/plain" }));
  return fd;
}

async function settle(sagaId: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const saga = await app.services.db.sagaInstance.findUniqueOrThrow({ where: { id: sagaId } });
    if (saga.status !== "running" && saga.status !== "compensating") return saga;
    if (Date.now() > deadline) throw new Error(`saga ${sagaId} still ${saga.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function quota(user: SessionUser) {
  const { usedBytes } = await app.services.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { usedBytes: true } });
  const live = await app.services.db.file.findMany({ where: { ownerId: user.id, status: "active" }, select: { sizeBytes: true } });
  return { usedBytes, liveBytes: live.reduce((s, f) => s + f.sizeBytes, 0n), liveFiles: live.length };
}

const ENDINGS: Ending[] = ["derive fails", "operator aborts"];
const CASES = ENDINGS.flatMap((ending) => DELETE_POINTS.map((deleteAt) => ({ ending, deleteAt })));

describe("quota equals the live files, whenever the owner deletes an upload the saga then compensates", () => {
  it(`every interleaving (${CASES.length}): ${ENDINGS.join(" / ")} × delete at ${DELETE_POINTS.join(", ")}`, async () => {
    const runs = await Promise.all(
      CASES.map(async ({ ending, deleteAt }, i) => {
        const owner = await app.createUser();
        await app.caller(owner).files.upload(form("k".repeat(1000), "keep.txt"));
        const name = `quota-${i}.txt`;
        const plan: Plan = { owner, ending, deleteAt };
        plans.set(name, plan);
        const started = await app.caller(owner).files.startUpload(form("0123456789", name));
        const saga = await settle(started.sagaId);
        if (deleteAt === "after") await deleteAsOwner(plan, started.fileId);
        await plan.racing;
        return { ending, deleteAt, status: saga.status, deleted: plan.deleted ?? "no", ...(await quota(owner)) };
      }),
    );
    // One live file left (the kept one), and the used bytes are exactly its bytes: compared as a
    // whole, so a failure lists every interleaving that leaks or double-releases.
    const seen = runs.map((r) => ({ ...r, usedBytes: Number(r.usedBytes), liveBytes: Number(r.liveBytes) }));
    expect(seen).toEqual(
      runs.map((r) => ({
        ending: r.ending,
        deleteAt: r.deleteAt,
        status: r.ending === "derive fails" ? "compensated" : "aborted",
        // Every planned delete landed (a failed step is not compensated: "derive fails" has no derive.compensate).
        deleted: r.deleteAt === "none" || (r.deleteAt === "derive.compensate" && r.ending === "derive fails") ? "no" : "deleted",
        usedBytes: 1000,
        liveBytes: 1000,
        liveFiles: 1,
      })),
    );
  });
});

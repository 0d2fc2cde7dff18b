/**
 * One careful client: signs in as its user, then loops over mutations (direct upload, saga upload,
 * rename, set tags, delete) and reads. Every mutation carries an Idempotency-Key and is retried
 * with the SAME key until it gets a definite answer — a 2xx, or a 4xx other than "still in
 * progress" — honouring Retry-After, backing off on 5xx, refused connections and timeouts.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chaosConfig } from "../config";
import type { ChaosUser } from "../world";
import { trpcHttp, type Outcome, type TrpcHttp } from "./http";
import type { Ledger, Mutation, MutationOp, ReadOp } from "./ledger";
import type { Random } from "./random";

const WORDS = ["alpha", "beta", "gamma", "delta", "red", "green", "blue", "draft", "final", "old", "new", "shared"];

export class LoadClient {
  private readonly http: TrpcHttp;
  /** This client's live files: only it mutates them, so no two operations race on one file. */
  private readonly live = new Map<string, number>();
  private readonly sagas: string[] = [];
  private seq = 0;

  constructor(
    private readonly name: string,
    private readonly user: ChaosUser,
    private readonly cookie: string,
    baseUrl: string,
    private readonly ledger: Ledger,
    private readonly random: Random,
  ) {
    this.http = trpcHttp({ baseUrl, cookie: () => this.cookie, timeoutMs: chaosConfig.requestTimeoutMs });
  }

  /** Run until `until` (epoch ms); the mutation in flight at that moment still runs to its definite answer. */
  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      await this.step();
      await sleep(chaosConfig.thinkMs * (0.5 + this.random.next()));
    }
  }

  private async step() {
    const roll = this.random.next();
    const files = [...this.live.keys()];
    if (roll < 0.25 || files.length < 2) return this.upload("upload");
    if (roll < 0.45) return this.upload("startUpload");
    const fileId = this.random.pick(files);
    if (roll < 0.6) return this.mutate("rename", "files.rename", { id: fileId, name: `renamed-${this.name}-${++this.seq}.txt` }, fileId);
    if (roll < 0.75) return this.mutate("setTags", "files.setTags", { id: fileId, tags: [this.random.pick(WORDS), this.random.pick(WORDS)] }, fileId);
    if (roll < 0.83) {
      this.live.delete(fileId);
      return this.mutate("delete", "files.delete", { id: fileId }, fileId);
    }
    const sagaId = this.sagas.length > 0 && roll < 0.88 ? this.sagas.shift()! : null;
    if (sagaId) return this.read("uploadStatus", "files.uploadStatus", { sagaId });
    if (roll < 0.93) return this.read("get", "files.get", { id: fileId });
    return this.read("list", "files.list", { limit: 25 });
  }

  private async upload(op: "upload" | "startUpload") {
    const size = 200 + Math.floor(this.random.next() * 6000);
    // Printable text: the saga's inspection accepts text/plain. The same bytes on every retry.
    const content = randomBytes(Math.ceil(size / 2)).toString("hex").slice(0, size);
    const name = `chaos-${this.name}-${++this.seq}.txt`;
    const form = () => {
      const f = new FormData();
      f.append("file", new File([content], name, { type: "text/plain" }));
      f.append("tags", "chaos");
      return f;
    };
    const m = await this.mutate(op, op === "upload" ? "files.upload" : "files.startUpload", form, null, size);
    if (m.result !== "committed") return;
    if (op === "upload" && m.fileId) this.live.set(m.fileId, size);
    if (op === "startUpload" && m.sagaId) this.sagas.push(m.sagaId);
  }

  private async read(op: ReadOp, path: string, input: unknown) {
    const start = Date.now();
    const outcome = await this.http.query(path, input);
    this.ledger.attempts.push({ op, key: null, userId: this.user.id, start, end: Date.now(), outcome });
    if (op === "uploadStatus" && outcome.kind === "ok") {
      const status = outcome.data as { sagaId: string; fileId: string; state: string };
      if (status.state === "done") this.live.set(status.fileId, 0);
      else if (status.state === "processing") this.sagas.push(status.sagaId);
    } else if (op === "uploadStatus") {
      this.sagas.push((input as { sagaId: string }).sagaId);
    }
  }

  private async mutate(op: MutationOp, path: string, input: unknown | (() => FormData), fileId: string | null, sizeBytes = 0): Promise<Mutation> {
    const key = randomUUID();
    const m: Mutation = {
      op,
      key,
      userId: this.user.id,
      fileId,
      sagaId: null,
      sizeBytes,
      attempts: 0,
      result: "unresolved",
      replayed: false,
      lastMessage: null,
      firstAt: Date.now(),
      doneAt: 0,
    };
    this.ledger.mutations.push(m);
    const deadline = m.firstAt + chaosConfig.mutationDeadlineMs;
    let backoff = 200;
    while (Date.now() < deadline) {
      m.attempts++;
      const start = Date.now();
      const outcome: Outcome = await this.http.mutate(path, typeof input === "function" ? (input as () => FormData)() : input, key);
      this.ledger.attempts.push({ op, key, userId: this.user.id, start, end: Date.now(), outcome });
      if (outcome.kind === "ok") {
        const data = outcome.data as { id?: string; fileId?: string; sagaId?: string } | null;
        m.result = "committed";
        m.replayed = outcome.replayed;
        if (op === "upload") m.fileId = data?.id ?? null;
        if (op === "startUpload") {
          m.fileId = data?.fileId ?? null;
          m.sagaId = data?.sagaId ?? null;
        }
        break;
      }
      m.lastMessage = outcome.kind === "error" ? `${outcome.status} ${outcome.code}: ${outcome.message}` : `${outcome.kind}: ${outcome.message}`;
      if (outcome.kind === "error" && outcome.status === 409 && outcome.retryAfterSeconds !== null) {
        await sleep(Math.min(outcome.retryAfterSeconds * 1000, 5000));
        continue;
      }
      if (outcome.kind === "error" && outcome.status >= 400 && outcome.status < 500) {
        m.result = "rejected"; // a definite answer: the same request would get it again
        break;
      }
      await sleep(backoff * (0.5 + this.random.next()));
      backoff = Math.min(backoff * 2, 2000);
    }
    m.doneAt = Date.now();
    return m;
  }
}

/** A reader that lists files at a steady pace: samples whether reads are answered through every fault. */
export async function runReader(ledger: Ledger, user: ChaosUser, cookie: string, baseUrl: string, until: number): Promise<void> {
  const http = trpcHttp({ baseUrl, cookie: () => cookie, timeoutMs: chaosConfig.requestTimeoutMs });
  while (Date.now() < until) {
    const start = Date.now();
    const outcome = await http.query("files.list", { limit: 10 });
    ledger.attempts.push({ op: "list", key: null, userId: user.id, start, end: Date.now(), outcome });
    await sleep(300);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

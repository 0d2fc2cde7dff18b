/**
 * Hole 2: request bodies are limited on the bytes as they stream in, not on Content-Length. Each
 * request below is sent through the real tRPC fetch handler with a body the test generates on
 * demand, counting how many bytes the server pulled from it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "~/server/auth/session";
import { createTestApp, type TestApp } from "../support/app";

const MAX_UPLOAD = 1024;
const MAX_JSON = 16 * 1024;
const CHUNK = 16 * 1024;
const HUGE = 64 * 1024 * 1024; // what an attacker offers: far more than the server may buffer

let app: TestApp;
let alice: SessionUser;

beforeAll(async () => {
  app = await createTestApp({ maxUploadBytes: MAX_UPLOAD, maxJsonBodyBytes: MAX_JSON });
  alice = await app.createUser();
});
afterAll(() => app.close());

/** A body of `head`, then `fill` repeated up to `total` bytes, then `tail`; `pulled` counts what was read. */
function endlessBody(head: string, fill: number, total: number, tail = "") {
  const counter = { pulled: 0 };
  let sent = 0;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = encoder.encode(head);
      counter.pulled += bytes.byteLength;
      controller.enqueue(bytes);
    },
    pull(controller) {
      if (sent >= total) {
        controller.enqueue(encoder.encode(tail));
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(CHUNK, total - sent)).fill(fill);
      sent += chunk.byteLength;
      counter.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, counter };
}

const post = (path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
  app.http(path, { method: "POST", body, headers, user: alice, duplex: "half" } as RequestInit & { user: SessionUser });

const fileCount = () => app.services.db.file.count();

describe("body limits", () => {
  it("answers 413 to a chunked multipart upload (no Content-Length) before buffering past the limit", async () => {
    const boundary = "----metastore-test";
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`;
    const { stream, counter } = endlessBody(head, 0x61, HUGE, `\r\n--${boundary}--\r\n`);
    const before = await fileCount();
    const res = await post("/api/trpc/files.upload", stream, { "content-type": `multipart/form-data; boundary=${boundary}` });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
    expect(body.error.json.data.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.json.message).toMatch(/limit is 1024 bytes/);
    // The server stopped reading within a chunk or two of the limit (upload + multipart framing).
    expect(counter.pulled).toBeLessThan(MAX_UPLOAD + 64 * 1024 + 4 * CHUNK);
    expect(await fileCount()).toBe(before);
  });

  it("answers 413 to an oversize JSON body without Content-Length, reading no more than the limit", async () => {
    const input = `{"json":{"id":"00000000-0000-7000-8000-000000000000","name":"`;
    const { stream, counter } = endlessBody(input, 0x62, HUGE, `"}}`);
    const res = await post("/api/trpc/files.rename", stream, { "content-type": "application/json" });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { json: { message: string } } };
    expect(body.error.json.message).toMatch(new RegExp(`limit is ${MAX_JSON} bytes`));
    expect(counter.pulled).toBeLessThan(MAX_JSON + 4 * CHUNK);
  });

  it("answers 413 from a declared Content-Length over the limit without reading the body", async () => {
    const { stream, counter } = endlessBody("", 0x63, HUGE);
    const res = await post("/api/trpc/files.rename", stream, { "content-type": "application/json", "content-length": String(HUGE) });
    expect(res.status).toBe(413);
    expect(counter.pulled).toBeLessThanOrEqual(CHUNK); // at most what the stream queued before anyone read
  });

  it("still accepts a body within the limit, streamed without Content-Length", async () => {
    const file = await app.caller(alice).files.upload((() => {
      const fd = new FormData();
      fd.append("file", new File(["hello"], "ok.txt", { type: "text/plain" }));
      return fd;
    })());
    const input = JSON.stringify({ json: { id: file.id, name: "renamed.txt" } });
    const { stream } = endlessBody(input, 0, 0);
    const res = await post("/api/trpc/files.rename", stream, { "content-type": "application/json" });
    expect(res.status).toBe(200);
    expect((await app.services.db.file.findUniqueOrThrow({ where: { id: file.id } })).name).toBe("renamed.txt");
  });
});

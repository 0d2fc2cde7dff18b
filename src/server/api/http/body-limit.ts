import { MULTIPART_OVERHEAD_BYTES } from "../../contracts/limits";

/**
 * Request bodies are limited on the bytes as they arrive, not on the Content-Length a client
 * declares: a chunked request has none, and `req.formData()` / `req.json()` would otherwise buffer
 * whatever is sent. The returned request's body errors with `tooLarge()` as soon as the limit is
 * passed (or at once when the declared length is already over it), so the parser stops there.
 *
 * tRPC passes a TRPCError raised while reading the body through unchanged, so a PAYLOAD_TOO_LARGE
 * error becomes a 413 answer in tRPC's own error shape (batches included).
 */
export function limitRequestBody(req: Request, limitBytes: number, tooLarge: () => Error): Request {
  if (!req.body) return req;
  const declared = Number(req.headers.get("content-length"));
  const source = req.body.getReader();
  let seen = 0;
  // Pull-based, one chunk at a time: at most one chunk past the limit is ever held. On overflow the
  // source is released, not cancelled: cancelling would reset the connection before the 413 is sent.
  const limited = new ReadableStream<Uint8Array>({
    start(controller) {
      if (Number.isFinite(declared) && declared > limitBytes) {
        source.releaseLock();
        controller.error(tooLarge());
      }
    },
    async pull(controller) {
      const { done, value } = await source.read();
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen > limitBytes) {
        source.releaseLock();
        controller.error(tooLarge());
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return source.cancel(reason);
    },
  });
  return new Request(req.url, { method: req.method, headers: req.headers, body: limited, signal: req.signal, duplex: "half" } as RequestInit);
}

// The allowance is a contract (contracts/limits.ts): the idempotency middleware reads it too.
export { MULTIPART_OVERHEAD_BYTES };

/** The limit for one request: an upload's for multipart bodies, the JSON limit for everything else. */
export function bodyLimitFor(req: Request, limits: { maxUploadBytes: number; maxJsonBodyBytes: number }): { limitBytes: number; message: string } {
  const type = req.headers.get("content-type")?.split(";", 1)[0]?.trim().toLowerCase();
  return type === "multipart/form-data"
    ? { limitBytes: limits.maxUploadBytes + MULTIPART_OVERHEAD_BYTES, message: `The upload is too large: the limit is ${limits.maxUploadBytes} bytes` }
    : { limitBytes: limits.maxJsonBodyBytes, message: `The request body is too large: the limit is ${limits.maxJsonBodyBytes} bytes` };
}

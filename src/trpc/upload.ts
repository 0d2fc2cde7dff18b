"use client";

import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter } from "~/server/api/root";
import { transformer } from "~/server/platform/transformer";
import { idempotencyHeaders, idempotencyLink } from "./idempotency-link";

/**
 * fetch() cannot report upload progress, XMLHttpRequest can: this is a fetch-compatible function
 * over XHR, handed to tRPC's httpLink so the upload still goes through the typed procedure.
 */
function xhrFetch(onProgress: (fraction: number) => void): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(init?.method ?? "POST", String(input));
      new Headers(init?.headers).forEach((value, key) => xhr.setRequestHeader(key, value));
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        const headers = new Headers();
        for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const at = line.indexOf(":");
          if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        resolve(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText, headers }));
      };
      xhr.onerror = () => reject(new TypeError("Network error while uploading"));
      xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
      init?.signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(init?.body as XMLHttpRequestBodyInit);
    });
}

/**
 * Upload through the typed `files.startUpload` procedure (the file-upload saga), reporting the
 * transfer's progress from 0 to 1. It answers with the saga id once the bytes are staged; follow
 * `files.uploadStatus` until the file is stored and recorded.
 */
export function uploadFile(form: FormData, onProgress: (fraction: number) => void, signal?: AbortSignal) {
  const client = createTRPCClient<AppRouter>({
    // A retried upload (network drop, 5xx) reuses its Idempotency-Key: the file is stored once.
    links: [idempotencyLink<AppRouter>(), httpLink({ url: "/api/trpc", transformer, headers: idempotencyHeaders, fetch: xhrFetch(onProgress) })],
  });
  return client.files.startUpload.mutate(form, { signal });
}

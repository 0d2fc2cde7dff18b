import { Readable } from "node:stream";
import { z } from "zod";
import { PASSWORD_CHANGE_REQUIRED_MESSAGE } from "../auth/password-rules";
import { readSessionCookie } from "../auth/request-session";
import { DomainError } from "../platform/errors";
import { contentDisposition } from "../features/files/file-name";
import { createFilesService } from "../features/files/files-service";
import type { AppServices } from "../services";
import { BlobNotFoundError } from "../platform/storage/blob-storage";

const problem = (status: number, message: string) => Response.json({ error: message }, { status });

/**
 * GET /api/files/<id>/download: streams a file's bytes to its owner, with a Content-Disposition
 * that is safe for any name. Built from the services like the tRPC handler, so tests (and the
 * fuzz suite) drive the very code the Next.js route serves.
 */
export function createDownloadHandler(services: AppServices) {
  const handle = async (req: Request, id: string): Promise<Response> => {
    if (!z.uuid().safeParse(id).success) return problem(400, "The file id must be a UUID");
    const user = await services.sessions.resolve(readSessionCookie(req));
    if (!user) return problem(401, "Sign in to download files");
    if (user.mustChangePassword) return problem(403, PASSWORD_CHANGE_REQUIRED_MESSAGE);
    try {
      const file = await createFilesService(services).getForDownload(user.id, id);
      const stream = await services.storage.read(file.storageKey);
      const inline = new URL(req.url).searchParams.get("inline") === "1";
      return new Response(Readable.toWeb(stream) as ReadableStream, {
        headers: {
          "Content-Type": file.mimeType,
          "Content-Length": String(file.sizeBytes),
          "Content-Disposition": contentDisposition(file.name, inline ? "inline" : "attachment"),
          // Never let a browser sniff an uploaded file into HTML or script.
          "X-Content-Type-Options": "nosniff",
          "Content-Security-Policy": "default-src 'none'; sandbox",
          "Cache-Control": "private, no-store",
        },
      });
    } catch (error) {
      if (error instanceof DomainError && error.kind === "not_found") return problem(404, error.message);
      if (error instanceof BlobNotFoundError) {
        services.logger.error({ fileId: id, key: error.key }, "file record has no stored blob");
        return problem(410, "The file's content is no longer stored");
      }
      throw error;
    }
  };
  // Time to the response's headers: the bytes stream afterwards at the client's pace.
  return services.requestMetrics ? services.requestMetrics.timeHttp("/api/files/:id/download", handle) : handle;
}

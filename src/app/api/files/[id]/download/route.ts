import { createDownloadHandler } from "~/server/api/download-handler";
import { getAppServices } from "~/server/composition";

export const runtime = "nodejs";

let handler: ReturnType<typeof createDownloadHandler> | undefined;

/** Streams a file's bytes to its owner (see server/api/download-handler.ts). */
export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  handler ??= createDownloadHandler(getAppServices());
  return handler(req, (await params).id);
}

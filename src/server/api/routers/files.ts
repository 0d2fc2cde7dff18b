import { z } from "zod";
import { fileTags, tagsForFileChange } from "../../features/files/cache-tags";
import { eventHeadersFor } from "../../features/files/files-outbox";
import { tagListSchema } from "../../features/files/tags";
import type { UploadRequest } from "../../features/files/upload-request";
import type { InnerContext } from "../trpc";
import { authedProcedure, createTRPCRouter } from "../trpc";

const fileId = z.uuid({ message: "must be a file id (a UUID)" });

/** The multipart form of files.upload: one `file` part, optional `tags` parts (repeated). */
const uploadForm = z.instanceof(FormData, { message: "send the upload as multipart/form-data" }).transform((form, ctx) => {
  const file = form.get("file");
  if (!(file instanceof File)) {
    ctx.addIssue({ code: "custom", path: ["file"], message: "the form needs a `file` part with the file's content" });
    return z.NEVER;
  }
  // RFC 6838: a type and a subtype of at most 127 characters each. Anything longer is not a
  // content type a client could mean (and would not fit the file record).
  if (file.type.length > 255) {
    ctx.addIssue({ code: "custom", path: ["file"], message: `the file's content type is ${file.type.length} characters long; a content type is at most 255` });
    return z.NEVER;
  }
  const tags = tagListSchema.safeParse(form.getAll("tags").map(String));
  if (!tags.success) {
    for (const issue of tags.error.issues) ctx.addIssue({ ...issue, path: ["tags", ...issue.path] } as never);
    return z.NEVER;
  }
  return { file, tags: tags.data };
});

/** The parsed multipart form as the domain's upload request (both upload paths take it). */
async function uploadRequest(ctx: InnerContext & { user: { id: string } }, input: { file: File; tags: string[] }): Promise<UploadRequest> {
  return {
    ownerId: ctx.user.id,
    name: input.file.name,
    declaredType: input.file.type,
    bytes: new Uint8Array(await input.file.arrayBuffer()),
    tags: input.tags,
    maxBytes: ctx.config.maxUploadBytes,
  };
}

// Every files mutation writes its outbox event in its own transaction (see features/files/files-outbox.ts).
/**
 * Query cache: results are per user (the key carries the caller), tagged with the owner's list tag
 * and the file's own tag; mutations name the tags they touch (invalidated after the commit).
 * The TTL is the last-resort staleness bound for writes that bypass these mutations.
 */
const FILES_CACHE_TTL_SECONDS = 60;
const invalidatesOneFile = ({ input, ctx }: { input: { id?: unknown } | undefined; ctx: InnerContext }) =>
  ctx.user ? tagsForFileChange({ id: String(input?.id), ownerId: ctx.user.id }) : [];

export const filesRouter = createTRPCRouter({
  upload: authedProcedure
    .meta({
      description: "Upload a file (multipart/form-data)",
      invalidates: ({ ctx }) => (ctx.user ? [fileTags.ownerList(ctx.user.id)] : []),
    })
    .input(uploadForm)
    .mutation(async ({ ctx, input }) => ctx.files.upload(await uploadRequest(ctx, input), eventHeadersFor(ctx))),

  /**
   * The upload path of the UI: stages the bytes and starts the file-upload saga
   * (features/files/upload-saga.ts), answering at once with the saga id; files.uploadStatus
   * follows it until the file is stored, inspected (type allow-list) and recorded.
   */
  startUpload: authedProcedure
    .meta({ description: "Upload a file through the file-upload saga (multipart/form-data)" })
    .input(uploadForm)
    .mutation(async ({ ctx, input }) => ctx.uploads.start({ ...(await uploadRequest(ctx, input)), headers: eventHeadersFor(ctx) })),

  uploadStatus: authedProcedure
    .input(z.object({ sagaId: z.uuid({ message: "must be an upload's saga id (a UUID)" }) }))
    .query(({ ctx, input }) => ctx.uploads.status(ctx.user.id, input.sagaId)),

  list: authedProcedure
    .meta({
      cache: { ttl: FILES_CACHE_TTL_SECONDS, prefix: "files", tags: ({ ctx }) => (ctx.user ? [fileTags.ownerList(ctx.user.id)] : []) },
    })
    .input(
      z.object({
        cursor: z.string().max(200).optional(),
        limit: z.number().int().min(1).max(100).default(25),
        name: z.string().trim().max(255).optional(),
        type: z.string().trim().max(127).regex(/^[\w.+-]+\/[\w.+-]*$/, "a MIME type such as image/png, or a prefix such as image/").optional(),
        tag: z.string().trim().toLowerCase().max(32).optional(),
      })
      // No input at all (a plain GET) is the first page with the defaults.
      .prefault({}),
    )
    .query(({ ctx, input }) => ctx.files.list(ctx.user.id, input)),

  get: authedProcedure
    .meta({ cache: { ttl: FILES_CACHE_TTL_SECONDS, prefix: "files", tags: ({ input }) => [fileTags.file(String(input?.id))] } })
    .input(z.object({ id: fileId })).query(({ ctx, input }) => ctx.files.get(ctx.user.id, input.id)),

  rename: authedProcedure
    .meta({ invalidates: invalidatesOneFile })
    .input(z.object({ id: fileId, name: z.string().min(1, "the new name cannot be empty").max(1024) }))
    .mutation(({ ctx, input }) => ctx.files.rename(ctx.user.id, input.id, input.name, eventHeadersFor(ctx))),

  setTags: authedProcedure
    .meta({ invalidates: invalidatesOneFile })
    .input(z.object({ id: fileId, tags: tagListSchema }))
    .mutation(({ ctx, input }) => ctx.files.setTags(ctx.user.id, input.id, input.tags, eventHeadersFor(ctx))),

  delete: authedProcedure
    .meta({ invalidates: invalidatesOneFile })
    .input(z.object({ id: fileId }))
    .mutation(({ ctx, input }) => ctx.files.remove(ctx.user.id, input.id, eventHeadersFor(ctx))),
});

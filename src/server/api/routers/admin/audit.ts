import { auditSearchSchema } from "../../../reliability/audit";
import { createTRPCRouter, viewerProcedure } from "../../trpc";

/** admin.audit: the operator audit log, read-only for everyone (the table itself refuses edits). */
export const auditAdminRouter = createTRPCRouter({
  search: viewerProcedure
    .meta({ description: "Operator actions, newest first: by actor, action, target id, text, time range" })
    .input(auditSearchSchema)
    .query(({ ctx, input }) => ctx.audit.search(input)),
});

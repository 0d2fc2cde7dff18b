import { z } from "zod";

/**
 * The filter fields an operator selects outbox events by, written once: the console's lists
 * (outbox/operator.ts) and bulk actions (bulk/filter.ts) each add their own status set and extras.
 */
export const eventFilterFields = {
  type: z.string().trim().min(1).max(100).optional(),
  aggregateType: z.string().trim().min(1).max(100).optional(),
  aggregateId: z.string().trim().min(1).max(200).optional(),
  from: z.date().optional(),
  to: z.date().optional(),
  errorContains: z.string().trim().min(1, "the error text to look for cannot be empty").max(200).optional(),
  /** A failure group: events whose latest failure has this error fingerprint. */
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/, "fingerprint is the 32 hex characters of a failure group").optional(),
};

type RangeAndAggregate = { from?: Date; to?: Date; aggregateType?: string; aggregateId?: string };

/** The rules across fields: a time range runs forwards, and an aggregate id needs its type. */
export function withEventFilterRules<T extends z.ZodType<RangeAndAggregate>>(schema: T): T {
  return schema
    .refine((f) => !f.from || !f.to || f.from < f.to, { message: "`from` must be before `to`", path: ["to"] })
    .refine((f) => !f.aggregateId || f.aggregateType, { message: "give aggregateType with aggregateId", path: ["aggregateType"] });
}

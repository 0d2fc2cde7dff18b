import { z } from "zod";

export const MAX_TAGS = 20;

/** One tag: lower-case, trimmed, 1–32 characters of letters, digits, space, - _ . */
export const tagSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1, "a tag cannot be empty")
  .max(32, "a tag is at most 32 characters")
  .regex(/^[\p{L}\p{N} ._-]+$/u, "a tag may contain letters, digits, spaces, '.', '-' and '_'");

/** A set of tags: duplicates collapse, order of first appearance is kept. */
export const tagListSchema = z
  .array(tagSchema)
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags per file`)
  .transform((tags) => [...new Set(tags)]);

import { TRPCError } from "@trpc/server";
import { expect } from "vitest";

/** Awaits a call that must fail with this tRPC error code (and, when given, a message matching `message`). */
export async function expectTRPCError(promise: Promise<unknown>, code: TRPCError["code"], message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  expect((error as TRPCError).code).toBe(code);
  if (message) expect((error as TRPCError).message).toMatch(message);
}

/**
 * What the load client saw: every HTTP attempt (for the request invariants) and every mutation's
 * final answer (for the data invariants). Only the client's own observations go here; the checks
 * compare them with what PostgreSQL and the storage say afterwards.
 */
import type { Outcome } from "./http";

export type MutationOp = "upload" | "startUpload" | "rename" | "setTags" | "delete";
export type ReadOp = "list" | "get" | "uploadStatus";

export interface Attempt {
  op: MutationOp | ReadOp;
  key: string | null;
  userId: string;
  start: number;
  end: number;
  outcome: Outcome;
}

export interface Mutation {
  op: MutationOp;
  key: string;
  userId: string;
  /** The file it created or touched (for startUpload: the file the saga will create). */
  fileId: string | null;
  sagaId: string | null;
  sizeBytes: number;
  attempts: number;
  /** committed: a 2xx; rejected: a definite 4xx; unresolved: no definite answer before the deadline. */
  result: "committed" | "rejected" | "unresolved";
  replayed: boolean;
  lastMessage: string | null;
  firstAt: number;
  doneAt: number;
}

export class Ledger {
  readonly attempts: Attempt[] = [];
  readonly mutations: Mutation[] = [];

  committed(op?: MutationOp): Mutation[] {
    return this.mutations.filter((m) => m.result === "committed" && (!op || m.op === op));
  }
}

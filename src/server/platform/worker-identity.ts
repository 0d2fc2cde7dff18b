import os from "node:os";

/**
 * Names the process that ran an attempt (delivery of an event, a saga step) in the history the
 * operator reads: host and pid are what an operator needs to find its logs or see it died.
 */
export const workerIdentity = `${os.hostname()}:${process.pid}`;

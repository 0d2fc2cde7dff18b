import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import type { Db } from "../../platform/db/client";
import { afterCommit, inTransaction } from "../../platform/db/transaction";
import { recordOperatorAction, type AuditContext, type TransactionOnly } from "../audit";
import { DomainError, notFound } from "../../platform/errors";
import type { SagaRegistry } from "./definition";
import type { SagaEngineDeps } from "./engine";
import { dispatchOptionsFor, errorText } from "./policy";
import { readContext, type SagaContext, type SagaDispatcher, type StepJob } from "./types";

/**
 * Fork a saga from a chosen step, as DBOS's `forkWorkflow(id, startStep)` and Inngest's "rerun from
 * step" define it: a NEW saga (new id, linked by forked_from / forked_from_step) of the same type
 * starts at that step; the steps before it are not run again — their outputs are the ones the
 * original recorded (memoised, and shown on the fork's timeline as inherited). The step chosen
 * and every later one run again, with the original input or an edited one (checked against the
 * saga's input schema). The original saga is left exactly as it was.
 *
 * A fork compensates only what it ran itself (context.startStep): the earlier steps' effects are
 * the original's. Only a saga that has stopped moving may be forked (two live runs of one saga's
 * steps would race on the same side effects).
 */
export function createSagaFork(deps: { db: Db; registry: SagaRegistry; dispatcher: SagaDispatcher; logger?: SagaEngineDeps["logger"] }) {
  const { db, registry, dispatcher } = deps;

  return {
    async fork(id: string, options: { fromStep: number; input?: unknown }, audit: AuditContext) {
      const original = await db.sagaInstance.findUnique({
        where: { id },
        select: { id: true, type: true, status: true, input: true, context: true, correlationId: true },
      });
      if (!original) throw notFound(`Saga ${id} was not found`);
      const def = registry.get(original.type);
      if (!def) throw new DomainError("precondition_failed", `Saga type ${original.type} is not known to this server, so it cannot be forked from here`);
      if (original.status === "running" || original.status === "compensating") {
        throw new DomainError("conflict", `Saga ${id} is ${original.status}; only a saga that has stopped (completed, compensated, aborted or failed) can be forked — abort it first`);
      }
      const { fromStep } = options;
      if (!Number.isInteger(fromStep) || fromStep < 0 || fromStep >= def.steps.length) {
        throw new DomainError("bad_input", `fromStep must be a step of ${def.type}: 0 to ${def.steps.length - 1} (got ${fromStep})`);
      }
      const edited = options.input !== undefined;
      const parsed = def.input.safeParse(edited ? options.input : original.input);
      if (!parsed.success) {
        throw new DomainError("bad_input", `The input does not match the ${def.type} input schema: ${z.prettifyError(parsed.error)}`, {
          issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
        });
      }
      // The earlier steps' outputs, as the original recorded them (by step name, as steps read them).
      const recorded = readContext(original.context).outputs;
      const outputs: Record<string, unknown> = {};
      for (const [index, step] of def.steps.slice(0, fromStep).entries()) {
        if (!Object.hasOwn(recorded, step.name)) {
          throw new DomainError(
            "conflict",
            `Step ${index} (${step.name}) of saga ${id} never completed, so it has no output to start from: fork from step ${index} or earlier`,
          );
        }
        outputs[step.name] = recorded[step.name];
      }
      const inherited = fromStep > 0
        ? await db.sagaStepLog.findMany({
            where: { sagaId: id, phase: "execute", status: "succeeded", stepIndex: { lt: fromStep } },
            select: { stepIndex: true, stepName: true, executionId: true, startedAt: true, finishedAt: true, output: true },
          })
        : [];

      const forkId = uuidv7();
      const context: SagaContext = { generation: 0, outputs, ...(fromStep > 0 ? { startStep: fromStep } : {}) };
      return inTransaction(db, async (tx) => {
        await tx.sagaInstance.create({
          data: {
            id: forkId,
            type: original.type,
            status: "running",
            currentStep: fromStep,
            input: (parsed.data ?? null) as object,
            context: context as object,
            correlationId: original.correlationId,
            forkedFrom: original.id,
            forkedFromStep: fromStep,
          },
        });
        // The inherited steps on the fork's timeline: succeeded, with the original's output and
        // execution id (they ran there), so a later redrive of the fork never runs them again.
        if (inherited.length > 0) {
          await tx.sagaStepLog.createMany({
            data: inherited.map((l) => ({
              id: uuidv7(),
              sagaId: forkId,
              stepIndex: l.stepIndex,
              stepName: l.stepName,
              phase: "execute" as const,
              status: "succeeded" as const,
              attempts: 0,
              executionId: l.executionId,
              startedAt: l.startedAt,
              finishedAt: l.finishedAt,
              output: (l.output ?? null) as object,
            })),
          });
        }
        await recordOperatorAction(tx as TransactionOnly, {
          ...audit,
          action: "saga.fork",
          targetKind: "saga",
          targetIds: [original.id, forkId],
          filter: { fromStep, inputEdited: edited },
          affectedCount: 1,
        });
        const job: StepJob = { sagaId: forkId, sagaType: original.type, phase: "execute", stepIndex: fromStep, generation: 0 };
        // Queued once the fork is committed; if Redis does not take it, the sweeper queues it.
        await afterCommit(async () => {
          try {
            await dispatcher.dispatch(job, dispatchOptionsFor(def, fromStep));
          } catch (error) {
            deps.logger?.warn({ err: errorText(error), sagaId: forkId }, "could not queue a forked saga's first step; the sweeper will");
          }
        });
        return { id: forkId, forkedFrom: original.id, fromStep, inputEdited: edited, status: "running" as const };
      });
    },
  };
}

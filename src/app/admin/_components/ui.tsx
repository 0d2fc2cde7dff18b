"use client";

/**
 * The console's shared UI pieces, on the Mantine component library. Pages import from here, never
 * from hand-made markup: dialogs, toasts, tables and the empty/loading/error states look and behave
 * the same on every page (and on the files page). The names that existed before the library
 * (StatusBadge, QueryError, ConfirmButton, Stat, …) keep their props.
 */
import {
  Alert,
  Badge,
  Button,
  Center,
  Code,
  Group,
  Loader,
  Modal,
  Paper,
  ScrollArea,
  Stack,
  Table,
  Text,
  Textarea,
  type ButtonProps,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useId, useState, type ReactNode } from "react";
import { isStatusName, STATUS_COLORS, type StatusName } from "./status-colors";

// ───────────────────────────── formatting ─────────────────────────────

/** Times in UTC, the same on the server render and in every operator's browser. */
export function formatTime(date: Date | null | undefined) {
  if (!date) return "—";
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function formatDuration(ms: number | null | undefined) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatPercent(rate: number | null | undefined) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

export const formatCount = (n: number) => n.toLocaleString("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
/** A count the server estimated (past its exact-count cap) reads "≈ 1.2M"; an exact one in full. */
export const formatEstimate = (n: number, estimated: boolean) => (estimated ? `≈ ${compact.format(n)}` : formatCount(n));

export const plural = (n: number, one: string, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;

export function shortId(id: string) {
  return id.slice(-12);
}

export function errorText(error: unknown) {
  return error instanceof Error ? error.message : "Something went wrong";
}

// ───────────────────────────── status ─────────────────────────────

/** A status or outcome as a coloured label (colours: status-colors.ts); the text carries the meaning, the colour only helps scanning. */
export function StatusBadge({ status }: { status: StatusName | (string & {}) }) {
  // Plain strings come from raw SQL (the trace page's ::text casts) of the same enums; an unknown one is gray.
  const color = isStatusName(status) ? STATUS_COLORS[status] : "gray";
  // Dark text on the status's tint: even the darkest shade of a hue reads below WCAG AA (4.5:1) on its own tint at badge size.
  return (
    <Badge color={color} c="dark.7" variant="light" radius="sm" tt="none" miw="max-content" className={`badge badge-${status}`}>
      {status.replace("_", " ")}
    </Badge>
  );
}

// ───────────────────────────── empty / loading / error ─────────────────────────────

/** Nothing to show, and why (or what to do): a sentence, never a blank panel. */
export function EmptyState({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <Center py="xl" className="empty">
      <Stack gap={4} align="center">
        {title && <Text fw={600}>{title}</Text>}
        <Text c="dimmed" ta="center">
          {children}
        </Text>
      </Stack>
    </Center>
  );
}

/** A load in progress, said in words (screen readers get them as a polite status). */
export function LoadingState({ what }: { what: string }) {
  return (
    <Group gap="xs" py="sm" aria-live="polite" aria-busy="true">
      <Loader size="xs" />
      <Text c="dimmed" size="sm">
        Loading {what}…
      </Text>
    </Group>
  );
}

/** A load failure with what went wrong and a way to try again. */
export function ErrorState({ what, error, onRetry }: { what: string; error: { message: string }; onRetry?: () => unknown }) {
  return (
    <Alert role="alert" color="red" variant="light" title={`Could not load ${what}`} my="sm">
      <Group gap="sm" justify="space-between" wrap="nowrap">
        <Text size="sm">{error.message}</Text>
        {onRetry && (
          <Button size="xs" variant="white" color="red" onClick={() => void onRetry()}>
            Retry
          </Button>
        )}
      </Group>
    </Alert>
  );
}

/** The name pages used before the library: the same as ErrorState. */
export const QueryError = ErrorState;

export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <ScrollArea.Autosize mah={420} type="auto">
      <Code block aria-label={label} tabIndex={0} className="json">
        {value === undefined ? "—" : JSON.stringify(value, null, 2)}
      </Code>
    </ScrollArea.Autosize>
  );
}

// ───────────────────────────── outcomes: messages and toasts ─────────────────────────────

export type Result = { kind: "ok" | "error"; text: string } | null;

/** The outcome of an action shown in place: status for success, alert for failure. */
export function ResultMessage({ result }: { result: Result }) {
  if (!result) return null;
  return (
    <Alert role={result.kind === "error" ? "alert" : "status"} color={result.kind === "error" ? "red" : "green"} variant="light" py="xs" my="xs" className={result.kind === "error" ? "error" : "ok"}>
      {result.text}
    </Alert>
  );
}

/**
 * Toasts for the outcome of an action, announced to screen readers. Use them for what happened
 * after a dialog closed (the dialog shows its own errors while it is open).
 */
export const toast = {
  success(message: ReactNode, title = "Done") {
    notifications.show({ title, message, color: "green", autoClose: 6000, withBorder: true });
  },
  error(message: ReactNode, title = "That did not work") {
    notifications.show({ title, message, color: "red", autoClose: 12_000, withBorder: true });
  },
  info(message: ReactNode, title?: string) {
    notifications.show({ title, message, color: "blue", autoClose: 6000, withBorder: true });
  },
};

// ───────────────────────────── confirm ─────────────────────────────

export interface ReasonOptions {
  /** The field's label, e.g. "Why discard it? (kept in the audit log)". */
  label: string;
  /** Fewest characters accepted (default 3); the confirm button stays disabled until then. */
  minLength?: number;
  maxLength?: number;
  placeholder?: string;
}

/**
 * A controlled confirm dialog. It stays open with the error if the action fails, and closes when it
 * succeeds. With `reason`, the operator must type why before confirming; the text is handed to
 * `onConfirm` (for the audit log and the record the action keeps).
 */
export function ConfirmDialog({
  opened,
  onClose,
  title,
  children,
  confirmLabel = "Confirm",
  pendingLabel = "Working…",
  danger = false,
  canConfirm = true,
  reason,
  onConfirm,
  successToast,
}: {
  opened: boolean;
  onClose: () => void;
  title: string;
  children?: ReactNode;
  confirmLabel?: string;
  pendingLabel?: string;
  danger?: boolean;
  canConfirm?: boolean;
  reason?: ReasonOptions;
  onConfirm: (reason: string) => Promise<unknown>;
  /** A toast once the action succeeded: a fixed text, or one made from the action's result. */
  successToast?: ReactNode | ((result: unknown) => ReactNode);
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const reasonId = useId();
  const minLength = reason?.minLength ?? 3;
  const reasonOk = !reason || typed.trim().length >= minLength;

  function close() {
    if (pending) return;
    setError(null);
    setTyped("");
    onClose();
  }
  async function confirm() {
    setPending(true);
    setError(null);
    try {
      const result = await onConfirm(typed.trim());
      setPending(false);
      setTyped("");
      onClose();
      if (successToast) toast.success(typeof successToast === "function" ? successToast(result) : successToast);
    } catch (e) {
      setPending(false);
      setError(errorText(e));
    }
  }
  return (
    <Modal opened={opened} onClose={close} title={title} centered closeOnClickOutside={!pending} closeOnEscape={!pending} size="lg">
      <Stack gap="sm">
        {children}
        {reason && (
          <Textarea
            id={reasonId}
            label={reason.label}
            placeholder={reason.placeholder}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            maxLength={reason.maxLength ?? 500}
            autosize
            minRows={2}
            required
            description={`At least ${minLength} characters`}
            data-autofocus
          />
        )}
        {error && (
          <Alert role="alert" color="red" variant="light" className="error">
            {error}
          </Alert>
        )}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={close} disabled={pending}>
            Cancel
          </Button>
          <Button color={danger ? "red" : undefined} onClick={() => void confirm()} loading={pending} disabled={!canConfirm || !reasonOk} data-pending-label={pendingLabel}>
            {pending ? pendingLabel : confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/**
 * A button that opens a ConfirmDialog. `onConfirm` is the mutation (mutateAsync); it gets the typed
 * reason when `reason` is set.
 */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel = label,
  pendingLabel = "Working…",
  danger = false,
  disabled = false,
  canConfirm = true,
  reason,
  onConfirm,
  onOpen,
  successToast,
  size = "sm",
  variant,
  ariaLabel,
}: {
  label: string;
  /** The button's accessible name when the label alone is ambiguous in a list ("Retry event <id>"). */
  ariaLabel?: string;
  title: string;
  children?: ReactNode;
  confirmLabel?: string;
  pendingLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  /** False while the dialog's own form is not filled in (e.g. a reason is required). */
  canConfirm?: boolean;
  reason?: ReasonOptions;
  onConfirm: (reason: string) => Promise<unknown>;
  onOpen?: () => void;
  successToast?: ReactNode | ((result: unknown) => ReactNode);
  size?: ButtonProps["size"];
  variant?: ButtonProps["variant"];
}) {
  const [opened, setOpened] = useState(false);
  return (
    <>
      <Button
        size={size}
        variant={variant ?? (danger ? "light" : "default")}
        color={danger ? "red" : undefined}
        disabled={disabled}
        aria-label={ariaLabel}
        onClick={() => {
          onOpen?.();
          setOpened(true);
        }}
      >
        {label}
      </Button>
      <ConfirmDialog
        opened={opened}
        onClose={() => setOpened(false)}
        title={title}
        confirmLabel={confirmLabel}
        pendingLabel={pendingLabel}
        danger={danger}
        canConfirm={canConfirm}
        reason={reason}
        onConfirm={onConfirm}
        successToast={successToast}
      >
        {children}
      </ConfirmDialog>
    </>
  );
}

// ───────────────────────────── numbers and tables ─────────────────────────────

/** Tones dark enough for WCAG AA (4.5:1) on white: Mantine's green and orange shades are not. */
const TONE_COLOR = { ok: "#1e6b30", warn: "#a84300", bad: "red.9" } as const;

/** A labelled number on the overview (inside a <dl>). */
export function Stat({ label, value, hint, tone }: { label: string; value: ReactNode; hint?: ReactNode; tone?: "ok" | "warn" | "bad" }) {
  return (
    <Paper withBorder p="xs" radius="md" className={`stat${tone ? ` stat-${tone}` : ""}`}>
      <Text component="dt" size="xs" c="dimmed" tt="capitalize" fw={600}>
        {label}
      </Text>
      <Text component="dd" m={0} fw={700} size="lg" c={tone ? TONE_COLOR[tone] : undefined}>
        {value}
        {hint && (
          <Text component="small" size="xs" c="dimmed" fw={400}>
            {" "}
            {hint}
          </Text>
        )}
      </Text>
    </Paper>
  );
}

/**
 * A table that scrolls sideways inside its panel when the screen is narrower than its columns
 * (tablets), instead of widening the page. Children are Mantine Table parts (Table.Thead, …).
 */
export function TableFrame({ label, minWidth = 720, children }: { label: string; minWidth?: number; children: ReactNode }) {
  return (
    <Table.ScrollContainer minWidth={minWidth} type="native">
      <Table aria-label={label} striped highlightOnHover verticalSpacing="xs" fz="sm">
        {children}
      </Table>
    </Table.ScrollContainer>
  );
}

export { LiveIndicator } from "./live";

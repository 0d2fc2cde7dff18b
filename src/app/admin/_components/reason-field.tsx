"use client";

import { useState } from "react";

/**
 * The reason an operator gives in a confirm dialog: optional, kept in the audit log with the action.
 * `useReason` holds it; reset it when the dialog opens so the last action's reason is not reused.
 */
export function useReason() {
  const [reason, setReason] = useState("");
  return { reason, setReason, value: () => reason.trim() || undefined, reset: () => setReason("") };
}

export function ReasonField({ reason, setReason, label = "Reason (optional, kept in the audit log)" }: { reason: string; setReason: (v: string) => void; label?: string }) {
  return (
    <label>
      {label}
      <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="why are you doing this?" />
    </label>
  );
}

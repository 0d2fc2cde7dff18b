"use client";

import { AttemptsList } from "../../_components/attempts-list";
import type { AdminOutputs } from "../../_components/types";

type Delivery = AdminOutputs["outbox"]["get"]["deliveryAttempts"][number];

/** Every delivery attempt of the event, per consumer, newest first (a `duplicate` is one the inbox had already taken). */
export function DeliveryAttempts({ attempts }: { attempts: Delivery[] }) {
  return (
    <AttemptsList
      title="Delivery attempts"
      headingId="ev-attempts"
      attempts={attempts}
      what={[{ header: "Consumer", cell: (a) => a.consumer }]}
      rowKey={(a) => a.id}
      empty="No consumer has run on this event yet."
    />
  );
}

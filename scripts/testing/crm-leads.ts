/**
 * The CRM delivery tests' leads: a form submission (or partial lead) put through the real drain, and waits on its
 * delivery status per destination. `db` is read at each call (the tests connect in `beforeAll`).
 */
import type { Db } from "mongodb";
import { expect } from "vitest";
import type { QueueMessage, TrackerEvent } from "#contracts";
import { DELIVERY_STATUS, type DeliveryStatusDocument } from "../../backend-consumer/src/crm/worker.ts";
import { processBatch } from "../../backend-consumer/src/drain/process-batch.ts";
import type { LeadDocument } from "../../backend-consumer/src/store/leads.ts";
import { COLLECTIONS } from "../../backend-consumer/src/store/mongo.ts";
import { eventually } from "./mongo.ts";

export function crmLeads(db: () => Db) {
  let seq = 0;
  /** A form submission (or partial lead) on `siteId` with `fieldsIn` (an email among them), through the drain. */
  async function submit(siteId: string, fieldsIn: Record<string, string>, opts: { visitor?: string; type?: "form_submission" | "form_interaction" } = {}): Promise<LeadDocument> {
    const visitor = opts.visitor ?? `v-${++seq}`;
    const event: TrackerEvent = {
      id: crypto.randomUUID(),
      type: opts.type ?? "form_submission",
      ts: Date.now(),
      sessionId: `s-${visitor}`,
      visitorId: visitor,
      page: { url: "https://shop.example/contact", path: "/contact" },
      form: { formId: "contact", fields: fieldsIn },
    };
    const message: QueueMessage = { v: 1, siteId, receivedAt: Date.now(), geo: {}, ip: null, ua: null, events: [event] };
    const [outcome] = await processBatch([{ id: crypto.randomUUID(), body: message, attempts: 1 }], { db: db() });
    expect(outcome).toMatchObject({ action: "ack" });
    return (await db().collection<LeadDocument>(COLLECTIONS.leads).findOne({ siteId, email: fieldsIn.email!.toLowerCase() }))!;
  }
  const statusOf = (leadId: string, destinationId: string) => db().collection<DeliveryStatusDocument>(DELIVERY_STATUS).findOne({ _id: `${leadId}|${destinationId}` });
  /** The lead's status at the destination once `ok` holds (20 s at most). */
  const statusWhere = (leadId: string, destinationId: string, ok: (s: DeliveryStatusDocument) => boolean, what: string) =>
    eventually(async () => {
      const s = await statusOf(leadId, destinationId);
      return s && ok(s) ? s : undefined;
    }, 20_000, what);
  /** Delivered (at least `version`, when given). */
  const deliveredTo = (leadId: string, destinationId: string, version?: number) =>
    statusWhere(leadId, destinationId, (s) => s.status === "delivered" && (version === undefined || s.done >= version), `lead ${leadId} delivered to ${destinationId}`);
  return { submit, statusOf, statusWhere, deliveredTo };
}

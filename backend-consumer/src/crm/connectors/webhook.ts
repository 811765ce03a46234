/**
 * A generic webhook, signed per the Standard Webhooks specification (the `standardwebhooks` package signs):
 * `webhook-id` (stable per lead version: a receiver deduplicates by it), `webhook-timestamp`, `webhook-signature`.
 * Body: `{ type, timestamp, data: { lead, contact } }` with type lead.created, lead.updated or lead.deleted. The lead
 * carries every captured field; `contact` the mapped fields.
 *
 * Erasure (privacy): `lead.deleted` with `data: { lead: { id, deleted: true, erased: true } }` and nothing else (no
 * email, no contact), `webhook-id` `<lead id>.erased`; the receiver is to forget every delivery of that lead id.
 */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import type { LeadDocument } from "../../store/leads.ts";
import { erasureFailureOf, erasureNetworkFailure, failureOf, networkFailure, timedFetch, type Connector, type DeliveryItem, type DestinationContext, type ErasureItem } from "./types.ts";

function leadBody(lead: LeadDocument) {
  return {
    id: lead._id,
    siteId: lead.siteId,
    email: lead.email,
    firstName: lead.firstName ?? null,
    lastName: lead.lastName ?? null,
    phone: lead.phone ?? null,
    company: lead.company ?? null,
    status: lead.statusOverride?.status ?? lead.status,
    quality: lead.quality,
    fields: lead.fields ?? {},
    formIds: lead.formIds ?? [],
    utm: lead.utm ?? null,
    referrer: lead.referrer ?? null,
    landingPage: lead.landingPage ?? null,
    createdAt: lead.createdAt.toISOString(),
    updatedAt: lead.updatedAt.toISOString(),
  };
}

export function webhookBody(item: DeliveryItem, at: Date): string {
  return JSON.stringify({
    type: item.type,
    timestamp: at.toISOString(),
    data: item.lead ? { lead: { ...leadBody(item.lead), version: item.version }, contact: item.contact } : { lead: { id: item.leadId, email: item.contact.email ?? null, deleted: true } },
  });
}

/** The erasure's payload: the lead id and the flags, no personal data. */
export function erasureBody(item: ErasureItem, at: Date): string {
  return JSON.stringify({ type: "lead.deleted", timestamp: at.toISOString(), data: { lead: { id: item.leadId, deleted: true, erased: true } } });
}

/** The Standard Webhooks headers of one message (signing throws on a bad secret, before anything is sent). */
function signed(destination: DestinationContext, id: string, body: string, at: Date): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(destination.secret!).sign(id, at, body),
    "user-agent": "lead-tracker-webhooks/1",
  };
}

/** POSTs one signed message; the answer's body is read and dropped. */
async function post(destination: DestinationContext, headers: Record<string, string>, body: string): Promise<Response> {
  const res = await timedFetch(destination.fetch, String(destination.config.url), { method: "POST", headers, body }, destination.timeoutMs);
  await res.arrayBuffer().catch(() => undefined);
  return res;
}

export const connector: Connector = {
  kind: "webhook",
  label: "Webhook (Standard Webhooks)",
  configSchema: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).max(2000).describe("Where lead events are POSTed."),
    maxPerSecond: z.number().int().min(1).max(10_000).default(50).describe("Requests per second the receiver takes."),
  }),
  secret: {
    required: true,
    describe: "Signing secret, whsec_ followed by base64 (24–64 random bytes); generated when omitted and shown once.",
    validate: (s) => (/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/.test(s) ? null : "expected whsec_ followed by base64 of 24–64 bytes"),
    generate: () => `whsec_${randomBytes(32).toString("base64")}`,
  },
  maxBatch: 1,
  // receivers are ours to protect: a steady pace, not a flood
  rateLimit: { requests: 50, windowMs: 1000 },
  sendsDeletes: true,
  async deliver([item], destination) {
    const at = new Date();
    const body = webhookBody(item!, at);
    const headers = signed(destination, item!.deliveryId, body, at);
    try {
      const res = await post(destination, headers, body);
      if (res.ok) return [{ ok: true }];
      return [failureOf(res, "from the webhook receiver")];
    } catch (err) {
      return [networkFailure(err)];
    }
  },
  erasure: {
    needsExternalId: false,
    // every webhook destination of the site is told, whether or not it had the lead: the message holds no personal
    // data, and a receiver may hold a delivery whose outcome was never recorded (a crash between send and record)
    always: true,
    async erase(item, destination) {
      const at = new Date();
      const body = erasureBody(item, at);
      // a secret that cannot sign throws: the worker retries with a generic error
      const headers = signed(destination, item.deliveryId, body, at);
      try {
        const res = await post(destination, headers, body);
        return res.ok ? { ok: true } : erasureFailureOf(res);
      } catch (err) {
        return erasureNetworkFailure(err);
      }
    },
  },
};

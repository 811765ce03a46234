/**
 * HubSpot contacts, upserted in batches by email (CRM v3 `POST /crm/v3/objects/contacts/batch/upsert`, at most 100
 * inputs a call) with a private app's access token. Product contact fields become HubSpot's default contact
 * properties; `custom.<key>` becomes the property `<key>` (create it in HubSpot first: HubSpot refuses unknown ones).
 * Rate limit: private apps get 100 requests per 10 seconds (the lowest tier's), so deliveries keep under it.
 *
 * Erasure (privacy): the GDPR delete, `POST /crm/v3/objects/contacts/gdpr-delete` with `{ objectId: <contact id> }`
 * (the id the upsert answered, kept in delivery_status), which permanently deletes the contact and its associated
 * content; 204 No Content when done, 404 when the contact is already gone (counted as done).
 */
import { z } from "zod";
import { erasureFailureOf, erasureNetworkFailure, failureOf, networkFailure, timedFetch, type Connector, type ErasureResult, type ItemResult } from "./types.ts";
import { crmFields } from "../mapping.ts";

const PROPERTY_OF: Record<string, string> = {
  email: "email",
  firstName: "firstname",
  lastName: "lastname",
  phone: "phone",
  company: "company",
  website: "website",
  address: "address",
  city: "city",
  state: "state",
  postalCode: "zip",
  country: "country",
  notes: "message",
};

export function hubspotProperties(contact: Record<string, string>): Record<string, string> {
  // HubSpot has no full-name property: a name without first/last parts fills them
  return crmFields(contact, PROPERTY_OF, { first: "firstname", last: "lastname", single: "first" });
}

interface UpsertAnswer {
  results?: { id: string; properties?: { email?: string } }[];
  errors?: { message?: string; context?: { ids?: string[] } }[];
  message?: string;
}

export const connector: Connector = {
  kind: "hubspot",
  label: "HubSpot contacts",
  configSchema: z.strictObject({
    baseUrl: z.url({ protocol: /^https?$/ }).default("https://api.hubapi.com").describe("HubSpot's API (change only for a local stand-in)."),
  }),
  secret: {
    required: true,
    describe: "A private app's access token (pat-...) with crm.objects.contacts.write.",
    validate: (s) => (/^pat-[a-z0-9]+-[A-Za-z0-9-]{8,}$/.test(s) ? null : "expected a private app token (pat-<region>-...)"),
  },
  maxBatch: 100,
  rateLimit: { requests: 100, windowMs: 10_000 },
  sendsDeletes: false,
  async deliver(items, destination) {
    const inputs = items.map((item) => ({ idProperty: "email", id: item.contact.email!, properties: hubspotProperties(item.contact) }));
    let res: Response;
    try {
      res = await timedFetch(
        destination.fetch,
        `${String(destination.config.baseUrl).replace(/\/+$/, "")}/crm/v3/objects/contacts/batch/upsert`,
        { method: "POST", headers: { authorization: `Bearer ${destination.secret}`, "content-type": "application/json" }, body: JSON.stringify({ inputs }) },
        destination.timeoutMs,
      );
    } catch (err) {
      return items.map(() => networkFailure(err));
    }
    const answer = (await res.json().catch(() => ({}))) as UpsertAnswer;
    if (!res.ok && res.status !== 207) {
      const failure = failureOf(res, answer.message ?? "");
      return items.map(() => failure);
    }
    const idOf = new Map((answer.results ?? []).map((r) => [String(r.properties?.email ?? "").toLowerCase(), r.id]));
    const errorOf = new Map<string, string>();
    for (const e of answer.errors ?? []) for (const id of e.context?.ids ?? []) errorOf.set(id.toLowerCase(), e.message ?? "refused");
    return items.map((item): ItemResult => {
      const email = item.contact.email!.toLowerCase();
      const id = idOf.get(email);
      if (id) return { ok: true, externalId: id };
      return { ok: false, error: `HubSpot: ${errorOf.get(email) ?? "not in the answer"}`.slice(0, 500), retryable: false };
    });
  },
  erasure: {
    needsExternalId: true,
    always: false,
    async erase(item, destination): Promise<ErasureResult> {
      if (!item.externalId) return { ok: false, reason: "unexpected", status: null, retryable: false };
      let res: Response;
      try {
        res = await timedFetch(
          destination.fetch,
          `${String(destination.config.baseUrl).replace(/\/+$/, "")}/crm/v3/objects/contacts/gdpr-delete`,
          { method: "POST", headers: { authorization: `Bearer ${destination.secret}`, "content-type": "application/json", accept: "application/json" }, body: JSON.stringify({ objectId: item.externalId }) },
          destination.timeoutMs,
        );
        // the answer is not kept: an error body may name the contact
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        return erasureNetworkFailure(err);
      }
      if (res.ok) return { ok: true };
      if (res.status === 404) return { ok: true, gone: true };
      return erasureFailureOf(res);
    },
  },
};

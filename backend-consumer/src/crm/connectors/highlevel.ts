/**
 * HighLevel (LeadConnector) contacts: `POST /contacts/upsert` (API v2, `Version: 2021-07-28`) into the location,
 * with the location's OAuth access token from the marketplace app's install (crm/connections.ts refreshes it before
 * it expires, and once after a 401). Product contact fields become HighLevel's contact fields; `custom.<key>`
 * becomes a custom field by key. Rate limit: HighLevel allows a burst of 100 requests per 10 seconds per location.
 */
import { z } from "zod";
import { failureOf, networkFailure, timedFetch, type Connector, type DeliveryItem, type DestinationContext, type ItemResult } from "./types.ts";

export const HIGHLEVEL_API_VERSION = "2021-07-28";

const FIELD_OF: Record<string, string> = {
  email: "email",
  firstName: "firstName",
  lastName: "lastName",
  name: "name",
  phone: "phone",
  company: "companyName",
  website: "website",
  address: "address1",
  city: "city",
  state: "state",
  postalCode: "postalCode",
  country: "country",
  source: "source",
};

export function highLevelContact(contact: Record<string, string>, locationId: string): Record<string, unknown> {
  const body: Record<string, unknown> = { locationId, source: "Lead Tracker" };
  const customFields: { key: string; field_value: string }[] = [];
  for (const [field, value] of Object.entries(contact)) {
    if (field.startsWith("custom.")) customFields.push({ key: field.slice("custom.".length), field_value: value });
    else if (FIELD_OF[field]) body[FIELD_OF[field]] = value;
  }
  if (customFields.length) body.customFields = customFields;
  return body;
}

async function upsert(item: DeliveryItem, destination: DestinationContext, forceRefresh: boolean): Promise<{ res: Response; answer: Record<string, unknown> } | ItemResult> {
  const auth = await destination.connections?.accessToken("highlevel", destination.locationId, { forceRefresh });
  if (!auth) return { ok: false, error: "HighLevel is not connected for this location (install the app from the location)", retryable: true, retryAfterMs: 60_000 };
  const res = await timedFetch(
    destination.fetch,
    `${String(destination.config.baseUrl).replace(/\/+$/, "")}/contacts/upsert`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${auth.token}`, version: HIGHLEVEL_API_VERSION, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(highLevelContact(item.contact, auth.externalLocationId)),
    },
    destination.timeoutMs,
  );
  return { res, answer: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

export const connector: Connector = {
  kind: "highlevel",
  label: "HighLevel contacts",
  configSchema: z.strictObject({
    baseUrl: z.url({ protocol: /^https?$/ }).default("https://services.leadconnectorhq.com").describe("HighLevel's API (change only for a local stand-in)."),
  }),
  secret: { required: false, describe: "None: the location's OAuth connection (the app's install) is used." },
  maxBatch: 1,
  rateLimit: { requests: 100, windowMs: 10_000 },
  sendsDeletes: false,
  async deliver([item], destination) {
    try {
      let out = await upsert(item!, destination, false);
      // an access token can die early (revoked, rotated elsewhere): refresh once and try again
      if ("res" in out && out.res.status === 401) out = await upsert(item!, destination, true);
      if (!("res" in out)) return [out];
      const { res, answer } = out;
      if (res.ok) {
        const id = (answer.contact as { id?: string } | undefined)?.id;
        return [id ? { ok: true, externalId: id } : { ok: false, error: "HighLevel answered without a contact id", retryable: true }];
      }
      return [failureOf(res, String(answer.message ?? ""))];
    } catch (err) {
      return [networkFailure(err)];
    }
  },
};

/**
 * HighLevel (LeadConnector) contacts: `POST /contacts/upsert` (API v2, `Version: 2021-07-28`) into the location,
 * with the location's OAuth access token from the marketplace app's install (crm/connections.ts refreshes it before
 * it expires, and once after a 401). Product contact fields become HighLevel's contact fields; `custom.<key>`
 * becomes a custom field by key. Rate limit: HighLevel allows a burst of 100 requests per 10 seconds per location.
 *
 * Erasure (privacy): `DELETE /contacts/:contactId` (Delete Contact, `Version: 2021-07-28`, answers 200
 * `{ succeded: true }`) with the location's token, refreshed once after a 401 as upserts are. A contact already gone
 * counts as done: 404, or a 400 whose message says the contact was not found (the documented error DTOs list 400,
 * 401 and 422 only, so both are read).
 */
import { z } from "zod";
import {
  erasureFailureOf,
  erasureNetworkFailure,
  failureOf,
  networkFailure,
  timedFetch,
  type Connector,
  type DeliveryItem,
  type DestinationContext,
  type ErasureResult,
  type ItemResult,
} from "./types.ts";

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
  if (!auth) return { ok: false, error: NOT_CONNECTED, retryable: true, retryAfterMs: 60_000 };
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

const NOT_CONNECTED = "HighLevel is not connected for this location (install the app from the location)";

/** A 400 that says the contact does not exist (read, never kept). */
export const CONTACT_NOT_FOUND = /contact\b.{0,40}\bnot found|not found.{0,40}\bcontact/i;

async function remove(contactId: string, destination: DestinationContext, forceRefresh: boolean): Promise<Response | null> {
  const auth = await destination.connections?.accessToken("highlevel", destination.locationId, { forceRefresh });
  if (!auth) return null;
  return timedFetch(
    destination.fetch,
    `${String(destination.config.baseUrl).replace(/\/+$/, "")}/contacts/${encodeURIComponent(contactId)}`,
    { method: "DELETE", headers: { authorization: `Bearer ${auth.token}`, version: HIGHLEVEL_API_VERSION, accept: "application/json" } },
    destination.timeoutMs,
  );
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
  erasure: {
    needsExternalId: true,
    always: false,
    async erase(item, destination): Promise<ErasureResult> {
      if (!item.externalId) return { ok: false, reason: "unexpected", status: null, retryable: false };
      try {
        let res = await remove(item.externalId, destination, false);
        if (res?.status === 401) {
          await res.arrayBuffer().catch(() => undefined);
          res = await remove(item.externalId, destination, true);
        }
        if (!res) return { ok: false, reason: "not_connected", status: null, retryable: true, retryAfterMs: 60_000 };
        // read to tell "not found" apart; never kept (an error body may name the contact)
        const answer = (await res.json().catch(() => ({}))) as { message?: unknown; succeded?: unknown };
        if (res.ok) return answer.succeded === false ? { ok: false, reason: "http", status: res.status, retryable: true } : { ok: true };
        const message = Array.isArray(answer.message) ? answer.message.join(" ") : String(answer.message ?? "");
        if (res.status === 404 || (res.status === 400 && CONTACT_NOT_FOUND.test(message))) return { ok: true, gone: true };
        return erasureFailureOf(res);
      } catch (err) {
        return erasureNetworkFailure(err);
      }
    },
  },
};

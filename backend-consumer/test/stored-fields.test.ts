/**
 * Keeps README "What the backend stores" true: every event type the SDK sends goes through the real drain (and the
 * visit finalizer, the CRM delivery worker, the retention sweep), then every stored document is walked. A field the
 * table does not list fails the test, and so does a value a visitor typed or a site's code sent (a marker planted in
 * form fields, traits, properties, user ids and the email) found anywhere but in the "free-form" column of its row.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { EVENT_TYPES, type ActivityQueueMessage, type Actor, type QueueMessage, type TrackerEvent } from "#contracts";
import type { Connector, ItemResult } from "../src/crm/connectors/types.ts";
import type { DestinationDirectory } from "../src/crm/directory.ts";
import { enqueueDeletedLead, LEAD_OUTBOX } from "../src/crm/outbox.ts";
import { DeliveryWorker } from "../src/crm/worker.ts";
import { processBatch } from "../src/drain/process-batch.ts";
import { startRetentionSweep } from "../src/privacy/retention.ts";
import { finalizeVisits } from "../src/rollups/finalizer.ts";
import { COLLECTIONS, ensureIndexes } from "../src/store/mongo.ts";
import { ROOT } from "../../scripts/lib/paths.ts";
import { testMongo } from "../../scripts/testing/mongo.ts";

interface Row {
  collection: string;
  /** Event types the row holds for; empty: every document of the collection. */
  types: string[];
  fields: string[];
  freeForm: string[];
  line: string;
}

const SECTION = "## What the backend stores";

/** The table of the README section: backticked names in the first three columns. */
function parseStoredFieldsTable(readme: string): Row[] {
  const start = readme.indexOf(`${SECTION}\n`);
  if (start < 0) throw new Error(`README has no section "${SECTION}"`);
  const end = readme.indexOf("\n## ", start + SECTION.length);
  const lines = readme.slice(start, end < 0 ? undefined : end).split("\n").filter((l) => l.startsWith("|"));
  const ticks = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const rows: Row[] = [];
  for (const line of lines.slice(2)) {
    const cells = line.split("|").slice(1, -1);
    if (cells.length !== 5) throw new Error(`a row of the stored-fields table does not have 5 cells: ${line}`);
    const [collection, ...types] = ticks(cells[0]!);
    if (!collection) throw new Error(`a row names no collection: ${line}`);
    rows.push({ collection, types, fields: ticks(cells[1]!), freeForm: ticks(cells[2]!), line });
  }
  return rows;
}

/** Whether `pattern` (`a.b`, `a[].b`, `a.*`) covers the leaf `path`. */
function covers(pattern: string, path: string): boolean {
  if (pattern.endsWith(".*")) {
    const base = pattern.slice(0, -2);
    return path === base || path.startsWith(`${base}.`) || path.startsWith(`${base}[]`);
  }
  return path === pattern || path === `${pattern}[]`;
}
/** An empty object or array at `path` is covered by any pattern at or below it. */
const coversEmpty = (pattern: string, path: string): boolean => covers(pattern, path) || pattern.startsWith(`${path}.`) || pattern.startsWith(`${path}[]`);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** Every leaf of a document: its path (`a.b`, `a[].b`), the value, and whether it is an empty container. */
function leaves(value: unknown, path = "", out: { path: string; value: unknown; empty: boolean }[] = []) {
  if (Array.isArray(value)) {
    if (value.length === 0) out.push({ path, value, empty: true });
    for (const item of value) leaves(item, `${path}[]`, out);
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && path) out.push({ path, value, empty: true });
    for (const key of keys) leaves(value[key], path ? `${path}.${key}` : key, out);
  } else out.push({ path, value, empty: false });
  return out;
}

let mongo: Awaited<ReturnType<typeof testMongo>>;
const rows = parseStoredFieldsTable(readFileSync(join(ROOT, "README.md"), "utf8"));
/** Planted in everything a visitor types or a site's code sends: found elsewhere, it leaked. */
const MARK = `mark${crypto.randomUUID().slice(0, 8)}`;
const EMAIL = `ada.${MARK}@example.com`;
const T0 = Date.now() - 2 * 3_600_000;
const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const SITE = "site-fields";

let seq = 0;
/** An event as the SDK builds it (tracker-sdk/src/events.ts): page, consent and user id on every one. */
function sdkEvent(type: TrackerEvent["type"], over: Partial<TrackerEvent> = {}, visitor = "v1"): TrackerEvent {
  return {
    id: crypto.randomUUID(),
    type,
    ts: T0 + seq++ * 1000,
    sessionId: `s-${visitor}`,
    visitorId: visitor,
    page: { url: "https://shop.example/contact?ref=mail", path: "/contact", title: "Contact us" },
    consent: "granted",
    ...over,
  };
}
const message = (events: TrackerEvent[]): QueueMessage => ({
  v: 1,
  siteId: SITE,
  retentionDays: 30,
  timezone: "Europe/Berlin",
  receivedAt: T0 + seq * 1000,
  geo: { country: "DE", region: "BE", city: "Berlin", timezone: "Europe/Berlin", asn: 3320 },
  ip: "203.0.113.0",
  ua: UA,
  events,
});

/** Every event type the SDK sends, shaped as it sends them, for a visitor `v1` and a second visitor `v2`. */
function sdkTraffic(): QueueMessage[] {
  const touch = { utm: { source: "newsletter", medium: "email", campaign: "spring" }, clickIds: { gclid: "g-1" }, referrer: "https://mail.example/", landingPage: "https://shop.example/?utm_source=newsletter", ts: T0 };
  const referrer = "https://mail.example/";
  const form = (fields: Record<string, string>, extra: object) => ({ formId: "contact", name: "Contact", fields, ...extra });
  const userId = `user-${MARK}`;
  return [
    message([
      sdkEvent("session_start", { attribution: { ...touch, firstTouch: touch } }),
      sdkEvent("page_view", { page: { url: "https://shop.example/", path: "/", title: "Shop", referrer } }),
      sdkEvent("engagement", { page: { url: "https://shop.example/", path: "/", title: "Shop", referrer }, props: { engagedMs: 5200 } }),
      sdkEvent("track", { name: "pricing_opened", props: { plan: `pro-${MARK}`, seats: 5, nested: { note: MARK } } }),
      sdkEvent("form_interaction", { form: form({ email: EMAIL, message: `hello ${MARK}` }, { trigger: "change", progress: { completed: ["email", "message"], total: 4, percent: 50 } }) }),
    ]),
    message([
      sdkEvent("form_submission", { form: form({ email: EMAIL, name: `Ada ${MARK}`, phone: `+49 30 ${MARK}`, company: `Analytical ${MARK}`, message: `hello ${MARK}` }, { trigger: "submit", progress: { completed: ["email", "name", "phone", "company"], total: 4, percent: 100 } }) }),
      // identify(email, traits): the email into the traits; identify(id): the user id of this and later events
      sdkEvent("identify", { traits: { email: EMAIL, plan: `plan-${MARK}` } }),
      sdkEvent("identify", { userId, traits: { role: `cto-${MARK}` } }),
      sdkEvent("page_view", { userId, page: { url: "https://shop.example/thanks", path: "/thanks", title: "Thanks", referrer: "https://shop.example/contact" } }),
      // a device clock far off: the edge (or the drain) corrects ts and keeps the device's time as clientTs
      sdkEvent("track", { userId, name: "clock_check", ts: 8.7e15 }),
    ]),
    // another visitor with the same email and other values: conflicts on the lead
    message([
      sdkEvent("session_start", { attribution: touch }, "v2"),
      sdkEvent("form_submission", { form: form({ email: EMAIL, name: `Eve ${MARK}`, company: `Other ${MARK}` }, { trigger: "submit" }) }, "v2"),
    ]),
  ];
}

/** Activity messages as the edge makes them (the actor from the verified token): a view and its active time each. */
function activityTraffic(): ActivityQueueMessage[] {
  const now = Date.now();
  const one = (actor: Actor, path: string, page: string): ActivityQueueMessage => ({
    v: 1,
    kind: "activity",
    receivedAt: now,
    actor,
    events: [
      { type: "view", id: crypto.randomUUID(), ts: now - 5000, session: "as-1", view: `w-${page}`, path, page },
      { type: "time", id: crypto.randomUUID(), ts: now - 1000, session: "as-1", view: `w-${page}`, path, page, ms: 4000 },
    ],
  });
  return [
    one({ userId: "u-loc", tenantId: "t", locationId: "l", role: "location", timezone: "UTC", retentionDays: 90 }, "/v2/location/:locationId/contacts/detail/:id", "Contacts"),
    one({ userId: "u-agency", tenantId: "t", locationId: null, role: "agency", timezone: "UTC", retentionDays: 90 }, "/agency_dashboard", "Agency dashboard"),
  ];
}

/** Documents by collection, as walked; snapshots of collections whose documents come and go are added on the way. */
const walked = new Map<string, Record<string, unknown>[]>();
const snapshot = async (name: string) => walked.set(name, [...(walked.get(name) ?? []), ...(await mongo.db.collection(name).find({}).toArray())]);

beforeAll(async () => {
  mongo = await testMongo("fields");
  await ensureIndexes(mongo.db);
  let id = 0;
  const outcomes = await processBatch(
    [
      ...sdkTraffic().map((body) => ({ id: `m${id++}`, body, attempts: 1 })),
      // team activity from the CRM's Custom JS: a location user in a location, an agency user on agency pages
      ...activityTraffic().map((body) => ({ id: `m${id++}`, body, attempts: 1 })),
      // a message that cannot be read: a dead letter, body as it came
      { id: `m${id++}`, body: `{"v":1,"siteId":"${SITE}","events":[{"note":"${MARK}"`, attempts: 1 },
    ],
    { db: mongo.db },
  );
  expect(outcomes.filter((o) => o.action === "ack" && "deadLettered" in o && o.deadLettered)).toHaveLength(1);
  expect(outcomes.every((o) => o.action === "ack")).toBe(true);
  // the outbox as the drain left it, and an entry for a deleted lead (what DELETE /v1/leads/:id queues)
  await snapshot(LEAD_OUTBOX);
  const lead = await mongo.db.collection<{ _id: string; siteId: string; email: string; v?: number }>(COLLECTIONS.leads).findOne({ email: EMAIL });
  await enqueueDeletedLead(mongo.db, { ...lead!, _id: `${lead!._id}-deleted` });
  await snapshot(LEAD_OUTBOX);
  // CRM delivery: one destination delivered, one refusing with an error text that quotes the contact
  const connector = (kind: string, result: (email: string) => ItemResult): Connector => ({
    kind,
    label: kind,
    configSchema: z.object({}),
    secret: { required: false, describe: "none" },
    maxBatch: 10,
    rateLimit: { requests: 1000, windowMs: 1000 },
    sendsDeletes: false,
    deliver: async (items) => items.map((i) => result(i.lead?.email ?? "")),
  });
  const destinations = [
    { id: "d-ok", tenantId: "t", kind: "ok", name: "CRM", sendPartial: true, config: {}, secret: null, connector: connector("ok", () => ({ ok: true, externalId: "contact-1" })) },
    { id: "d-no", tenantId: "t", kind: "no", name: "Picky CRM", sendPartial: true, config: {}, secret: null, connector: connector("no", (email) => ({ ok: false, error: `400 contact ${email} exists`, retryable: false })) },
  ];
  const directory = { forSite: async (siteId: string) => ({ siteId, tenantId: "t", locationId: "l", destinations, mappings: [] }), invalidate() {} } as unknown as DestinationDirectory;
  const worker = new DeliveryWorker({ db: mongo.db, directory }, { parallelRounds: 1 });
  for (let i = 0; i < 10 && (await mongo.db.collection(LEAD_OUTBOX).countDocuments({ deleted: { $exists: false } })) > 0; i++) await worker.tick();
  // visits counted (visit rollups, a finalizer run); the retention sweep's state
  expect((await finalizeVisits({ db: mongo.db, now: () => Date.now() + 3_600_000 })).visits).toBe(2);
  const sweeper = startRetentionSweep({ db: mongo.db, initialDelayMs: 3_600_000 });
  expect(await sweeper.runOnce()).toBe(true);
  await sweeper.stop();
  for (const c of await mongo.db.listCollections({}, { nameOnly: true }).toArray()) if (c.name !== LEAD_OUTBOX) await snapshot(c.name);
});
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe("README: what the backend stores", () => {
  it("the table parses, and its rows name real event types", () => {
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      for (const t of row.types) expect(EVENT_TYPES as readonly string[], row.line).toContain(t);
      if (row.types.length) expect(row.collection, row.line).toBe(COLLECTIONS.events);
      expect(row.fields.length + row.freeForm.length, row.line).toBeGreaterThan(0);
    }
  });

  it("the traffic covers every event type of the contract, and every kind of document was made", () => {
    const types = new Set(walked.get(COLLECTIONS.events)!.map((e) => e.type));
    expect([...types].sort()).toEqual([...EVENT_TYPES].sort());
    for (const name of [...Object.values(COLLECTIONS), LEAD_OUTBOX, "delivery_status", "site_activity", "retention_state"]) {
      expect(walked.get(name)?.length ?? 0, name).toBeGreaterThan(0);
    }
    // the documents carry what the table promises to explain (the lead's conflicts, a corrected time, a refusal)
    expect(walked.get(COLLECTIONS.leads)!.some((l) => (l.conflicts as unknown[]).length > 0)).toBe(true);
    expect(walked.get(COLLECTIONS.events)!.some((e) => e.clientTs !== undefined)).toBe(true);
    expect(walked.get("delivery_status")!.some((s) => typeof s.lastError === "string")).toBe(true);
  });

  it("every collection in the database has a row", () => {
    const documented = new Set(rows.map((r) => r.collection));
    expect([...walked.keys()].filter((name) => !documented.has(name))).toEqual([]);
  });

  it("every stored field is listed in its row, and typed or site-sent values appear only in free-form fields", () => {
    const unlisted = new Set<string>();
    const leaked = new Set<string>();
    for (const [collection, docs] of walked) {
      const ofCollection = rows.filter((r) => r.collection === collection);
      for (const doc of docs) {
        const applicable = ofCollection.filter((r) => r.types.length === 0 || r.types.includes(String(doc.type)));
        const listed = applicable.flatMap((r) => [...r.fields, ...r.freeForm]);
        const freeForm = applicable.flatMap((r) => r.freeForm);
        const where = collection === COLLECTIONS.events ? `${collection} (${String(doc.type)})` : collection;
        for (const leaf of leaves(doc)) {
          const test = leaf.empty ? coversEmpty : covers;
          if (!listed.some((p) => test(p, leaf.path))) unlisted.add(`${where}: ${leaf.path}`);
          if (typeof leaf.value === "string" && leaf.value.includes(MARK) && !freeForm.some((p) => covers(p, leaf.path))) leaked.add(`${where}: ${leaf.path}`);
        }
      }
    }
    expect([...unlisted].sort(), "stored fields the README table does not list").toEqual([]);
    expect([...leaked].sort(), "typed or site-sent values outside the free-form column").toEqual([]);
  });

  it("free-form data of one event type is not allowed on another: the check is per type", () => {
    // the table itself: props only on track and engagement, traits only on identify, form fields only on forms
    const allowedOn = (pattern: string) =>
      rows
        .filter((r) => r.collection === COLLECTIONS.events && [...r.fields, ...r.freeForm].some((p) => covers(p, pattern)))
        .map((r) => (r.types.length ? r.types : ["every type"]))
        .flat()
        .sort();
    expect(allowedOn("traits.plan")).toEqual(["identify"]);
    expect(allowedOn("form.fields.email")).toEqual(["form_interaction", "form_submission"]);
    expect(allowedOn("props.plan")).toEqual(["track"]);
    expect(allowedOn("props.engagedMs")).toEqual(["engagement", "track"]);
    expect(allowedOn("attribution.utm.source")).toEqual(["session_start"]);
  });
});

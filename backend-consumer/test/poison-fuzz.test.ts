/**
 * The poison fuzz, on the whole local stack (edge Worker on miniflare → local queue → dev sidecar → backend drain →
 * MongoDB): 10,000 valid events for two tenants' sites, with every kind of poison mixed into the same requests, and
 * more poison put straight on the queue (past the edge, as an older Worker or a bug might let it through), mixed
 * into the same queue batches as valid messages. Every valid event must be stored exactly once; every poison event
 * refused at the edge with its reason, or in dead_letters; and poison must cost the drain no retries.
 * Against a real MongoDB: MONGODB_URI=mongodb://... npx vitest run --config vitest.integration.config.ts poison-fuzz
 */
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "#contracts";
import { COLLECTIONS, connectMongo, type Mongo } from "../src/store/mongo.ts";
import { DEMO } from "../../scripts/lib/seed.ts";
import { startStack, type Stack } from "../../scripts/lib/stack.ts";
import { eventually, uniqueDbName } from "../../scripts/testing/mongo.ts";
import { TEST_DATA_DIR, TEST_PORTS } from "../../scripts/testing/ports.ts";
import { prng } from "../../scripts/testing/prng.ts";
import { queueStats } from "../../scripts/testing/stack.ts";

const VALID_EVENTS = Number(process.env.POISON_FUZZ_EVENTS ?? 10_000);
const B_KEY = `poison-b-${crypto.randomUUID().slice(0, 8)}`;
const B = { tenantId: "c0000000-0000-4000-8000-000000000001", locationId: "c0000000-0000-4000-8000-000000000005", siteId: "c0000000-0000-4000-8000-000000000010" };

let stack: Stack;
let mongo: Mongo;
const rand = prng(0x5eed);
const int = (n: number) => Math.floor(rand() * n);

type Ev = Record<string, unknown> & { id: string };
const valid = (i: number): Ev => ({
  id: crypto.randomUUID(),
  type: i % 7 === 0 ? "track" : "page_view",
  ...(i % 7 === 0 ? { name: "clicked", props: { n: i, tags: ["a", { nested: true }] } } : { page: { url: `https://shop.example/p/${i % 40}` } }),
  ts: Date.now(),
  sessionId: `s${i % 300}`,
  visitorId: `v${i % 300}`,
});
function deep(levels: number): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < levels; i++) v = int(2) ? [v] : { d: v };
  return v;
}

/** Poison the edge must refuse, by the reason it must give. */
const EDGE_POISON: [string, () => Record<string, unknown>][] = [
  ["nul_in_key", () => ({ type: "track", name: "x", props: { ["k\u0000" + int(99)]: 1 } })],
  ["too_deep", () => ({ type: "track", name: "x", props: { d: deep(17 + int(3000)) } })],
  ["empty_key", () => ({ type: "form_submission", form: { formId: "f", fields: { "": "x", email: "p@x.io" } } })],
  ["dollar_key", () => ({ type: "identify", traits: { profile: { ["$" + ["set", "inc", "where"][int(3)]]: "x" } } })],
  ["too_large", () => ({ type: "track", name: "x", props: { blob: "z".repeat(33 * 1024) } })],
];

interface Sent {
  validIds: string[];
  absurdIds: Map<string, number>;
  refused: number;
}

async function post(siteKey: string, origin: string | undefined, events: Ev[], poison: Map<number, string>, ip: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${stack.edge.url}/v1/events`, {
      method: "POST",
      body: JSON.stringify({ siteKey, sentAt: Date.now(), events }),
      headers: { "content-type": "text/plain", "cf-connecting-ip": ip, ...(origin ? { origin } : {}) },
    });
    const text = await res.text();
    if ((res.status === 429 || res.status === 503) && attempt < 30) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? 1) * 1000));
      continue;
    }
    expect(res.status, text).toBe(202);
    const answer = JSON.parse(text) as { accepted: number; rejected: { index: number; reason: string }[] };
    expect(Object.fromEntries(answer.rejected.map((r) => [r.index, r.reason]))).toEqual(Object.fromEntries(poison));
    expect(answer.accepted).toBe(events.length - poison.size);
    return;
  }
}

/** Sends `count` valid events to each site's requests, salted with edge poison and absurd client times. */
async function sendThroughEdge(count: number): Promise<Sent> {
  const sent: Sent = { validIds: [], absurdIds: new Map(), refused: 0 };
  const requests: (() => Promise<void>)[] = [];
  let made = 0;
  for (let r = 0; made < count; r++) {
    const events: Ev[] = [];
    const poison = new Map<number, string>();
    const size = Math.min(count - made, 20 + int(5)); // with poison, at most 48 events: under the 50 per request
    for (let i = 0; i < size; i++) {
      if (int(5) === 0) {
        const [reason, make] = EDGE_POISON[int(EDGE_POISON.length)]!;
        // one big one per request, to stay under the 64 KB request limit
        const big = (x: string) => x === "too_large" || x === "too_deep";
        if (big(reason) && [...poison.values()].some(big)) continue;
        poison.set(events.length, reason);
        events.push({ ...valid(made), ...make(), id: crypto.randomUUID() });
      }
      const e = valid(made++);
      if (int(40) === 0) {
        // a device clock at 1970 or in the far future: stored at receipt time, the client's time kept
        e.ts = [1, 8.7e15, 1e12][int(3)]!;
        sent.absurdIds.set(e.id, e.ts as number);
      } else sent.validIds.push(e.id);
      events.push(e);
    }
    sent.refused += poison.size;
    const toB = r % 2 === 1;
    // B's allowlist is empty (any origin), but a browser still sends one
    requests.push(() => post(toB ? B_KEY : "demo-site", toB ? "https://b.example" : stack.demoUrl.replace(/\/$/, ""), events, poison, `198.19.${(r >> 8) & 255}.${r & 255}`));
  }
  let next = 0;
  await Promise.all(Array.from({ length: 6 }, async () => {
    while (next < requests.length) await requests[next++]!();
  }));
  return sent;
}

interface Injected {
  validIds: string[];
  /** Ids of poison events that must end up in dead_letters. */
  deadIds: string[];
  /** Raw bodies that must be in dead_letters as they are. */
  deadBodies: string[];
  /** Events nested past the limit: stored, without what lies below it. */
  truncatedIds: string[];
}

/** Messages the edge would never send, put straight on the queue between valid ones. */
async function injectPastTheEdge(): Promise<Injected> {
  const out: Injected = { validIds: [], deadIds: [], deadBodies: [], truncatedIds: [] };
  const message = (siteId: string, events: Ev[]) => ({ v: 1, siteId, receivedAt: Date.now(), geo: {}, ip: null, ua: "fuzz", events });
  const messages: unknown[] = [];
  for (let i = 0; i < 60; i++) {
    const site = i % 2 ? B.siteId : DEMO.siteId;
    const good = [valid(i), valid(i + 1)];
    out.validIds.push(...good.map((e) => e.id));
    const kind = i % 6;
    if (kind === 0) messages.push(message(site, good));
    else if (kind === 1) {
      const bad = { ...valid(i), props: { ["a\u0000b"]: 1 } };
      out.deadIds.push(bad.id);
      messages.push(message(site, [...good, bad]));
    } else if (kind === 2) {
      const bad = { ...valid(i), type: "identify", traits: { nested: { $set: { admin: true } } } };
      out.deadIds.push(bad.id);
      messages.push(message(site, [good[0]!, bad, good[1]!]));
    } else if (kind === 3) {
      const bad = { ...valid(i), type: "form_submission", form: { formId: "f", fields: { "": "x", email: `e${i}@x.io` } } };
      out.deadIds.push(bad.id);
      messages.push(message(site, [bad, ...good]));
    } else if (kind === 4) {
      const body = `not json ${i} \u0000`;
      out.deadBodies.push(body);
      messages.push(body, message(site, good));
    } else {
      const truncated = { ...valid(i), type: "track", name: "deep", props: { d: deep(400) } };
      out.truncatedIds.push(truncated.id);
      messages.push(message(site, [...good, truncated]));
    }
  }
  const res = await fetch(`${stack.edge.url}/__dev/enqueue`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.internalToken}`, "content-type": "application/json" },
    body: JSON.stringify({ messages }),
  });
  expect(res.status).toBe(200);
  return out;
}

beforeAll(async () => {
  const dbName = uniqueDbName("poisonfuzz");
  stack = await startStack({ dataDir: TEST_DATA_DIR, ports: TEST_PORTS, mongoDb: dbName, mariadbDb: uniqueDbName("poisonfuzz") });
  mongo = await connectMongo(stack.mongo.url, dbName);
  const sql = await mysql.createConnection({ uri: stack.mariadbUrl });
  try {
    await sql.query("INSERT INTO tenants (id, name) VALUES (?, 'Tenant B')", [B.tenantId]);
    await sql.query("INSERT INTO locations (id, tenant_id, name) VALUES (?, ?, 'B')", [B.locationId, B.tenantId]);
    await sql.query("INSERT INTO sites (id, tenant_id, location_id, name, domain, site_key) VALUES (?, ?, ?, 'B', 'b.example', ?)", [B.siteId, B.tenantId, B.locationId, B_KEY]);
  } finally {
    await sql.end();
  }
  await eventually(async () => {
    const res = await fetch(`${stack.edge.url}/v1/config/${B_KEY}`);
    return res.ok && ((await res.json()) as SiteConfig).siteId === B.siteId ? true : undefined;
  }, 10_000, "tenant B's site at the edge");
});

afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
  await stack?.stop();
});

describe("poison fuzz", () => {
  it(`stores all ${VALID_EVENTS} valid events of two tenants exactly once beside every kind of poison`, async () => {
    const started = Date.now();
    const [sent, injected] = await Promise.all([sendThroughEdge(VALID_EVENTS), injectPastTheEdge()]);
    const expectedStored = [...sent.validIds, ...sent.absurdIds.keys(), ...injected.validIds, ...injected.truncatedIds];
    const events = mongo.db.collection(COLLECTIONS.events);
    const letters = mongo.db.collection<{ _id: string; body: string; reason: string }>(COLLECTIONS.deadLetters);
    await eventually(async () => {
      await new Promise((r) => setTimeout(r, 500));
      return (await events.estimatedDocumentCount()) >= expectedStored.length ? true : undefined;
    }, 180_000, `${expectedStored.length} events`);
    const drainMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 3000)); // let any redelivery in flight land before counting

    // every valid event once, nothing else
    expect(await events.countDocuments()).toBe(expectedStored.length);
    const ids = new Set(await events.distinct("eventId"));
    expect(ids.size).toBe(expectedStored.length);
    for (const id of expectedStored) expect(ids.has(id), id).toBe(true);
    expect(await events.countDocuments({ siteId: B.siteId })).toBeGreaterThan(expectedStored.length / 3);

    // absurd client times are stored at receipt time, with the client's kept
    const absurd = await events.find({ eventId: { $in: [...sent.absurdIds.keys()] } }).toArray();
    for (const doc of absurd) {
      expect(doc.clientTs).toBe(sent.absurdIds.get(doc.eventId));
      expect(Math.abs(doc.ts.getTime() - doc.receivedAt.getTime())).toBeLessThan(60_000);
    }
    // what lay below the depth limit is gone, the rest of the event is there
    const truncated = await events.find({ eventId: { $in: injected.truncatedIds } }).toArray();
    expect(truncated).toHaveLength(injected.truncatedIds.length);
    for (const doc of truncated) expect(JSON.stringify(doc.props)).not.toContain("bottom");

    // the poison past the edge is in dead_letters, each kind, as it came
    const dead = await letters.find({}).toArray();
    const deadText = dead.map((d) => d.body).join("\n");
    for (const id of injected.deadIds) expect(deadText).toContain(id);
    for (const body of injected.deadBodies) expect(dead.some((d) => d.body === body && d.reason === "malformed")).toBe(true);
    expect(dead).toHaveLength(injected.deadIds.length + injected.deadBodies.length);
    for (const id of expectedStored) expect(deadText.includes(id) && !injected.validIds.includes(id)).toBe(false);

    // operators see the dead letters on /metrics
    const metrics = await (await fetch(`${stack.backend.url}/metrics`)).text();
    expect(metrics).toContain(`tracker_dead_letters ${dead.length}`);
    expect(metrics).toMatch(/tracker_drain_messages_total\{queue="tracker-events",outcome="dead_lettered"\} [1-9]/);

    // poison cost the drain no retries: every message was settled on its first delivery
    const stats = await queueStats(stack);
    expect(stats.retried).toBe(0);
    console.log(
      `poison fuzz: ${expectedStored.length} valid events stored once, ${sent.refused} poison events refused at the edge, ` +
        `${dead.length} dead letters, drained in ${(drainMs / 1000).toFixed(1)} s`,
    );
  }, 300_000);
});

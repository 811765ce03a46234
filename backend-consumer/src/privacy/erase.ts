/**
 * Erasing a person: everything held about them within the caller's sites, removed, with a receipt.
 *
 * What is found first (while the request still has the plain email or visitor id): their leads, every visitor id
 * those leads saw, and the dead letters that mention them. That plan (ids only, never the email) is written to
 * `privacy_requests` before anything is removed, so a crash at any later point is resumed from it (by the same
 * request retried, or by any backend's resumer once the lease has lapsed). Each step is idempotent:
 *
 *   suppress  keyed hashes of the email(s) and visitor ids, so events still queued (or sent later) do not
 *             recreate the lead (only where the location keeps suppression on)
 *   crm       an erasure per lead into the CRM outbox: destinations that hold the contact delete it
 *   settle    a wait until every drain sees the suppression (twice its cache of "no suppressions"): what a batch
 *             in flight writes before then is removed by the next steps, and nothing is written after
 *   events, sessions, leads (+ lead keys): one pass by visitor id and lead id (any lead made for one of the
 *             visitors since the plan included), then dead letters
 *
 * Rollups hold counts and HyperLogLog registers only (no per-person value), so there is nothing to remove there.
 */
import { randomUUID } from "node:crypto";
import type { Db } from "mongodb";
import { enqueueErasedLead } from "../crm/outbox.ts";
import type { DeadLetter } from "../store/dead-letters.ts";
import type { LeadDocument } from "../store/leads.ts";
import { COLLECTIONS } from "../store/mongo.ts";
import { addSuppressions, suppressionId, type SuppressionDocument } from "./suppression.ts";
import { subjectHash, type Subject } from "./subject.ts";

export const PRIVACY_REQUESTS = "privacy_requests";

export const ERASE_STEPS = ["suppress", "crm", "settle", "events", "sessions", "leads", "deadLetters"] as const;
export type EraseStep = (typeof ERASE_STEPS)[number];

export interface EraseRemoved {
  events: number;
  sessions: number;
  leads: number;
  leadKeys: number;
  deadLetters: number;
  /** CRM erasures queued (one per lead; each destination holding the contact gets it). */
  crmErasures: number;
  suppressions: number;
}

export interface EraseRequestDocument {
  _id: string;
  tenantId: string;
  subjectHash: string;
  /** The sites the erase covers, with their locations. */
  sites: { siteId: string; locationId: string; suppress: boolean }[];
  plan: { leadIds: string[]; visitorIds: string[]; emailHashes: string[]; deadLetterIds: string[] };
  actor: { userId: string; role: string } | null;
  state: "running" | "done";
  done: EraseStep[];
  removed: EraseRemoved;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
  /** Who runs it now, until when. */
  owner?: string;
  leaseUntil: Date;
}

export interface EraseReceipt {
  receiptId: string;
  state: "running" | "done";
  subject: string;
  sites: string[];
  removed: EraseRemoved;
  /** Where a CRM will be told (destinations holding the person's contact get the erasure). */
  crm: "queued" | "none";
  suppressed: boolean;
  createdAt: string;
  finishedAt: string | null;
}

export function receiptOf(r: EraseRequestDocument): EraseReceipt {
  return {
    receiptId: r._id,
    state: r.state,
    subject: r.subjectHash,
    sites: r.sites.map((s) => s.siteId),
    removed: r.removed,
    crm: r.plan.leadIds.length ? "queued" : "none",
    suppressed: r.sites.some((s) => s.suppress),
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export interface EraseDeps {
  db: Db;
  key: Buffer;
  /** Wait before the settle step: twice the drain's suppression cache (SuppressionFilter.settleMs). */
  settleMs?: number;
  /** How long one runner holds a request. */
  leaseMs?: number;
  /** Called after each step (tests stop the process here). */
  onStep?: (step: EraseStep, request: EraseRequestDocument) => void | Promise<void>;
}

const zero = (): EraseRemoved => ({ events: 0, sessions: 0, leads: 0, leadKeys: 0, deadLetters: 0, crmErasures: 0, suppressions: 0 });
const requests = (db: Db) => db.collection<EraseRequestDocument>(PRIVACY_REQUESTS);

/** What is held about `subject` in `siteIds`: their leads and every visitor id seen with them. */
export async function resolvePerson(db: Db, subject: Subject, siteIds: string[]): Promise<{ leads: Pick<LeadDocument, "_id" | "siteId" | "email" | "visitorIds" | "v">[]; visitorIds: string[] }> {
  const filter = subject.kind === "email" ? { siteId: { $in: siteIds }, email: subject.value } : { siteId: { $in: siteIds }, visitorIds: subject.value };
  const leads = await db
    .collection<LeadDocument>(COLLECTIONS.leads)
    .find(filter, { projection: { _id: 1, siteId: 1, email: 1, visitorIds: 1, v: 1 } })
    .toArray();
  const visitorIds = new Set<string>(subject.kind === "visitor" ? [subject.value] : []);
  for (const l of leads) for (const v of l.visitorIds ?? []) visitorIds.add(v);
  return { leads, visitorIds: [...visitorIds] };
}

/** Dead letters that mention one of the sites and the person (dead letters are few: a scan is fine). */
async function deadLettersOf(db: Db, siteIds: string[], needles: string[]): Promise<string[]> {
  if (needles.length === 0) return [];
  const ids: string[] = [];
  for await (const letter of db.collection<DeadLetter>(COLLECTIONS.deadLetters).find({}, { projection: { _id: 1, body: 1, encoding: 1, originalBody: 1 } })) {
    const body = letter.encoding === "base64" ? Buffer.from(letter.body, "base64").toString("utf8") : letter.body;
    const text = `${body}\n${letter.originalBody ?? ""}`.toLowerCase();
    if (siteIds.some((s) => text.includes(s)) && needles.some((n) => text.includes(n.toLowerCase()))) ids.push(letter._id);
  }
  return ids;
}

/**
 * Starts (or joins) an erase: finds what is held, records the plan, and runs it to the end. A request for the same
 * person and sites that is still running is joined rather than started twice.
 */
export async function erasePerson(
  deps: EraseDeps,
  input: { tenantId: string; subject: Subject; sites: { siteId: string; locationId: string; suppress: boolean }[]; actor: EraseRequestDocument["actor"] },
): Promise<EraseReceipt> {
  const hash = subjectHash(deps.key, input.subject);
  const siteIds = input.sites.map((s) => s.siteId).sort();
  const running = await requests(deps.db).findOne({ tenantId: input.tenantId, subjectHash: hash, state: "running" });
  if (running && running.sites.map((s) => s.siteId).sort().join() === siteIds.join()) return runErase(deps, running._id);

  const { leads, visitorIds } = await resolvePerson(deps.db, input.subject, siteIds);
  const emails = new Set(leads.map((l) => l.email));
  if (input.subject.kind === "email") emails.add(input.subject.value);
  const now = new Date();
  const request: EraseRequestDocument = {
    _id: randomUUID(),
    tenantId: input.tenantId,
    subjectHash: hash,
    sites: input.sites,
    plan: {
      leadIds: leads.map((l) => l._id),
      visitorIds,
      emailHashes: [...emails].map((e) => subjectHash(deps.key, { kind: "email", value: e })),
      deadLetterIds: await deadLettersOf(deps.db, siteIds, [...emails, ...visitorIds]),
    },
    actor: input.actor,
    state: "running",
    done: [],
    removed: zero(),
    createdAt: now,
    updatedAt: now,
    leaseUntil: new Date(0),
  };
  await requests(deps.db).insertOne(request);
  return runErase(deps, request._id);
}

/** Runs the remaining steps of a request, if no one else holds it; returns its receipt as it stands. */
export async function runErase(deps: EraseDeps, id: string): Promise<EraseReceipt> {
  const owner = randomUUID();
  const leaseMs = deps.leaseMs ?? 60_000;
  const col = requests(deps.db);
  const took = await col.findOneAndUpdate(
    { _id: id, state: "running", leaseUntil: { $lte: new Date() } },
    { $set: { owner, leaseUntil: new Date(Date.now() + leaseMs) } },
    { returnDocument: "after" },
  );
  if (!took) return receiptOf((await col.findOne({ _id: id }))!);
  let request = took;
  for (const step of ERASE_STEPS) {
    if (request.done.includes(step)) continue;
    const removed = await runStep(deps, request, step);
    const inc = Object.fromEntries(Object.entries(removed).map(([k, v]) => [`removed.${k}`, v]));
    const next = await col.findOneAndUpdate(
      { _id: id, owner },
      { $addToSet: { done: step }, $inc: inc, $set: { updatedAt: new Date(), leaseUntil: new Date(Date.now() + leaseMs) } },
      { returnDocument: "after" },
    );
    if (!next) return receiptOf((await col.findOne({ _id: id }))!); // the lease passed to another runner
    request = next;
    await deps.onStep?.(step, request);
  }
  const finished = await col.findOneAndUpdate(
    { _id: id, owner },
    { $set: { state: "done", finishedAt: new Date(), updatedAt: new Date() }, $unset: { owner: "" } },
    { returnDocument: "after" },
  );
  return receiptOf(finished ?? (await col.findOne({ _id: id }))!);
}

async function removePersonData(db: Db, r: EraseRequestDocument): Promise<Pick<EraseRemoved, "events" | "sessions" | "leads" | "leadKeys">> {
  const siteIds = r.sites.map((s) => s.siteId);
  const { leadIds, visitorIds } = r.plan;
  const byVisitor = { siteId: { $in: siteIds }, visitorId: { $in: visitorIds } };
  const events = visitorIds.length ? (await db.collection(COLLECTIONS.events).deleteMany(byVisitor)).deletedCount : 0;
  const sessions = visitorIds.length ? (await db.collection(COLLECTIONS.sessions).deleteMany(byVisitor)).deletedCount : 0;
  // leads: the planned ones, and any a batch in flight made for one of these visitors since
  const leadFilter = { $or: [{ _id: { $in: leadIds } }, ...(visitorIds.length ? [{ siteId: { $in: siteIds }, visitorIds: { $in: visitorIds } }] : [])] };
  const late = await db.collection<LeadDocument>(COLLECTIONS.leads).find(leadFilter, { projection: { _id: 1 } }).toArray();
  const ids = [...new Set([...leadIds, ...late.map((l) => l._id)])];
  const leads = ids.length ? (await db.collection<LeadDocument>(COLLECTIONS.leads).deleteMany({ _id: { $in: ids } })).deletedCount : 0;
  const leadKeys = ids.length ? (await db.collection(COLLECTIONS.leadKeys).deleteMany({ leadId: { $in: ids } })).deletedCount : 0;
  return { events, sessions, leads, leadKeys };
}

async function runStep(deps: EraseDeps, r: EraseRequestDocument, step: EraseStep): Promise<Partial<EraseRemoved>> {
  const { db } = deps;
  switch (step) {
    case "suppress": {
      const docs: SuppressionDocument[] = [];
      const at = new Date();
      for (const site of r.sites.filter((s) => s.suppress)) {
        const hashes = [...r.plan.emailHashes, ...r.plan.visitorIds.map((v) => subjectHash(deps.key, { kind: "visitor", value: v }))];
        for (const hash of hashes) docs.push({ _id: suppressionId(site.siteId, hash), siteId: site.siteId, locationId: site.locationId, hash, receiptId: r._id, at });
      }
      await addSuppressions(db, docs);
      return { suppressions: docs.length };
    }
    case "crm": {
      const leads = await db
        .collection<LeadDocument>(COLLECTIONS.leads)
        .find({ _id: { $in: r.plan.leadIds } }, { projection: { _id: 1, siteId: 1, v: 1 } })
        .toArray();
      // a lead already removed by an earlier, interrupted run still gets its erasure (the outbox write is idempotent)
      const known = new Map(leads.map((l) => [l._id, l]));
      const planned = await db.collection<{ _id: string; siteId: string }>("delivery_status").find({ leadId: { $in: r.plan.leadIds } }, { projection: { leadId: 1, siteId: 1 } }).toArray();
      for (const s of planned as unknown as { leadId: string; siteId: string }[]) if (!known.has(s.leadId)) known.set(s.leadId, { _id: s.leadId, siteId: s.siteId } as LeadDocument);
      for (const lead of known.values()) await enqueueErasedLead(db, { _id: lead._id, siteId: lead.siteId, ...(lead.v ? { v: lead.v } : {}) });
      return { crmErasures: known.size };
    }
    case "settle": {
      await new Promise((resolve) => setTimeout(resolve, deps.settleMs ?? 2_000));
      return {};
    }
    case "events":
    case "sessions":
    case "leads": {
      // one pass removes all three (events, then sessions, then leads and their keys); the later steps are no-ops
      if (step !== "events") return {};
      return removePersonData(db, r);
    }
    case "deadLetters": {
      if (r.plan.deadLetterIds.length === 0) return {};
      const res = await db.collection<DeadLetter>(COLLECTIONS.deadLetters).deleteMany({ _id: { $in: r.plan.deadLetterIds } });
      return { deadLetters: res.deletedCount };
    }
  }
}

/** Resumes erases whose runner died (lease lapsed); every `intervalMs` until stopped. */
export function startEraseResumer(deps: EraseDeps & { log?: (msg: string, fields?: Record<string, unknown>) => void; intervalMs?: number }) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const stale = await requests(deps.db).find({ state: "running", leaseUntil: { $lte: new Date() } }, { projection: { _id: 1 } }).limit(10).toArray();
      for (const r of stale) {
        if (stopped) break;
        const receipt = await runErase(deps, r._id);
        deps.log?.("privacy: erase resumed", { receiptId: r._id, state: receipt.state });
      }
    } catch (err) {
      deps.log?.("privacy: erase resume failed", { error: err instanceof Error ? err.message : String(err), level: "warn" });
    }
    if (!stopped) timer = setTimeout(() => void tick(), deps.intervalMs ?? 10_000);
  };
  timer = setTimeout(() => void tick(), 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Exporting a person: everything held about them in the caller's sites, as one JSON document streamed from
 * MongoDB cursors as the client reads it (memory stays flat however many events they have):
 *
 *   { "subject", "generatedAt", "sites", "leads": [...], "sessions": [...], "events": [...], "crmDeliveries": [...] }
 *
 * Internal bookkeeping (write versions, seen-event lists, queue message ids) is left out; everything about the
 * person is in.
 */
import type { Db, Document, FindCursor } from "mongodb";
import { COLLECTIONS } from "../store/mongo.ts";
import { resolvePerson } from "./erase.ts";
import type { Subject } from "./subject.ts";

const INTERNAL = new Set(["v", "seenEventIds", "recentEventIds", "msg", "rollupRun"]);

function clean(doc: Document): Document {
  const out: Document = {};
  for (const [k, v] of Object.entries(doc)) if (!INTERNAL.has(k)) out[k] = v;
  return out;
}

export async function exportPerson(db: Db, subject: Subject, subjectHash: string, siteIds: string[]): Promise<ReadableStream<Uint8Array>> {
  const { leads, visitorIds } = await resolvePerson(db, subject, siteIds);
  const leadIds = leads.map((l) => l._id);
  const byVisitor = { siteId: { $in: siteIds }, visitorId: { $in: visitorIds } };
  const sections: [string, () => FindCursor<Document>][] = [
    ["leads", () => db.collection(COLLECTIONS.leads).find({ _id: { $in: leadIds } } as Document)],
    ["sessions", () => db.collection(COLLECTIONS.sessions).find(visitorIds.length ? byVisitor : { _id: { $in: [] } })],
    ["events", () => db.collection(COLLECTIONS.events).find(visitorIds.length ? byVisitor : { _id: { $in: [] } }).sort({ ts: 1 })],
    ["crmDeliveries", () => db.collection("delivery_status").find({ leadId: { $in: leadIds } }, { projection: { lastError: 0 } })],
  ];
  const encoder = new TextEncoder();
  const head = JSON.stringify({ subject: subjectHash, generatedAt: new Date().toISOString(), sites: siteIds });
  let section = -1;
  let cursor: FindCursor<Document> | null = null;
  let first = true;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (section === -1) {
          controller.enqueue(encoder.encode(head.slice(0, -1)));
          section = 0;
        }
        let chunk = "";
        while (chunk.length < 64 * 1024) {
          if (section >= sections.length) {
            controller.enqueue(encoder.encode(`${chunk}}\n`));
            controller.close();
            return;
          }
          if (!cursor) {
            const [name, open] = sections[section]!;
            cursor = open();
            chunk += `,${JSON.stringify(name)}:[`;
            first = true;
          }
          const doc = await cursor.next();
          if (!doc) {
            await cursor.close();
            cursor = null;
            section++;
            chunk += "]";
            continue;
          }
          chunk += (first ? "" : ",") + JSON.stringify(clean(doc));
          first = false;
        }
        controller.enqueue(encoder.encode(chunk));
      } catch (err) {
        controller.error(err);
        await cursor?.close().catch(() => {});
      }
    },
    async cancel() {
      await cursor?.close();
    },
  });
}

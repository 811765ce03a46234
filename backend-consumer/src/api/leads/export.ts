/**
 * The leads export, streamed: rows are read from a MongoDB cursor as the client reads the response, so memory
 * stays flat whatever the number of leads. CSV (RFC 4180, with cells that a spreadsheet would run as a formula
 * defused) or NDJSON (one lead per line, the list's shape).
 */
import type { Context } from "hono";
import type { FindCursor } from "mongodb";
import type { LeadDocument } from "../../store/leads.ts";
import { leadOut } from "./out.ts";

const COLUMNS = [
  "id", "siteId", "locationId", "email", "firstName", "lastName", "phone", "company", "status", "quality",
  "utmSource", "utmMedium", "utmCampaign", "referrer", "landingPage", "formIds", "tags", "createdAt", "updatedAt",
  "lastInteractionAt", "submittedAt",
] as const;

/** One CSV cell: quoted when needed, and a leading =, +, - or @ (a formula to a spreadsheet) prefixed with '. */
export function csvCell(value: unknown): string {
  let text = value == null ? "" : Array.isArray(value) ? value.join(";") : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(l: LeadDocument, locationId: string): string {
  const o = leadOut(l, locationId, { full: false });
  const cells: Record<(typeof COLUMNS)[number], unknown> = {
    ...o,
    utmSource: o.utm?.source,
    utmMedium: o.utm?.medium,
    utmCampaign: o.utm?.campaign,
  };
  return COLUMNS.map((c) => csvCell(cells[c])).join(",") + "\r\n";
}

export function exportLeads(c: Context, cursor: FindCursor<LeadDocument>, locations: Map<string, string>, format: "csv" | "ndjson"): Response {
  const encoder = new TextEncoder();
  let started = false;
  const stream = new ReadableStream<Uint8Array>({
    // pull: the next rows are read only when the client has taken the previous ones
    async pull(controller) {
      try {
        if (!started && format === "csv") controller.enqueue(encoder.encode(COLUMNS.join(",") + "\r\n"));
        started = true;
        let chunk = "";
        for (let i = 0; i < 200; i++) {
          const lead = await cursor.next();
          if (!lead) {
            if (chunk) controller.enqueue(encoder.encode(chunk));
            controller.close();
            await cursor.close();
            return;
          }
          const locationId = locations.get(lead.siteId)!;
          chunk += format === "csv" ? csvRow(lead, locationId) : JSON.stringify(leadOut(lead, locationId, { full: false })) + "\n";
        }
        controller.enqueue(encoder.encode(chunk));
      } catch (err) {
        controller.error(err);
        await cursor.close().catch(() => {});
      }
    },
    async cancel() {
      await cursor.close();
    },
  });
  const type = format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson";
  const ext = format === "csv" ? "csv" : "ndjson";
  return c.body(stream, 200, { "content-type": type, "content-disposition": `attachment; filename="leads.${ext}"`, "cache-control": "no-store" });
}

/** A lead as the API shows it: the owner's status override applied, with the captured status beside it. */
import { z } from "zod";
import type { LeadDocument } from "../../store/leads.ts";

const iso = z.iso.datetime();

export const leadOutSchema = z.object({
  id: z.string(),
  siteId: z.string(),
  locationId: z.string(),
  email: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  phone: z.string().nullable(),
  company: z.string().nullable(),
  status: z.string().describe("The owner's override when set, else the captured status (identified < partial < submitted)."),
  capturedStatus: z.string(),
  statusOverride: z.object({ status: z.string(), reason: z.string(), by: z.string(), at: iso }).nullable(),
  quality: z.string(),
  formIds: z.array(z.string()),
  utm: z.record(z.string(), z.string()).nullable(),
  referrer: z.string().nullable(),
  landingPage: z.string().nullable(),
  tags: z.array(z.string()),
  notes: z.string().nullable(),
  submittedAt: iso.nullable(),
  lastInteractionAt: iso,
  createdAt: iso,
  updatedAt: iso,
  fields: z.record(z.string(), z.string()).optional().describe("Every captured field (one lead only, not in lists)."),
  traits: z.record(z.string(), z.unknown()).optional(),
  clickIds: z.record(z.string(), z.string()).optional(),
  conflicts: z
    .array(z.object({ id: z.string(), field: z.string(), value: z.unknown(), current: z.unknown(), at: iso, visitorId: z.string() }))
    .optional()
    .describe("Values a later submission by another visitor wanted to set: accept or dismiss them with PATCH."),
  submissions: z
    .array(z.object({ at: iso, visitorId: z.string(), formId: z.string().nullable(), fields: z.record(z.string(), z.string()) }))
    .optional()
    .describe("Every submission with its values, the latest 50."),
  history: z
    .array(z.object({ at: iso, by: z.object({ userId: z.string(), email: z.string() }), changes: z.array(z.object({ field: z.string(), from: z.unknown(), to: z.unknown() })), reason: z.string().optional() }))
    .optional(),
});
export type LeadOut = z.infer<typeof leadOutSchema>;

const isoOf = (d: Date | undefined | null): string | null => (d ? d.toISOString() : null);

export function leadOut(l: LeadDocument, locationId: string, opts: { full: boolean }): LeadOut {
  const out: LeadOut = {
    id: l._id,
    siteId: l.siteId,
    locationId,
    email: l.email,
    firstName: l.firstName ?? null,
    lastName: l.lastName ?? null,
    phone: l.phone ?? null,
    company: l.company ?? null,
    status: l.statusOverride?.status ?? l.status,
    capturedStatus: l.status,
    statusOverride: l.statusOverride ? { ...l.statusOverride, at: l.statusOverride.at.toISOString() } : null,
    quality: l.quality,
    formIds: l.formIds ?? [],
    utm: l.utm ?? null,
    referrer: l.referrer ?? null,
    landingPage: l.landingPage ?? null,
    tags: l.tags ?? [],
    notes: l.notes ?? null,
    submittedAt: isoOf(l.submittedAt),
    lastInteractionAt: l.lastInteractionAt.toISOString(),
    createdAt: l.createdAt.toISOString(),
    updatedAt: l.updatedAt.toISOString(),
  };
  if (!opts.full) return out;
  return {
    ...out,
    fields: l.fields ?? {},
    traits: l.traits ?? {},
    clickIds: l.clickIds ?? {},
    conflicts: (l.conflicts ?? []).map((k) => ({ id: k.id, field: k.field, value: k.value, current: k.current, at: k.at.toISOString(), visitorId: k.visitorId })),
    submissions: (l.submissions ?? []).map((x) => ({ at: x.at.toISOString(), visitorId: x.visitorId, formId: x.formId, fields: x.fields })),
    history: (l.history ?? []).map((h) => ({ ...h, at: h.at.toISOString() })),
  };
}

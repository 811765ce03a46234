/**
 * Delivery policy, per destination: which lead changes it is sent. Pure; the worker asks `takesLead` at every
 * attempt, with the destination's current settings (the directory's cache: a few seconds).
 *
 * - `submitted` (the default for new destinations): submitted leads only. A lead submitted later is delivered then,
 *   as it is by that time (every field gathered so far), as `lead.created`.
 * - `qualified`: submitted leads, and leads not yet submitted whose quality (low: identified, medium: partial, see
 *   leads/rules.ts) is at least `minQuality`.
 * - `all`: every change of every lead. `sendPartial: false` holds partial leads back: that is how destinations made
 *   before policies existed behaved, and the migration (drizzle/0015) set them to `all` keeping their `sendPartial`.
 *
 * The captured status decides, not an owner's status override. A policy change applies from the next attempt on:
 * pending deliveries (waiting for their next try) are decided again then; leads held earlier and no longer pending
 * are not swept, they go with their next change (or `POST /v1/leads/:id/sync`). Deletions (lead.deleted) and
 * erasures do not depend on the policy.
 */
import type { LeadDocument } from "../store/leads.ts";

export const DELIVERY_POLICIES = ["submitted", "qualified", "all"] as const;
export type DeliveryPolicy = (typeof DELIVERY_POLICIES)[number];
export const QUALITIES = ["low", "medium", "high"] as const;
export type Quality = (typeof QUALITIES)[number];

export interface PolicySettings {
  policy: DeliveryPolicy;
  minQuality: Quality;
  sendPartial: boolean;
}

const rank = (quality: string): number => (QUALITIES as readonly string[]).indexOf(quality);

/** Whether a destination under `settings` is sent this lead (its current state). */
export function takesLead(lead: Pick<LeadDocument, "status" | "quality">, settings: PolicySettings): boolean {
  switch (settings.policy) {
    case "submitted":
      return lead.status === "submitted";
    case "qualified":
      return lead.status === "submitted" || (rank(lead.quality) >= 0 && rank(lead.quality) >= rank(settings.minQuality));
    case "all":
      return lead.status !== "partial" || settings.sendPartial;
  }
}

/** Reads a destination row's columns into settings; an unknown value falls back to the default (`submitted`, `medium`). */
export function policyOf(row: { deliveryPolicy?: string | null; minQuality?: string | null; sendPartial?: boolean | null }): PolicySettings {
  const policy = (DELIVERY_POLICIES as readonly string[]).includes(row.deliveryPolicy ?? "") ? (row.deliveryPolicy as DeliveryPolicy) : "submitted";
  const minQuality = (QUALITIES as readonly string[]).includes(row.minQuality ?? "") ? (row.minQuality as Quality) : "medium";
  return { policy, minQuality, sendPartial: Boolean(row.sendPartial) };
}

/** Whether partial leads go under these settings (what the lead API's `held` reads as `sendPartial`). */
export const takesPartial = (settings: PolicySettings): boolean => takesLead({ status: "partial", quality: "medium" }, settings);

/**
 * The settings a create request asks for: an explicit policy wins; without one, `sendPartial` (the field clients
 * used before policies) asks for the old behaviour, `all`; with neither, the default `submitted`.
 */
export function requestedPolicy(body: { deliveryPolicy?: DeliveryPolicy | undefined; minQuality?: Quality | undefined; sendPartial?: boolean | undefined }): PolicySettings {
  const policy = body.deliveryPolicy ?? (body.sendPartial !== undefined ? "all" : "submitted");
  return { policy, minQuality: body.minQuality ?? "medium", sendPartial: body.sendPartial ?? policy === "all" };
}

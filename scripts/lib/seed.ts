/**
 * Demo data for local runs: one tenant (agency) with two locations, the demo site (with a contact form, its fields
 * and a CRM mapping) in the first and a second site in the other, and two users (agency, and a location user of
 * the first location). The tenant and locations carry the CRM ids the CRM stand-in signs in with. Idempotent:
 * rows that exist are left alone.
 */
import { eq } from "drizzle-orm";
import type { ConfigDb } from "../../backend-consumer/src/config/db.ts";
import { fieldMappings, fields, forms, locations, sites, tenants, userLocations, users } from "../../backend-consumer/src/config/schema.ts";

export const DEMO = {
  tenantId: "00000000-0000-4000-8000-000000000001",
  locationId: "00000000-0000-4000-8000-000000000005",
  siteId: "00000000-0000-4000-8000-000000000010",
  formId: "00000000-0000-4000-8000-000000000100",
  agencyEmail: "agency@demo.test",
  locationEmail: "location@demo.test",
  agencyUserId: "00000000-0000-4000-8000-000000003001",
  locationUserId: "00000000-0000-4000-8000-000000003002",
  /** The second location (a dental practice in New York) and its site. */
  location2Id: "00000000-0000-4000-8000-000000000006",
  site2Id: "00000000-0000-4000-8000-000000000011",
  site2Key: "demo-dental",
  /** The CRM's ids of the company and locations (the stand-in's user contexts name these). */
  companyExternalId: "demo-company",
  locationExternalId: "demo-location-acme",
  location2ExternalId: "demo-location-dental",
} as const;

async function insertIfMissing<T extends { id: string }>(
  db: ConfigDb,
  table: typeof tenants | typeof locations | typeof sites | typeof forms | typeof fields | typeof fieldMappings | typeof users,
  row: T,
): Promise<void> {
  const found = await db.select({ id: table.id }).from(table).where(eq(table.id, row.id)).limit(1);
  if (found.length === 0) await db.insert(table).values(row as never);
}

export async function seedDemo(db: ConfigDb, opts: { siteKey: string; demoOrigin: string }): Promise<void> {
  await insertIfMissing(db, tenants, { id: DEMO.tenantId, name: "Demo Agency", externalId: DEMO.companyExternalId });
  await insertIfMissing(db, locations, { id: DEMO.locationId, tenantId: DEMO.tenantId, name: "Acme Plumbing", timezone: "UTC", externalId: DEMO.locationExternalId });
  await insertIfMissing(db, locations, {
    id: DEMO.location2Id,
    tenantId: DEMO.tenantId,
    name: "Bright Smile Dental",
    timezone: "America/New_York",
    externalId: DEMO.location2ExternalId,
  });
  await insertIfMissing(db, sites, {
    id: DEMO.siteId,
    tenantId: DEMO.tenantId,
    locationId: DEMO.locationId,
    name: "Acme Plumbing",
    domain: new URL(opts.demoOrigin).hostname,
    siteKey: opts.siteKey,
    active: true,
    allowedOrigins: [opts.demoOrigin],
    settings: { consentMode: "opt-out" },
  });
  await insertIfMissing(db, sites, {
    id: DEMO.site2Id,
    tenantId: DEMO.tenantId,
    locationId: DEMO.location2Id,
    name: "Bright Smile Dental",
    domain: "brightsmile.example",
    siteKey: DEMO.site2Key,
    active: true,
    allowedOrigins: ["https://brightsmile.example", "https://www.brightsmile.example"],
    settings: { consentMode: "opt-out" },
  });
  await insertIfMissing(db, forms, {
    id: DEMO.formId,
    siteId: DEMO.siteId,
    name: "Contact",
    pageUrlPattern: "",
    selector: "#contact",
    alternativeSelectors: ["form[action*=contact]"],
  });
  const demoFields = [
    { id: "00000000-0000-4000-8000-000000001001", selector: "input[name=name]", name: "name", type: "text", label: "Name", displayOrder: 1 },
    { id: "00000000-0000-4000-8000-000000001002", selector: "input[name=email]", name: "email", type: "email", label: "Email", displayOrder: 2, required: true },
    { id: "00000000-0000-4000-8000-000000001003", selector: "textarea[name=message]", name: "message", type: "textarea", label: "Message", displayOrder: 3 },
  ];
  for (const f of demoFields) await insertIfMissing(db, fields, { formId: DEMO.formId, ...f });
  await insertIfMissing(db, fieldMappings, {
    id: "00000000-0000-4000-8000-000000002002",
    fieldId: "00000000-0000-4000-8000-000000001002",
    targetEntity: "contact",
    targetField: "email",
    transform: "lowercase",
    required: true,
  });
  await insertIfMissing(db, users, { id: DEMO.agencyUserId, tenantId: DEMO.tenantId, email: DEMO.agencyEmail, role: "agency", allowedSites: [] });
  await insertIfMissing(db, users, {
    id: DEMO.locationUserId,
    tenantId: DEMO.tenantId,
    email: DEMO.locationEmail,
    role: "location",
    allowedSites: [],
  });
  const member = await db.select().from(userLocations).where(eq(userLocations.userId, DEMO.locationUserId)).limit(1);
  if (member.length === 0) await db.insert(userLocations).values({ userId: DEMO.locationUserId, locationId: DEMO.locationId });
}

/**
 * Where a site's leads go, read from MariaDB and cached for a few seconds: the site's own destinations if it has
 * any, else its location's; the site's field mappings (across its forms); secrets decrypted in memory only.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { ConfigDb } from "../config/db.ts";
import { destinations, fieldMappings, fields, forms, sites } from "../config/schema.ts";
import type { Connector } from "./connectors/types.ts";
import type { FieldMapping } from "./mapping.ts";
import { policyOf, takesPartial, type PolicySettings } from "./policy.ts";
import type { SecretBox } from "./secret-box.ts";

export interface ResolvedDestination {
  id: string;
  tenantId: string;
  kind: string;
  name: string;
  /** Whether partial leads go to it under its policy (what the lead API's `held` reads). */
  sendPartial: boolean;
  /** Its delivery policy (policy.ts); absent: `all` with `sendPartial`, as before policies. */
  policy?: PolicySettings;
  config: Record<string, unknown>;
  secret: string | null;
  connector: Connector;
}

export interface SiteRouting {
  siteId: string;
  tenantId: string;
  locationId: string;
  destinations: ResolvedDestination[];
  mappings: FieldMapping[];
}

const TTL_MS = 5_000;

export class DestinationDirectory {
  readonly #db: ConfigDb;
  readonly #box: SecretBox;
  readonly #connectors: Map<string, Connector>;
  readonly #cache = new Map<string, { at: number; routing: SiteRouting | null }>();
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;

  constructor(db: ConfigDb, box: SecretBox, connectors: Map<string, Connector>, log: (msg: string, fields?: Record<string, unknown>) => void = () => {}) {
    this.#db = db;
    this.#box = box;
    this.#connectors = connectors;
    this.#log = log;
  }

  /** Forgets cached routings (after a destination or mapping changes through this process's API). */
  invalidate(): void {
    this.#cache.clear();
  }

  async forSite(siteId: string): Promise<SiteRouting | null> {
    const hit = this.#cache.get(siteId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.routing;
    const routing = await this.#load(siteId);
    this.#cache.set(siteId, { at: Date.now(), routing });
    return routing;
  }

  async #load(siteId: string): Promise<SiteRouting | null> {
    const [site] = await this.#db.select({ id: sites.id, tenantId: sites.tenantId, locationId: sites.locationId }).from(sites).where(eq(sites.id, siteId)).limit(1);
    if (!site) return null;
    const own = await this.#db.select().from(destinations).where(eq(destinations.siteId, siteId));
    const rows = own.length > 0 ? own : await this.#db.select().from(destinations).where(and(eq(destinations.locationId, site.locationId), isNull(destinations.siteId)));
    const resolved: ResolvedDestination[] = [];
    for (const row of rows) {
      if (!row.enabled || row.tenantId !== site.tenantId) continue;
      const connector = this.#connectors.get(row.kind);
      if (!connector) {
        this.#log("crm: destination of an unknown kind skipped", { destinationId: row.id, kind: row.kind });
        continue;
      }
      let secret: string | null = null;
      if (row.secretEnc) {
        try {
          secret = this.#box.open(row.secretEnc, row.id);
        } catch {
          // a key change or a copied row: say so once per load, never print the secret
          this.#log("crm: destination secret does not decrypt (DESTINATION_SECRET_KEY changed?)", { destinationId: row.id });
          continue;
        }
      }
      const policy = policyOf(row);
      resolved.push({ id: row.id, tenantId: row.tenantId, kind: row.kind, name: row.name, sendPartial: takesPartial(policy), policy, config: connector.configSchema.parse(row.config ?? {}), secret, connector });
    }
    const mappings = await this.#db
      .select({ fieldName: fields.name, targetEntity: fieldMappings.targetEntity, targetField: fieldMappings.targetField, transform: fieldMappings.transform, required: fieldMappings.required })
      .from(fieldMappings)
      .innerJoin(fields, eq(fields.id, fieldMappings.fieldId))
      .innerJoin(forms, eq(forms.id, fields.formId))
      .where(eq(forms.siteId, siteId));
    return { siteId, tenantId: site.tenantId, locationId: site.locationId, destinations: resolved, mappings };
  }
}

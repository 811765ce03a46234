/**
 * Who may see what, read from the database at request time: a token only says who the caller is. An agency user
 * sees every location and site of its tenant; a location user sees the sites of its locations (narrowed to its
 * `allowed_sites` when that list is not empty). Answers are cached per user for a few seconds, so a removed or
 * demoted user loses access within that time even with a token that is still valid; changes made through this
 * process's admin API clear the cache at once.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { ConfigDb } from "../config/db.ts";
import { locations, sites, userLocations, users } from "../config/schema.ts";

export const ROLES = ["agency", "location"] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  tenantId: string;
  role: Role;
  email: string;
  /** Locations the user may see (every location of the tenant for agency users). */
  locationIds: string[];
  /** Sites the user may see (every site of the tenant for agency users). */
  siteIds: string[];
  /**
   * Set when the session is scoped to one location (the CRM page was opened inside it): locationIds and siteIds
   * are then that location's, whatever the role, and tenant-wide actions are refused.
   */
  sessionLocationId?: string;
}

/** Default cache lifetime: well under the 30 s the product promises. */
export const SCOPE_TTL_MS = 5_000;

export class ScopeResolver {
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();
  private readonly db: ConfigDb;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(db: ConfigDb, ttlMs = SCOPE_TTL_MS, now: () => number = Date.now) {
    this.db = db;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** The principal of user `userId` as the database says now (or within the cache lifetime); null if no such user. */
  async principal(userId: string): Promise<Principal | null> {
    const hit = this.cache.get(userId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.principal;
    const principal = await this.load(userId);
    this.cache.set(userId, { at: this.now(), principal });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return principal;
  }

  /**
   * `principal` narrowed to one of its locations, for a session opened inside it; null when the location is not
   * one the user may see (removed from it since, or never in it).
   */
  async narrow(principal: Principal, locationId: string): Promise<Principal | null> {
    if (!principal.locationIds.includes(locationId)) return null;
    const key = `${principal.userId}|${locationId}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.principal;
    const inLocation = await this.db
      .select({ id: sites.id })
      .from(sites)
      .where(and(eq(sites.tenantId, principal.tenantId), eq(sites.locationId, locationId)));
    const narrowed: Principal = {
      ...principal,
      locationIds: [locationId],
      siteIds: inLocation.map((s) => s.id).filter((id) => principal.siteIds.includes(id)),
      sessionLocationId: locationId,
    };
    this.cache.set(key, { at: this.now(), principal: narrowed });
    return narrowed;
  }

  /** Forgets every cached answer (after a change to users, locations or sites through the admin API). */
  invalidate(): void {
    this.cache.clear();
  }

  private async load(userId: string): Promise<Principal | null> {
    const [user] = await this.db.select().from(users).where(eq(users.id, userId)).limit(1);
    if (!user) return null;
    const base = { userId: user.id, tenantId: user.tenantId, role: user.role, email: user.email };
    if (user.role === "agency") {
      const [locs, tenantSites] = await Promise.all([
        this.db.select({ id: locations.id }).from(locations).where(eq(locations.tenantId, user.tenantId)),
        this.db.select({ id: sites.id }).from(sites).where(eq(sites.tenantId, user.tenantId)),
      ]);
      return { ...base, locationIds: locs.map((l) => l.id), siteIds: tenantSites.map((s) => s.id) };
    }
    const member = await this.db
      .select({ id: locations.id })
      .from(userLocations)
      .innerJoin(locations, eq(locations.id, userLocations.locationId))
      .where(and(eq(userLocations.userId, user.id), eq(locations.tenantId, user.tenantId)));
    const locationIds = member.map((l) => l.id);
    const inLocations = locationIds.length
      ? await this.db.select({ id: sites.id }).from(sites).where(and(eq(sites.tenantId, user.tenantId), inArray(sites.locationId, locationIds)))
      : [];
    const narrowed = jsonList(user.allowedSites);
    const siteIds = inLocations.map((s) => s.id).filter((id) => narrowed.length === 0 || narrowed.includes(id));
    return { ...base, locationIds, siteIds };
  }
}

/** mysql2 hands MariaDB JSON columns back as text. */
function jsonList(value: unknown): string[] {
  const parsed = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
}

/**
 * Test helpers for callers of the admin and read APIs: real rows (a token only names a user; what it may see is
 * read from the database), and tokens for them.
 */
import { mintToken } from "../../backend-consumer/src/api/auth.ts";
import type { ConfigDb } from "../../backend-consumer/src/config/db.ts";
import { locations, userLocations, users } from "../../backend-consumer/src/config/schema.ts";

export async function makeLocation(db: ConfigDb, tenantId: string, extra: { name?: string; timezone?: string; externalId?: string } = {}): Promise<string> {
  const id = crypto.randomUUID();
  await db.insert(locations).values({ id, tenantId, name: extra.name ?? "Location", timezone: extra.timezone ?? "UTC", externalId: extra.externalId ?? null });
  return id;
}

export interface MadeUser {
  userId: string;
  /** A token for this user (HS256 with `secret`). */
  token: string;
}

/** A user row of `tenantId` with `role`, member of `locationIds` (any tenant's: the resolver must ignore foreign ones). */
export async function makeUser(
  db: ConfigDb,
  secret: string,
  opts: { tenantId: string; role: "agency" | "location"; locationIds?: string[]; allowedSites?: string[] },
): Promise<MadeUser> {
  const userId = crypto.randomUUID();
  await db.insert(users).values({ id: userId, tenantId: opts.tenantId, email: `${userId}@users.test`, role: opts.role, allowedSites: opts.allowedSites ?? [] });
  if (opts.locationIds?.length) await db.insert(userLocations).values(opts.locationIds.map((locationId) => ({ userId, locationId })));
  return { userId, token: await mintToken(secret, { sub: userId }) };
}

/**
 * Actor tokens (team activity): the backend signs them after the CRM's Custom JS proves who the signed-in CRM user
 * is (POST /v1/auth/highlevel/actor); the edge verifies them with the public half (ACTIVITY_TOKEN_PUBLIC_KEY) and
 * stamps the actor onto the queue message. EdDSA (Ed25519), at most ACTOR_TOKEN_TTL_S, with an issuer, audience
 * and `kid` of their own (contracts/activity.ts) so they never pass for a dashboard session or an API token.
 */
import { createPublicKey } from "node:crypto";
import { errors, importPKCS8, importSPKI, jwtVerify, SignJWT, type CryptoKey } from "jose";
import { ACTOR_TOKEN_AUDIENCE, ACTOR_TOKEN_ISSUER, ACTOR_TOKEN_KID, ACTOR_TOKEN_TTL_S, actorClaimsSchema, type Actor } from "#contracts";

export interface ActorKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as SPKI PEM: what the Worker's ACTIVITY_TOKEN_PUBLIC_KEY must hold. */
  publicPem: string;
}

/** The SPKI PEM of the public half of a PKCS#8 Ed25519 private key (ACTIVITY_SIGNING_KEY → ACTIVITY_TOKEN_PUBLIC_KEY). */
export function actorPublicKeyPem(pkcs8Pem: string): string {
  return createPublicKey(pkcs8Pem.trim()).export({ type: "spki", format: "pem" }).toString();
}

/** The signing keys from ACTIVITY_SIGNING_KEY (PKCS#8 PEM of an Ed25519 key). */
export async function actorKeys(pkcs8Pem: string): Promise<ActorKeys> {
  const publicPem = actorPublicKeyPem(pkcs8Pem);
  return { privateKey: await importPKCS8(pkcs8Pem.trim(), "EdDSA"), publicKey: await importSPKI(publicPem, "EdDSA"), publicPem };
}

/** Signs the actor's token; `ttlSeconds` is capped at ACTOR_TOKEN_TTL_S. */
export async function mintActorToken(keys: Pick<ActorKeys, "privateKey">, actor: Actor, ttlSeconds = ACTOR_TOKEN_TTL_S, nowMs = Date.now()): Promise<{ token: string; expiresAt: string }> {
  const ttl = Math.min(ttlSeconds, ACTOR_TOKEN_TTL_S);
  const now = Math.floor(nowMs / 1000);
  const claims = actorClaimsSchema.parse({ ten: actor.tenantId, loc: actor.locationId, role: actor.role, tz: actor.timezone, ret: actor.retentionDays });
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", kid: ACTOR_TOKEN_KID, typ: "JWT" })
    .setSubject(actor.userId)
    .setIssuer(ACTOR_TOKEN_ISSUER)
    .setAudience(ACTOR_TOKEN_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(keys.privateKey);
  return { token, expiresAt: new Date((now + ttl) * 1000).toISOString() };
}

/**
 * Verifies an actor token and returns the actor it names (what the edge does; here for tests and tools). Throws
 * jose's errors for a bad signature, issuer, audience or age, and JWTClaimValidationFailed for bad claims.
 */
export async function verifyActorToken(publicKey: CryptoKey, token: string): Promise<Actor> {
  const { payload } = await jwtVerify(token, publicKey, {
    algorithms: ["EdDSA"],
    issuer: ACTOR_TOKEN_ISSUER,
    audience: ACTOR_TOKEN_AUDIENCE,
    requiredClaims: ["exp", "iat", "sub"],
    maxTokenAge: ACTOR_TOKEN_TTL_S,
    clockTolerance: 30,
  });
  if (payload.exp! - payload.iat! > ACTOR_TOKEN_TTL_S + 30) throw new errors.JWTClaimValidationFailed("actor token lives too long", payload, "exp", "check_failed");
  const claims = actorClaimsSchema.safeParse(payload);
  if (!claims.success || typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 36) {
    throw new errors.JWTClaimValidationFailed("actor token claims are invalid", payload, claims.success ? "sub" : String(claims.error.issues[0]?.path[0] ?? ""), "check_failed");
  }
  const c = claims.data;
  return { userId: payload.sub, tenantId: c.ten, locationId: c.loc, role: c.role, timezone: c.tz, retentionDays: c.ret };
}

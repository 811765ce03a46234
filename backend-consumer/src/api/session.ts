/**
 * Session tokens the backend mints itself, for the dashboard after single sign-on: EdDSA (Ed25519), at most
 * 15 minutes, with this app's own issuer and audience and a `kid` that no identity provider uses, so they can never
 * be confused with API clients' tokens (HS256 locally, the provider's JWKS in production). A session may be scoped
 * to one location (`loc`: the CRM page was opened inside it).
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { errors, importPKCS8, importSPKI, jwtVerify, SignJWT, type CryptoKey } from "jose";

export const SESSION_ISSUER = "lead-tracker";
export const SESSION_AUDIENCE = "lead-tracker:dashboard";
export const SESSION_KID = "lead-tracker-session";
export const SESSION_TTL_S = 15 * 60;

export interface SessionKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface SessionClaims {
  userId: string;
  /** Our location id the session is scoped to, or null. */
  locationId: string | null;
}

/** The signing keys: from a PKCS#8 PEM (SESSION_SIGNING_KEY), or a fresh pair (tokens then end with the process). */
export async function sessionKeys(pkcs8Pem?: string): Promise<SessionKeys> {
  const pem = pkcs8Pem?.trim() || generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const spki = createPublicKey(pem).export({ type: "spki", format: "pem" }).toString();
  return { privateKey: await importPKCS8(pem, "EdDSA"), publicKey: await importSPKI(spki, "EdDSA") };
}

export async function mintSession(keys: SessionKeys, claims: SessionClaims, ttlSeconds = SESSION_TTL_S): Promise<{ token: string; expiresAt: string }> {
  const ttl = Math.min(ttlSeconds, SESSION_TTL_S);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT(claims.locationId ? { loc: claims.locationId } : {})
    .setProtectedHeader({ alg: "EdDSA", kid: SESSION_KID, typ: "JWT" })
    .setSubject(claims.userId)
    .setIssuer(SESSION_ISSUER)
    .setAudience(SESSION_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(keys.privateKey);
  return { token, expiresAt: new Date((now + ttl) * 1000).toISOString() };
}

/** Verifies a session token (throws jose errors, which the caller turns into 401s). */
export async function verifySession(keys: SessionKeys, token: string): Promise<SessionClaims> {
  const { payload } = await jwtVerify(token, keys.publicKey, {
    algorithms: ["EdDSA"],
    issuer: SESSION_ISSUER,
    audience: SESSION_AUDIENCE,
    requiredClaims: ["exp", "iat", "sub"],
    maxTokenAge: SESSION_TTL_S,
    clockTolerance: 30,
  });
  if (payload.exp! - payload.iat! > SESSION_TTL_S + 30) throw new errors.JWTClaimValidationFailed("session lives too long", payload, "exp", "check_failed");
  return { userId: String(payload.sub), locationId: typeof payload.loc === "string" ? payload.loc : null };
}

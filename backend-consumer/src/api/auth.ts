/**
 * Bearer JWT authentication for the admin and read APIs. Locally an HS256 shared secret signs and checks tokens;
 * in production an identity provider's remote JWKS (RS256 or EdDSA) checks them. A token only says who the caller
 * is (`sub`, a user id); what that user may see is looked up in the database at request time (scope.ts), so a
 * removed or demoted user loses access within seconds, whatever its token says.
 */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTVerifyOptions } from "jose";
import { z } from "zod";
import type { Principal, ScopeResolver } from "./scope.ts";
import { SESSION_KID, verifySession, type SessionKeys } from "./session.ts";

export interface AuthOptions {
  /** HS256 shared secret (local runs, tests). At least 32 characters. */
  hs256Secret?: string;
  /** URL of the identity provider's JWKS; tokens signed with RS256 or EdDSA are checked against it. */
  jwksUrl?: string;
  /** The `iss` claim must equal it. Required with a JWKS: an identity provider signs tokens for many apps. */
  issuer?: string;
  /** The `aud` claim must contain it. Required with a JWKS. */
  audience?: string;
  /** The longest a token may live (exp − iat) and the oldest it may be (now − iat), in seconds. Default: 24 h. */
  maxTokenAgeSeconds?: number;
  /** In production a JWKS and an HS256 secret are never accepted side by side (a leaked local secret must not open production). */
  production?: boolean;
  /** Keys of the dashboard's own session tokens (session.ts), minted after single sign-on. */
  session?: SessionKeys;
}

export { ROLES, type Principal, type Role } from "./scope.ts";

/**
 * The claims the API reads: `sub` only. Older tokens also carried `tid`, `role` and `sites`; they are accepted and
 * ignored, because scopes come from the database.
 */
export const tokenClaimsSchema = z.object({
  sub: z.string().min(1).max(64),
});
export type TokenClaims = z.input<typeof tokenClaimsSchema> & { tid?: string; role?: string; sites?: string[] };

/** Hono environment of routes behind `requireAuth`. */
export interface AuthEnv {
  Variables: { principal: Principal };
}

/** A token that is missing, malformed, badly signed, expired or carries unusable claims. */
export class Unauthorized extends Error {
  override readonly name = "Unauthorized";
}

const JWKS_ALGORITHMS = ["RS256", "EdDSA"];
const MIN_SECRET_LENGTH = 32;
export const DEFAULT_MAX_TOKEN_AGE_S = 24 * 3600;
/** Clocks of the identity provider and ours may differ by this much. */
const CLOCK_TOLERANCE_S = 30;

/** Throws, naming the setting, on options that would accept tokens they should not. Called at startup. */
export function checkAuthOptions(opts: AuthOptions): void {
  if (!opts.hs256Secret && !opts.jwksUrl && !opts.session) throw new Error("auth: set JWT_SECRET (local) or JWT_JWKS_URL");
  if (opts.hs256Secret && opts.hs256Secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`auth: JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (opts.jwksUrl && (!opts.issuer || !opts.audience)) {
    throw new Error("auth: with JWT_JWKS_URL, set JWT_ISSUER and JWT_AUDIENCE too (the provider signs tokens for other apps as well)");
  }
  if (opts.production && opts.jwksUrl && opts.hs256Secret) {
    throw new Error("auth: in production, set JWT_JWKS_URL or JWT_SECRET, not both");
  }
  const maxAge = opts.maxTokenAgeSeconds ?? DEFAULT_MAX_TOKEN_AGE_S;
  if (!Number.isInteger(maxAge) || maxAge <= 0) throw new Error("auth: JWT_MAX_AGE_S must be a positive whole number of seconds");
}

/** Checks the options once and returns a function that turns a compact JWT into the caller's user id or throws Unauthorized. */
export function createTokenVerifier(opts: AuthOptions): (token: string) => Promise<string> {
  checkAuthOptions(opts);
  if (!opts.hs256Secret && !opts.jwksUrl) {
    return async () => {
      throw new Unauthorized("Only dashboard sessions are accepted here.");
    };
  }
  const secret = opts.hs256Secret ? new TextEncoder().encode(opts.hs256Secret) : undefined;
  const jwks = opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl)) : undefined;
  const maxAge = opts.maxTokenAgeSeconds ?? DEFAULT_MAX_TOKEN_AGE_S;
  // iat is required: jose then refuses a token issued in the future or longer ago than maxTokenAge
  const common: JWTVerifyOptions = { requiredClaims: ["exp", "sub", "iat"], maxTokenAge: maxAge, clockTolerance: CLOCK_TOLERANCE_S };
  if (opts.issuer) common.issuer = opts.issuer;
  if (opts.audience) common.audience = opts.audience;

  return async function verifyToken(token) {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new Unauthorized("Token is not a JWT.");
    }
    try {
      // The header's alg only picks the key source; jwtVerify still pins the algorithms each source accepts.
      const { payload } =
        secret && (alg === "HS256" || !jwks)
          ? await jwtVerify(token, secret, { ...common, algorithms: ["HS256"] })
          : await jwtVerify(token, jwks!, { ...common, algorithms: JWKS_ALGORITHMS });
      // a token minted to outlive the maximum age (exp in the year 2200) is refused outright, not just once it is old
      if (payload.exp! - payload.iat! > maxAge + CLOCK_TOLERANCE_S) throw new Unauthorized(`Token lives longer than ${maxAge} s.`);
      const claims = tokenClaimsSchema.safeParse(payload);
      if (!claims.success) throw new Unauthorized(`Token claims are invalid: ${claims.error.issues[0]?.path.join(".")}.`);
      return claims.data.sub;
    } catch (err) {
      throw toUnauthorized(err);
    }
  };
}

function toUnauthorized(err: unknown): Unauthorized {
  if (err instanceof Unauthorized) return err;
  // The identity provider's key set being unreachable or broken is our failure, not the caller's: not a 401.
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) throw err;
  if (err instanceof errors.JWTExpired) return new Unauthorized(err.claim === "iat" ? "Token is too old." : "Token has expired.");
  if (err instanceof errors.JWTClaimValidationFailed) return new Unauthorized(`Token claim "${err.claim}" is invalid.`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new Unauthorized("Token algorithm is not accepted.");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new Unauthorized("Token signature is invalid.");
  if (err instanceof errors.JWKSNoMatchingKey) return new Unauthorized("No key matches the token.");
  if (err instanceof errors.JOSEError) return new Unauthorized("Token is invalid.");
  throw err;
}

/**
 * Middleware factory: requires `Authorization: Bearer <jwt>` and puts the verified `principal` on the context.
 * Answers 401 `{ error: "unauthorized", message }` otherwise.
 */
export function requireAuth(opts: AuthOptions, scopes: Pick<ScopeResolver, "principal" | "narrow">): MiddlewareHandler<AuthEnv> {
  const verify = createTokenVerifier(opts);
  /** Who the token names, and the location a dashboard session is scoped to. */
  const claimsOf = async (token: string): Promise<{ userId: string; locationId: string | null }> => {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new Unauthorized("Token is not a JWT.");
    }
    if (kid !== SESSION_KID || !opts.session) return { userId: await verify(token), locationId: null };
    try {
      return await verifySession(opts.session, token);
    } catch (err) {
      throw toUnauthorized(err);
    }
  };
  return async function requireAuth(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      return c.json({ error: "unauthorized", message: "Send Authorization: Bearer <token>." }, 401, {
        "WWW-Authenticate": 'Bearer realm="admin"',
      });
    }
    try {
      const claims = await claimsOf(match[1]);
      let principal = await scopes.principal(claims.userId);
      if (!principal) throw new Unauthorized("No such user.");
      if (claims.locationId) {
        principal = await scopes.narrow(principal, claims.locationId);
        if (!principal) throw new Unauthorized("The session's location is no longer the user's.");
      }
      c.set("principal", principal);
    } catch (err) {
      if (!(err instanceof Unauthorized)) throw err;
      return c.json({ error: "unauthorized", message: err.message }, 401, {
        "WWW-Authenticate": 'Bearer realm="admin", error="invalid_token"',
      });
    }
    await next();
  };
}

/**
 * Signs an HS256 token for local use and tests. `expiresIn` is a jose time span ("1h", "15m") or an absolute
 * epoch-seconds number (a past one makes an expired token). `iss`/`aud` may be passed among the claims.
 */
export async function mintToken(
  secret: string,
  claims: TokenClaims & { iss?: string; aud?: string | string[] },
  expiresIn: string | number = "1h",
): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

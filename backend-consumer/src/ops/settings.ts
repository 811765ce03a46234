/**
 * Settings read from the environment and checked before the backend connects to anything, so that a weak or
 * contradictory configuration stops the process at startup with the name of the setting, not later with a leak.
 */
import { checkAuthOptions, type AuthOptions } from "../api/auth.ts";

/** INTERNAL_TOKEN guards the queue push and the KV bridge: 32 random bytes, hex (64) or base64url (43) or longer. */
export const MIN_INTERNAL_TOKEN_LENGTH = 43;

export interface SecuritySettings {
  internalToken: string;
  auth: AuthOptions;
  /** PKCS#8 PEM of the dashboard's session signing key (Ed25519); unset: a key per process. */
  sessionSigningKey?: string;
  sso: { sharedSecret?: string; autoCreateTenants: boolean };
}

export function securitySettingsFromEnv(env: NodeJS.ProcessEnv): SecuritySettings {
  const internalToken = env.INTERNAL_TOKEN ?? "";
  if (!internalToken) throw new Error("INTERNAL_TOKEN is not set (generate one: openssl rand -hex 32)");
  if (internalToken.length < MIN_INTERNAL_TOKEN_LENGTH || new Set(internalToken).size < 8) {
    throw new Error("INTERNAL_TOKEN must be at least 32 random bytes, hex or base64url (generate one: openssl rand -hex 32)");
  }
  const auth: AuthOptions = {
    ...(env.JWT_SECRET ? { hs256Secret: env.JWT_SECRET } : {}),
    ...(env.JWT_JWKS_URL ? { jwksUrl: env.JWT_JWKS_URL } : {}),
    ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
    ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
    ...(env.JWT_MAX_AGE_S ? { maxTokenAgeSeconds: Number(env.JWT_MAX_AGE_S) } : {}),
    production: env.NODE_ENV === "production",
  };
  // tokens are checked by the admin and read APIs, which are served with the config plane (MariaDB)
  if (env.MARIADB_URL) checkAuthOptions(auth);
  const sharedSecret = env.HIGHLEVEL_SHARED_SECRET || undefined;
  if (sharedSecret && sharedSecret.length < 16) throw new Error("HIGHLEVEL_SHARED_SECRET looks truncated: use the app's Shared Secret as the CRM shows it");
  // a key per process would sign everyone out at each deploy, and replicas would refuse each other's sessions
  if (sharedSecret && auth.production && !env.SESSION_SIGNING_KEY) {
    throw new Error("SESSION_SIGNING_KEY is required in production with single sign-on (an Ed25519 private key, PKCS#8 PEM)");
  }
  return {
    internalToken,
    auth,
    ...(env.SESSION_SIGNING_KEY ? { sessionSigningKey: env.SESSION_SIGNING_KEY } : {}),
    sso: { ...(sharedSecret ? { sharedSecret } : {}), autoCreateTenants: env.HIGHLEVEL_AUTO_CREATE_TENANTS === "true" },
  };
}

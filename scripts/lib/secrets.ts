/** Local-only secrets (the HS256 JWT secret, the CRM app's shared secret), generated once into the data dir and never printed. */
import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function localSecret(dataDir: string, file: string, encoding: "base64url" | "base64" = "base64url"): string {
  const path = join(dataDir, file);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, randomBytes(32).toString(encoding), { mode: 0o600 });
  }
  return readFileSync(path, "utf8").trim();
}

export function localJwtSecret(dataDir: string): string {
  return process.env.JWT_SECRET ?? localSecret(dataDir, "jwt-secret");
}

/** The stand-in CRM's and the backend's shared secret for single sign-on (the CRM app's Shared Secret). */
export function localSharedSecret(dataDir: string): string {
  return process.env.HIGHLEVEL_SHARED_SECRET ?? localSecret(dataDir, "highlevel-shared-secret");
}

/** The key sealing CRM destination secrets at rest (32 bytes, base64). */
export function localDestinationKey(dataDir: string): string {
  return process.env.DESTINATION_SECRET_KEY ?? localSecret(dataDir, "destination-secret-key", "base64");
}

/** The key of the privacy API's keyed hashes (suppression list, receipts): 32 bytes, base64. */
export function localPrivacyKey(dataDir: string): string {
  return process.env.PRIVACY_HASH_KEY ?? localSecret(dataDir, "privacy-hash-key", "base64");
}

/**
 * The Ed25519 key the backend signs actor tokens with (PKCS#8 PEM), and its public half (SPKI PEM) that the edge
 * verifies them with. Generated once into the data dir.
 */
export function localActivityKeys(dataDir: string): { signingKey: string; publicKey: string } {
  const path = join(dataDir, "activity-signing-key.pem");
  const given = process.env.ACTIVITY_SIGNING_KEY;
  if (!given && !existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
  }
  const signingKey = given ?? readFileSync(path, "utf8");
  return { signingKey, publicKey: createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString() };
}

/** The local marketplace app's id (what the CRM passes to exposeSessionDetails). */
export const LOCAL_APP_ID = "lead-tracker-local-app";

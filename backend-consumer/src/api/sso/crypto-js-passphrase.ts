/**
 * CryptoJS's passphrase format, as the CRM encrypts the user context of a Custom Page: base64 of `Salted__`, an
 * 8-byte salt and the AES-256-CBC ciphertext (PKCS#7 padding), with key and IV derived from the passphrase and the
 * salt by OpenSSL's EVP_BytesToKey (MD5, one iteration). node:crypto does all of it; no library is needed.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const MAGIC = Buffer.from("Salted__", "latin1");
const KEY_BYTES = 32;
const IV_BYTES = 16;

/** A payload that is not in the format, or does not decrypt with this passphrase. */
export class UndecryptablePayload extends Error {
  override readonly name = "UndecryptablePayload";
}

/** EVP_BytesToKey with MD5: D1 = MD5(pass ‖ salt), Dn = MD5(Dn−1 ‖ pass ‖ salt), until key and IV are filled. */
function evpBytesToKey(passphrase: Buffer, salt: Buffer): { key: Buffer; iv: Buffer } {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  while (blocks.reduce((n, b) => n + b.length, 0) < KEY_BYTES + IV_BYTES) {
    previous = createHash("md5").update(previous).update(passphrase).update(salt).digest();
    blocks.push(previous);
  }
  const bytes = Buffer.concat(blocks);
  return { key: bytes.subarray(0, KEY_BYTES), iv: bytes.subarray(KEY_BYTES, KEY_BYTES + IV_BYTES) };
}

/** The UTF-8 plaintext of `payload`, or UndecryptablePayload. */
export function decryptPassphrasePayload(payload: string, passphrase: string): string {
  if (typeof payload !== "string" || payload.length === 0 || payload.length > 64 * 1024 || !/^[A-Za-z0-9+/=\s]+$/.test(payload)) {
    throw new UndecryptablePayload("The payload is not base64.");
  }
  const raw = Buffer.from(payload, "base64");
  if (raw.length < 32 || !raw.subarray(0, 8).equals(MAGIC) || (raw.length - 16) % 16 !== 0) {
    throw new UndecryptablePayload("The payload is not a salted AES payload.");
  }
  const { key, iv } = evpBytesToKey(Buffer.from(passphrase, "utf8"), raw.subarray(8, 16));
  try {
    const decipher = createDecipheriv("aes-256-cbc", key, iv);
    const plain = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]);
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  } catch {
    // a wrong passphrase or a tampered ciphertext: bad padding, or bytes that are not text
    throw new UndecryptablePayload("The payload does not decrypt with this app's shared secret.");
  }
}

/** The same format the other way (the local CRM stand-in encrypts with it); crypto-js decrypts what it makes. */
export function encryptPassphrasePayload(plaintext: string, passphrase: string): string {
  const salt = randomBytes(8);
  const { key, iv } = evpBytesToKey(Buffer.from(passphrase, "utf8"), salt);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  return Buffer.concat([MAGIC, salt, cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
}

/** The decryption against crypto-js, the library the CRM encrypts Custom Page user data with. */
import CryptoJS from "crypto-js";
import { describe, expect, it } from "vitest";
import { decryptPassphrasePayload, encryptPassphrasePayload, UndecryptablePayload } from "./crypto-js-passphrase.ts";

const SECRET = "a1b2c3d4-shared-secret-of-the-app";
const encrypt = (text: string, secret = SECRET): string => CryptoJS.AES.encrypt(text, secret).toString();

describe("CryptoJS passphrase payloads", () => {
  it.each([
    ["a user context", JSON.stringify({ userId: "u1", companyId: "c1", type: "agency", email: "a@b.co" })],
    ["an empty object", "{}"],
    ["text of exactly one block", "0123456789abcdef"],
    ["non-ASCII text", JSON.stringify({ userName: "Zoë Ñandú 李雷 🚀" })],
    ["a long payload", JSON.stringify({ blob: "x".repeat(10_000) })],
  ])("decrypts %s encrypted by crypto-js", (_name, text) => {
    expect(decryptPassphrasePayload(encrypt(text), SECRET)).toBe(text);
  });

  it("gets a different payload for the same text every time (random salt), and decrypts each", () => {
    const [a, b] = [encrypt("same"), encrypt("same")];
    expect(a).not.toBe(b);
    expect(decryptPassphrasePayload(a, SECRET)).toBe("same");
    expect(decryptPassphrasePayload(b, SECRET)).toBe("same");
  });

  it("encrypts what crypto-js decrypts (the local CRM stand-in's side)", () => {
    const text = JSON.stringify({ userId: "u1", userName: "Zoë" });
    expect(CryptoJS.AES.decrypt(encryptPassphrasePayload(text, SECRET), SECRET).toString(CryptoJS.enc.Utf8)).toBe(text);
  });

  it("refuses a payload encrypted with another secret", () => {
    const payload = encrypt(JSON.stringify({ userId: "u1", companyId: "c1", type: "agency", email: "a@b.co" }), "another-apps-secret");
    // a wrong key gives bad padding, or (rarely) bytes that are no text; either way nothing is returned
    expect(() => decryptPassphrasePayload(payload, SECRET)).toThrow(UndecryptablePayload);
  });

  it("refuses a tampered last block, and payloads that are not in the format", () => {
    const raw = Buffer.from(encrypt(JSON.stringify({ userId: "u1", type: "location" })), "base64");
    raw[raw.length - 1]! ^= 0x01;
    expect(() => decryptPassphrasePayload(raw.toString("base64"), SECRET)).toThrow(UndecryptablePayload);
    expect(() => decryptPassphrasePayload("not base64 at all!", SECRET)).toThrow(/not base64/);
    expect(() => decryptPassphrasePayload(Buffer.from("Pickled_12345678" + "x".repeat(16)).toString("base64"), SECRET)).toThrow(/not a salted/);
    expect(() => decryptPassphrasePayload("", SECRET)).toThrow(UndecryptablePayload);
    // crypto-js with an explicit key (no salt header) is another format
    const keyed = CryptoJS.AES.encrypt("x", CryptoJS.enc.Hex.parse("00".repeat(32)), { iv: CryptoJS.enc.Hex.parse("00".repeat(16)) }).toString();
    expect(() => decryptPassphrasePayload(keyed, SECRET)).toThrow(UndecryptablePayload);
  });
});

/**
 * Sealed private scores. The organizer holds an X25519 key pair; runners get only the public key and
 * seal each private score to it, so the stored leaderboard (a SQLite file, a git branch) never shows a
 * private score until the organizer reveals with the private key.
 *
 * Scheme (an ECIES in the style of HPKE base mode, from Node's crypto only):
 *   ephemeral X25519 key pair per score -> ECDH with the organizer's public key -> HKDF-SHA256
 *   (salt = ephemeral public || organizer public, info = "proctor sealed score v1") -> AES-256-GCM key;
 *   plaintext = the score as an 8-byte big-endian float64 (fixed length: the ciphertext leaks nothing
 *   about the digits); AAD = version || key id || submission id, so a sealed value moved to another entry
 *   fails to open.
 *
 * Sealed string: `pscore.v1.<kid>.<ephemeral public>.<nonce>.<ciphertext>.<tag>`, every part base64url;
 * `kid` is the first 8 bytes of sha256(organizer public key), so opening with the wrong key says so.
 */
import {
  createDecipheriv,
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import type { LeaderboardEntry } from "./entry.js";
import type { LeaderboardStore } from "./store.js";

const PREFIX = "pscore";
const VERSION = "v1";
const INFO = Buffer.from("proctor sealed score v1", "utf8");

export class SealError extends Error {
  override name = "SealError";
}

export interface SealingKeys {
  /** Give to runners (e.g. as a repository variable): it can only seal. */
  publicKeyPem: string;
  /** Keep secret until the reveal: it opens every sealed score. */
  privateKeyPem: string;
}

/** A fresh organizer key pair (X25519), PEM-encoded (SPKI public, PKCS#8 private). */
export function generateSealingKeys(): SealingKeys {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return {
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function rawPublic(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  return Buffer.from(jwk.x!, "base64url");
}

function loadPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new SealError(`the sealing public key is not a valid PEM public key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== "x25519") {
    throw new SealError(
      `the sealing public key is a ${key.asymmetricKeyType ?? "unknown"} key; an X25519 key is required ` +
        `(make one with generateSealingKeys())`,
    );
  }
  return key;
}

function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new SealError(`the reveal private key is not a valid PEM private key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== "x25519") {
    throw new SealError(
      `the reveal private key is a ${key.asymmetricKeyType ?? "unknown"} key; the X25519 key made by ` +
        `generateSealingKeys() is required`,
    );
  }
  return key;
}

function keyId(recipientRaw: Buffer): Buffer {
  return createHash("sha256").update(recipientRaw).digest().subarray(0, 8);
}

function deriveKey(shared: Buffer, ephemeralRaw: Buffer, recipientRaw: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([ephemeralRaw, recipientRaw]), INFO, 32));
}

function aad(kid: Buffer, submissionId: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${PREFIX}.${VERSION}\0`, "utf8"),
    kid,
    Buffer.from(submissionId, "utf8"),
  ]);
}

/** Seals `score` for `submissionId` to the organizer's public key. */
export function sealScore(score: number, submissionId: string, publicKeyPem: string): string {
  if (!Number.isFinite(score)) throw new SealError(`cannot seal score ${score}: it must be a finite number`);
  if (submissionId.length === 0) throw new SealError("cannot seal a score for an empty submission id");
  const recipient = loadPublicKey(publicKeyPem);
  const recipientRaw = rawPublic(recipient);
  const ephemeral = generateKeyPairSync("x25519");
  const ephemeralRaw = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const key = deriveKey(shared, ephemeralRaw, recipientRaw);
  const kid = keyId(recipientRaw);
  const nonce = randomBytes(12);
  const plaintext = Buffer.alloc(8);
  plaintext.writeDoubleBE(score);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad(kid, submissionId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [
    PREFIX,
    VERSION,
    ...[kid, ephemeralRaw, nonce, ciphertext, tag].map((b) => b.toString("base64url")),
  ].join(".");
}

/** Opens a sealed score of `submissionId`. Throws a `SealError` naming the submission and the cause. */
export function openSealedScore(sealed: string, submissionId: string, privateKeyPem: string): number {
  return openWith(sealed, submissionId, openingKey(privateKeyPem));
}

interface OpeningKey {
  privateKey: KeyObject;
  recipientRaw: Buffer;
  kid: Buffer;
}

function openingKey(privateKeyPem: string): OpeningKey {
  const privateKey = loadPrivateKey(privateKeyPem);
  const recipientRaw = rawPublic(createPublicKey(privateKey));
  return { privateKey, recipientRaw, kid: keyId(recipientRaw) };
}

function openWith(
  sealed: string,
  submissionId: string,
  { privateKey, recipientRaw, kid: ownKid }: OpeningKey,
): number {
  const what = `sealed private score of submission ${JSON.stringify(submissionId)}`;
  const parts = sealed.split(".");
  if (parts[0] !== PREFIX) {
    throw new SealError(`${what} is not a sealed score (it should start with "${PREFIX}.${VERSION}.")`);
  }
  if (parts[1] !== VERSION) {
    throw new SealError(`${what} uses format ${JSON.stringify(parts[1])}; only ${VERSION} is supported`);
  }
  const fields = parts.slice(2).map((p) => Buffer.from(p, "base64url"));
  const [kid, ephemeralRaw, nonce, ciphertext, tag] = fields;
  const wellFormed =
    fields.length === 5 &&
    parts.slice(2).every((p) => /^[A-Za-z0-9_-]+$/.test(p)) &&
    kid!.length === 8 &&
    ephemeralRaw!.length === 32 &&
    nonce!.length === 12 &&
    ciphertext!.length === 8 &&
    tag!.length === 16;
  if (!wellFormed) throw new SealError(`${what} is malformed (wrong number or size of parts)`);

  if (!ownKid.equals(kid!)) {
    throw new SealError(
      `${what} was sealed for another key (key id ${kid!.toString("base64url")}, this private key has ` +
        `${ownKid.toString("base64url")}); use the organizer key that matches the public key ` +
        `the runners sealed with`,
    );
  }
  let ephemeral: KeyObject;
  try {
    ephemeral = createPublicKey({
      key: { kty: "OKP", crv: "X25519", x: ephemeralRaw!.toString("base64url") },
      format: "jwk",
    });
  } catch {
    throw new SealError(`${what} is malformed (bad ephemeral key)`);
  }
  const shared = diffieHellman({ privateKey, publicKey: ephemeral });
  const key = deriveKey(shared, ephemeralRaw!, recipientRaw);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce!);
  decipher.setAAD(aad(kid!, submissionId));
  decipher.setAuthTag(tag!);
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(ciphertext!), decipher.final()]);
  } catch {
    throw new SealError(
      `${what} failed authentication: it was altered, or it was sealed for a different submission ` +
        `(sealed values cannot be moved between entries)`,
    );
  }
  return plaintext.readDoubleBE(0);
}

export class RevealError extends Error {
  override name = "RevealError";
  constructor(
    message: string,
    readonly failures: readonly { submissionId: string; error: SealError }[],
  ) {
    super(message);
  }
}

/**
 * Opens every sealed private score in the store and returns all entries with `privateScore` filled
 * (null where nothing was sealed). Nothing is written back: plain private scores stay in memory, and the
 * store keeps only sealed values, so reveal is repeatable and the stored file never changes. Rank the
 * result with `rankEntries(entries, rules, { mode: "private" })`.
 *
 * Fails (RevealError listing every bad entry) if any sealed value cannot be opened: a partial reveal would
 * silently misrank.
 */
export async function reveal(store: LeaderboardStore, privateKeyPem: string): Promise<LeaderboardEntry[]> {
  return revealEntries(await store.list(), privateKeyPem);
}

/** `reveal` of entries already read (e.g. the gateway's record of the final phase). */
export function revealEntries(
  entries: readonly LeaderboardEntry[],
  privateKeyPem: string,
): LeaderboardEntry[] {
  const key = openingKey(privateKeyPem);
  const failures: { submissionId: string; error: SealError }[] = [];
  const revealed = entries.map((entry) => {
    if (entry.sealedPrivateScore === null) return { ...entry, privateScore: null };
    try {
      return {
        ...entry,
        privateScore: openWith(entry.sealedPrivateScore, entry.submissionId, key),
      };
    } catch (error) {
      if (!(error instanceof SealError)) throw error;
      failures.push({ submissionId: entry.submissionId, error });
      return { ...entry, privateScore: null };
    }
  });
  if (failures.length > 0) {
    const shown = failures.slice(0, 5).map((f) => f.error.message);
    const more = failures.length > 5 ? `; and ${failures.length - 5} more` : "";
    throw new RevealError(
      `cannot reveal: ${failures.length} of ${entries.length} sealed private scores failed to open: ` +
        `${shown.join("; ")}${more}`,
      failures,
    );
  }
  return revealed;
}

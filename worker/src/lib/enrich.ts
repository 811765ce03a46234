/** Request enrichment done at the edge: geo from `request.cf`, and the client address anonymised before it goes anywhere. */
import type { Geo } from "#contracts";

/**
 * Zeroes the host part of an address: the last octet of IPv4, the last 80 bits of IPv6
 * (keeping the /48 network). Returns null for anything that is not an IP address.
 */
export function anonymiseIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const octets = v4.slice(1, 4).map(Number);
    return octets.every((o) => o <= 255) ? `${octets.join(".")}.0` : null;
  }
  if (!ip.includes(":") || !/^[0-9a-fA-F:.]+$/.test(ip)) return null;
  const groups = expandIpv6(ip);
  if (!groups) return null;
  return `${groups.slice(0, 3).join(":")}::`;
}

/**
 * Who a client is, for rate limits: an IPv4 address, or the /64 of an IPv6 one (a single host is handed a whole
 * /64 and can rotate through it at will). Anything unparseable is one shared "unknown" client.
 */
export function clientKey(ip: string | null | undefined): string {
  if (!ip) return "unknown";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return ip;
  const groups = ip.includes(":") ? expandIpv6(ip) : null;
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : "unknown";
}

function expandIpv6(ip: string): string[] | null {
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups; its host part is beyond the first 48 bits anyway.
  const width = (parts: string[]): number => parts.reduce((n, p) => n + (p.includes(".") ? 2 : 1), 0);
  const missing = 8 - width(head) - width(tail);
  if (halves.length === 1 && missing !== 0) return null;
  if (missing < 0) return null;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  const hex = groups.filter((g) => !g.includes("."));
  if (!hex.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return groups.map((g) => (g.includes(".") ? g : g.toLowerCase().replace(/^0+(?=.)/, "")));
}

/** The parts of `request.cf` the product keeps. */
export function geoFromCf(cf: Record<string, unknown> | undefined): Geo {
  if (!cf) return {};
  const text = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
  const geo: Geo = {
    country: text(cf.country),
    region: text(cf.region),
    city: text(cf.city),
    timezone: text(cf.timezone),
    asn: typeof cf.asn === "number" ? cf.asn : undefined,
  };
  return Object.fromEntries(Object.entries(geo).filter(([, v]) => v !== undefined)) as Geo;
}

import { describe, expect, it } from "vitest";
import { anonymiseIp, geoFromCf } from "./enrich.ts";

describe("anonymiseIp", () => {
  it.each([
    ["203.0.113.77", "203.0.113.0"],
    ["10.1.2.3", "10.1.2.0"],
    ["2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"],
    ["2001:0db8:0000::1", "2001:db8:0::"],
    ["::1", "0:0:0::"],
    ["::ffff:198.51.100.7", "0:0:0::"],
  ])("%s → %s", (ip, expected) => {
    expect(anonymiseIp(ip)).toBe(expected);
  });

  it.each([null, undefined, "", "999.1.1.1", "not an ip", "1.2.3", "2001:db8::1::2", "12345::", "1:2:3:4:5:6:7"])(
    "gives null for %s",
    (ip) => {
      expect(anonymiseIp(ip)).toBeNull();
    },
  );
});

describe("geoFromCf", () => {
  it("keeps country, region, city, timezone and asn and drops the rest", () => {
    expect(
      geoFromCf({ country: "DE", region: "Berlin", city: "Berlin", timezone: "Europe/Berlin", asn: 3320, colo: "TXL", latitude: "52.5" }),
    ).toEqual({ country: "DE", region: "Berlin", city: "Berlin", timezone: "Europe/Berlin", asn: 3320 });
  });

  it("is empty without request.cf or with blank values", () => {
    expect(geoFromCf(undefined)).toEqual({});
    expect(geoFromCf({ country: "", asn: "13335" })).toEqual({});
  });
});

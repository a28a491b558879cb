import { describe, expect, it } from "vitest";
import { response, type ServiceResponse } from "../../../src/core/index.js";
import { httpStatus } from "../../../src/worker/gateway/http-status.js";

describe("responses and their HTTP status", () => {
  it("maps every status and the library's error reasons", () => {
    const table: [ServiceResponse, number][] = [
      [response.ok(), 200],
      [response.ok({ a: 1 }), 200],
      [response.created("x", 0), 201],
      [response.validationError([]), 422],
      [response.missingId("id"), 400],
      [response.unauthorized(), 401],
      [response.forbidden("no"), 403],
      [response.serviceUnavailable("s"), 404],
      [response.serviceTimeout("s", "m", 5), 504],
      [response.error("not_found"), 404],
      [response.error("wrong_expected_version"), 409],
      [response.error("idempotency_key_reused"), 409],
      [response.error("payload_too_large"), 413],
      [response.error("event_too_large"), 413],
      [response.error("state_too_large"), 413],
      [response.error("internal_error"), 500],
      [response.error("invalid_event"), 500],
      [response.error("no_nodes_available"), 503],
      [response.error("insufficient_funds"), 400],
      [response.error("invalid_json"), 400],
    ];
    for (const [r, status] of table) expect(httpStatus(r), JSON.stringify(r)).toBe(status);
  });

  it("a reason named like an Object.prototype member is just a domain error (400)", () => {
    for (const reason of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(httpStatus(response.error(reason))).toBe(400);
    }
  });

  it("constructors never set a key to undefined", () => {
    expect(response.ok()).toStrictEqual({ status: "ok" });
    expect(response.created("x")).toStrictEqual({ status: "created", id: "x" });
    expect(response.error("e")).toStrictEqual({ status: "error", reason: "e" });
    expect(response.forbidden()).toStrictEqual({ status: "forbidden" });
    expect(response.unauthorized()).toStrictEqual({ status: "unauthorized" });
  });
});

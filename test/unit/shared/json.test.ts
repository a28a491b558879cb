import { describe, expect, it } from "vitest";
import { jsonProblem } from "../../../src/core/shared/json.js";

describe("jsonProblem: what does not survive a JSON round trip, and where", () => {
  it("finds nothing wrong in JSON values, nested or not", () => {
    for (const value of [null, true, "text", 0, -1.5, [], {}, { a: [1, "b", null, { c: false }], d: { e: { f: 2 } } }, Object.create(null)]) {
      expect(jsonProblem(value)).toBeNull();
    }
  });

  it("names the path of the first value JSON cannot carry", () => {
    expect(jsonProblem({ a: { b: Number.NaN } }, "data")).toBe("data.a.b is not a finite number");
    expect(jsonProblem({ list: [1, Number.POSITIVE_INFINITY] })).toBe("list.1 is not a finite number");
    expect(jsonProblem({ when: new Date(0) }, "data")).toBe("data.when is not a plain object");
    expect(jsonProblem({ a: 1, b: undefined })).toBe("b is undefined, which JSON cannot carry");
    expect(jsonProblem({ f: () => 1 })).toBe("f is function, which JSON cannot carry");
    expect(jsonProblem(10n)).toBe("value is bigint, which JSON cannot carry");
  });

  it("finds a cycle, and tells it from a value shared twice", () => {
    const shared = { x: 1 };
    expect(jsonProblem({ a: shared, b: shared })).toBeNull();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    expect(jsonProblem({ root: cyclic })).toBe("root.self is circular");
  });
});

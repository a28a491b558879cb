import { toJsonSchema } from "@valibot/to-json-schema";
import type { GenericSchema } from "valibot";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { JsonObject } from "../src/core/index.js";

/**
 * The demo's schemas are valibot's, which turn into JSON Schema (for OpenAPI) with valibot's own
 * converter; what JSON Schema cannot say (a `trim`) is left out. Other schemas: not this one's job.
 */
export function valibotJsonSchema(schema: StandardSchemaV1): JsonObject | undefined {
  if (schema["~standard"].vendor !== "valibot") return undefined;
  return toJsonSchema(schema as GenericSchema, { errorMode: "ignore" }) as JsonObject;
}

import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { toJsonSchema as valibotToJsonSchema } from "@valibot/to-json-schema";
import type { GenericSchema } from "valibot";
import { isJsonObject, jsonProblem, type JsonObject } from "../core/shared/json.js";

/**
 * A converter for request schemas that do not implement Standard JSON Schema themselves: returns
 * the JSON Schema (draft 2020-12) of what a caller sends, or undefined when it cannot convert this
 * one. It is asked before the built-in conversion of valibot schemas, which it can so override. It
 * may throw; a throw counts as "cannot convert".
 */
export type JsonSchemaConverter = (schema: StandardSchemaV1) => JsonObject | undefined;

/**
 * A request schema as JSON Schema, or why it could not be converted. `partial` says what a
 * converted schema leaves out (it then accepts more than the service does).
 */
export type JsonSchemaConversion = { ok: true; schema: JsonObject; partial?: string } | { ok: false; problem: string };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * A valibot schema as JSON Schema, by valibot's own converter (`@valibot/to-json-schema`): valibot
 * 1.x schemas do not describe themselves (no `~standard.jsonSchema`). What JSON Schema cannot say
 * (a `trim`, a `check`, a `custom` schema) is left out and named in `partial`.
 */
function fromValibot(schema: StandardSchemaV1): { schema: unknown; partial?: string } {
  const convert = (errorMode: "throw" | "ignore") =>
    valibotToJsonSchema(schema as GenericSchema, { target: "draft-2020-12", typeMode: "input", errorMode }) as unknown;
  try {
    return { schema: convert("throw") };
  } catch (error) {
    return { schema: convert("ignore"), partial: `${messageOf(error).replace(/\.$/, "")}: left out here, the service still checks it` };
  }
}

/**
 * The JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of the input a Standard Schema
 * accepts. It asks the schema itself first, through Standard Schema 1.1's Standard JSON Schema
 * interface (`~standard.jsonSchema`, implemented natively by zod 4 and arktype); then `override`,
 * the app's converter; then, for valibot schemas, valibot's own converter. Never throws: a schema
 * that cannot be converted comes back as a problem, for the caller to document the request as a
 * permissive object instead.
 */
export function toJsonSchema(schema: StandardSchemaV1, override?: JsonSchemaConverter): JsonSchemaConversion {
  const standard: StandardSchemaV1.Props & Partial<Pick<StandardJSONSchemaV1.Props, "jsonSchema">> = schema["~standard"];
  const vendor = typeof standard.vendor === "string" ? standard.vendor : "unknown";
  let converted: unknown;
  let partial: string | undefined;
  try {
    if (typeof standard.jsonSchema?.input === "function") converted = standard.jsonSchema.input({ target: "draft-2020-12" });
    else converted = override?.(schema);
    if (converted === undefined && vendor === "valibot") ({ schema: converted, partial } = fromValibot(schema));
  } catch (error) {
    return { ok: false, problem: `the ${vendor} schema could not be converted: ${messageOf(error)}` };
  }
  if (converted === undefined) {
    return { ok: false, problem: `${vendor} schemas do not implement Standard JSON Schema (~standard.jsonSchema)` };
  }
  // A converter's answer is checked like any other input: it ends up in a JSON document.
  const problem = jsonProblem(converted);
  if (problem !== null || !isJsonObject(converted)) {
    return { ok: false, problem: `the ${vendor} schema converted to something that is not a JSON object${problem === null ? "" : ` (${problem})`}` };
  }
  return partial === undefined ? { ok: true, schema: converted } : { ok: true, schema: converted, partial };
}

/**
 * Places a converted schema inside an OpenAPI document under `components/schemas/<name>`. A JSON
 * Schema refers to its own parts from its root (`#`, `#/$defs/X`, draft-07's `#/definitions/X`),
 * but inside the document `#` is the document: the root becomes `#/components/schemas/<name>`,
 * each definition its own component `<name>.<def>`, and every reference is rewritten to match.
 * Returns the components to add, the request's own first.
 */
export function asComponents(name: string, schema: JsonObject): Record<string, JsonObject> {
  const { $schema: _dialect, $defs, definitions, ...root } = schema;
  const defs = { ...(isJsonObject(definitions) ? definitions : {}), ...(isJsonObject($defs) ? $defs : {}) };
  const componentOf = (def: string) => `${name}.${def.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  const rewrite = (ref: string): string => {
    if (ref === "#") return `#/components/schemas/${name}`;
    const local = /^#\/(?:\$defs|definitions)\/([^/]+)(\/.*)?$/.exec(ref);
    // Any other pointer into the root (`#/properties/x`) now points into its component.
    if (local?.[1] === undefined) return ref.startsWith("#/") ? `#/components/schemas/${name}${ref.slice(1)}` : ref;
    const def = decodeURIComponent(local[1]).replace(/~1/g, "/").replace(/~0/g, "~");
    return `#/components/schemas/${componentOf(def)}${local[2] ?? ""}`;
  };
  const components: Record<string, JsonObject> = { [name]: rewriteRefs(root, rewrite) as JsonObject };
  for (const [def, value] of Object.entries(defs)) {
    if (isJsonObject(value)) components[componentOf(def)] = rewriteRefs(value, rewrite) as JsonObject;
  }
  return components;
}

/** A copy of `value` whose `$ref` strings went through `rewrite`. */
function rewriteRefs(value: JsonObject[string], rewrite: (ref: string) => string): JsonObject[string] {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, rewrite));
  if (!isJsonObject(value)) return value;
  const copy: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = key === "$ref" && typeof item === "string" ? rewrite(item) : rewriteRefs(item, rewrite);
  }
  return copy;
}

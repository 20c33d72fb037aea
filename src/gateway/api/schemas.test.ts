import { describe, expect, it } from "vitest";
import { HttpError } from "../errors.js";
import { schemaError } from "./schemas.js";

const error = (overrides: Record<string, unknown>) => ({
  keyword: "type",
  instancePath: "",
  schemaPath: "#/type",
  params: {},
  message: "must be object",
  ...overrides,
});

describe("schemaError", () => {
  it("answers 400 bad_request naming the field and the part of the request", () => {
    const refused = schemaError([error({ instancePath: "/chosen", message: "must be boolean" })], "body");
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ statusCode: 400, code: "bad_request" });
    expect(refused.message).toBe("`chosen` in the body must be boolean");
    expect(
      schemaError([error({ instancePath: "/usage/cpus", message: "must be number" })], "body").message,
    ).toBe("`usage.cpus` in the body must be number");
  });

  it("names a missing field as required, and the part itself when no field is at fault", () => {
    const missing = error({ keyword: "required", params: { missingProperty: "attempt" } });
    expect(schemaError([missing], "querystring").message).toBe("`attempt` in the query is required");
    expect(schemaError([error({})], "body").message).toBe("the body must be object");
    expect(schemaError([], "params").message).toBe("the path is not valid");
  });
});

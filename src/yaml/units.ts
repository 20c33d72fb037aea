import { z } from "zod";
import { parseDuration, parseSize, UnitError } from "../units/index.js";

/**
 * Config fields with units: "30m", "90s" → ms; "4g" → bytes (a bare number is taken as the unit's base).
 * The units are checked by zod, so a mistake is reported with its key and line like any other.
 */
export const durationField = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => unit(() => parseDuration(String(value)), ctx));
export const sizeField = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => unit(() => parseSize(String(value)), ctx));

function unit(parse: () => number, ctx: z.RefinementCtx): number {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UnitError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
    return z.NEVER;
  }
}

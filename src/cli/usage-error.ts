import { InvalidArgumentError } from "commander";
import { UnitError } from "../units/index.js";

/** A mistake in how proctor was called: says what to pass instead; exits with the usage code. */
export class UsageError extends Error {}

/** A commander argument parser that turns the units' errors into commander's usage errors. */
export function unitArg<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof UnitError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

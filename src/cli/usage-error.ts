/** A mistake in how proctor was called: says what to pass instead; exits with the usage code. */
export class UsageError extends Error {}

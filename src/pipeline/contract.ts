/** The container contract: the same paths locally and on runners. */
export const CONTAINER = {
  root: "/code_execution",
  src: "/code_execution/src",
  data: "/code_execution/data",
  submission: "/code_execution/submission",
} as const;

/**
 * What runs the participant's code. A runtime image with an entrypoint (runtime/entrypoint.sh) decides
 * itself; a bare image gets the interpreter for main.py or main.sh.
 */
export function submissionCommand(entrypoint: "main.py" | "main.sh", imageHasEntrypoint: boolean): string[] {
  if (imageHasEntrypoint) return [];
  return entrypoint === "main.py"
    ? ["python3", `${CONTAINER.src}/main.py`]
    : ["bash", `${CONTAINER.src}/main.sh`];
}

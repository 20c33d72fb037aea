/**
 * @actions/workflow-parser imports its JSON schemas without `with { type: "json" }`, which only bundlers
 * accept; Node refuses it. Vitest leaves node_modules to Node, so a module hook adds the attribute for that
 * package's .json files before it is imported.
 */
import { register } from "node:module";

const hook = `
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (result.url.endsWith(".json") && result.url.includes("/@actions/workflow-parser/")) {
    return { ...result, importAttributes: { ...context.importAttributes, type: "json" } };
  }
  return result;
}
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

export const { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } =
  await import("@actions/workflow-parser");
export const { convertActionTemplate, parseAction } = await import("@actions/workflow-parser/actions/index");

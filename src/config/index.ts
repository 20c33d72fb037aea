export {
  loadCompetition,
  resolveCompetition,
  imageRef,
  competitionSchema,
  type Competition,
  type Phase,
} from "./competition.js";
export { YamlConfigError, loadYamlFile, parseYaml, formatIssue, type YamlIssue } from "../yaml/index.js";

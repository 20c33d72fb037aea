import type { Environment, EnvPackage } from "./environment.js";
import { importTargetFor } from "./modules.js";

/** What the offline flavour lacks of the production environment it stands in for. */
export interface OfflineGap {
  /** Production packages whose module the offline flavour does not have (torch, lightgbm, ...). */
  missing: EnvPackage[];
  /** Production packages the offline flavour has too, at Debian's versions rather than the pinned ones. */
  shared: EnvPackage[];
}

const topModule = (pkg: EnvPackage): string | null => importTargetFor(pkg.name).module?.split(".")[0] ?? null;

/** Compares the two flavours by the module each package provides (pytorch and torch are one). */
export function offlineGap(production: Environment, offline: Environment): OfflineGap {
  const offlineModules = new Set(offline.packages.map(topModule).filter((m) => m !== null));
  const gap: OfflineGap = { missing: [], shared: [] };
  for (const pkg of production.packages) {
    const module = topModule(pkg);
    if (module === null) continue;
    (offlineModules.has(module) ? gap.shared : gap.missing).push(pkg);
  }
  return gap;
}

/** The package of `environment` that provides the Python module `module` (its top-level name), if any. */
export function providerOf(environment: Environment, module: string): EnvPackage | undefined {
  const top = module.split(".")[0];
  return environment.packages.find((pkg) => topModule(pkg) === top);
}

/** "pytorch=2.6.0" or "loguru": a package as a person reads it. */
export function packageLabel(pkg: EnvPackage): string {
  return pkg.version ? `${pkg.name}=${pkg.version}` : pkg.name;
}

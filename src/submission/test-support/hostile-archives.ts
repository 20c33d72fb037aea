/**
 * Image archives that try to make the loader apply a tag of their choosing (`victim`), each as `docker save`
 * would never write it: the manifest under another spelling of its name, a second manifest, keys the engine
 * reads without regard to case, a `repositories` file, index.json's name annotations, links. The image
 * itself is an honest one; only its names are hostile.
 */
import { dir, file, imageItems, symlink, type TarItem } from "./image-tar.js";

export interface HostileArchive {
  title: string;
  items: TarItem[];
}

export async function hostileArchives(victim: string): Promise<HostileArchive[]> {
  const docker = await imageItems({ layout: "docker", tags: [victim] });
  const both = await imageItems({ layout: "both", tags: [victim] });
  const manifestOf = (items: TarItem[]) => items.find((item) => item.header.name === "manifest.json")!;
  const manifest = JSON.parse(manifestOf(docker).data!.toString()) as Record<string, unknown>[];
  const honest = JSON.stringify(manifest.map((image) => ({ ...image, RepoTags: [] })));
  const without = (items: TarItem[], name: string) => items.filter((item) => item.header.name !== name);
  const [repo, tag] = victim.split(":") as [string, string];
  const configHex = String(manifest[0]!.Config).replace(/^blobs\/sha256\//, "");
  const renamed = (name: string): TarItem[] => [
    ...without(docker, "manifest.json"),
    { ...manifestOf(docker), header: { ...manifestOf(docker).header, name } },
  ];
  return [
    { title: "the archive's own RepoTags", items: docker },
    { title: "manifest.json named .//manifest.json", items: renamed(".//manifest.json") },
    { title: "manifest.json named ./manifest.json", items: renamed("./manifest.json") },
    {
      title: "a ./ folder entry before the manifest",
      items: [dir("./"), ...renamed("manifest.json")],
    },
    {
      title: "a second key repotags beside an empty RepoTags",
      items: [
        ...without(docker, "manifest.json"),
        file(
          "manifest.json",
          honest.replace('"RepoTags":[]', `"RepoTags":[],"repotags":[${JSON.stringify(victim)}]`),
        ),
      ],
    },
    {
      title: "a key RepoTagſ (Go folds ſ to s)",
      items: [
        ...without(docker, "manifest.json"),
        file("manifest.json", honest.replace('"RepoTags":[]', `"RepoTag\u017f":[${JSON.stringify(victim)}]`)),
      ],
    },
    {
      title: "a repositories file",
      items: [
        ...without(docker, "manifest.json"),
        file("repositories", JSON.stringify({ [repo]: { [tag]: configHex } })),
        file("manifest.json", honest),
      ],
    },
    {
      title: "a second manifest, Manifest.json",
      items: [
        ...without(docker, "manifest.json"),
        file("Manifest.json", manifestOf(docker).data!),
        file("manifest.json", honest),
      ],
    },
    { title: "index.json naming the victim", items: both },
    {
      title: "manifest.json a link to another file",
      items: [
        ...without(docker, "manifest.json"),
        file("names.json", manifestOf(docker).data!),
        symlink("manifest.json", "names.json"),
      ],
    },
    {
      title: "a folder link to the archive's root, then a manifest through it",
      items: [
        ...without(docker, "manifest.json"),
        symlink("up", "."),
        file("up/manifest.json", manifestOf(docker).data!),
      ],
    },
    {
      title: "manifest.json twice",
      items: [
        ...without(docker, "manifest.json"),
        file("manifest.json", honest),
        file("./manifest.json", manifestOf(docker).data!),
      ],
    },
    {
      title: "a manifest through ..",
      items: [...without(docker, "manifest.json"), file("x/../manifest.json", manifestOf(docker).data!)],
    },
  ];
}

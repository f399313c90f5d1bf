/**
 * `secret-folder` for the CLI: `dpk serve secret-folder [--root DIR]`.
 *
 * @since 0.1.0
 */
import { SecretProvider } from "@docker-plugin-kit/protocol"
import * as Descriptor from "../Descriptor.ts"
import * as SecretFolder from "./SecretFolderDefaults.ts"

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "secret-folder",
  description:
    "A SecretProvider serving swarm secrets (docker secret create --driver) from the files of a folder, one file per secret",
  apis: [SecretProvider.Api],
  flags: {
    root: Descriptor.folderFlag(
      "root",
      "Folder of the secrets' files (a secret's key, its label key or else its name, is a path under it)",
      SecretFolder.defaultRoot,
      "secret-folder"
    )
  },
  layer: ({ root }) =>
    Descriptor.load(
      () => import("./SecretFolder.ts"),
      (SecretFolder) => SecretFolder.layerNode({ root })
    ),
  // The files stay on the host, filled by whatever tool the operator uses; read-only: the plugin never writes them.
  // Another host folder is the mount's source (`docker plugin set NAME mount0.source=DIR`), so the root inside the
  // plugin is always the mount's destination: fixed in the entry point, where `docker plugin set NAME args=...`
  // cannot move it to a folder of the plugin's own rootfs (a second `--root` is refused at start).
  managed: {
    mounts: [{ source: SecretFolder.defaultRoot, destination: SecretFolder.defaultRoot, options: ["rbind", "ro"] }],
    serveFlags: ["--root", SecretFolder.defaultRoot]
  }
})

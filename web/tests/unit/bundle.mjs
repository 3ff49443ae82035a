// Loads a web/src module in node for the unit tests: esbuild bundles it to a
// temporary ES module (removed on exit) that the test imports.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src");
const out = mkdtempSync(join(tmpdir(), "henvis-web-unit-"));
process.on("exit", () => rmSync(out, { recursive: true, force: true }));

/** `name` relative to web/src without ".ts", e.g. "format" or "data/stats". */
export async function load(name) {
  const file = join(out, `${name.replace(/\//g, "_")}.mjs`);
  await build({ entryPoints: [join(src, `${name}.ts`)], bundle: true, format: "esm", outfile: file, logLevel: "error" });
  return import(pathToFileURL(file).href);
}

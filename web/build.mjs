// Builds the web app into dist/: app.js (esbuild bundle of src/main.ts),
// app.css (dkfds' CSS + ours, fonts emitted under assets/), index.html and
// dkfds' icons (img/). The municipalities come from ../data/municipalities.csv
// at build time (import "henvis:municipalities"). No inline script or style:
// henvis-web's Content-Security-Policy forbids them.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const dkfds = join(here, "node_modules", "dkfds", "dist");

function municipalities() {
  const lines = readFileSync(join(here, "..", "data", "municipalities.csv"), "utf8").trim().split("\n");
  const header = lines.shift().split(",");
  const col = (n) => header.indexOf(n);
  return lines
    .map((l) => l.split(","))
    .map((f) => ({ kommunekode: Number(f[col("kommunekode")]), name: f[col("name")], politikreds: f[col("politikreds")] }))
    .sort((a, b) => a.name.localeCompare(b.name, "da"));
}

const virtualData = {
  name: "henvis-data",
  setup(build) {
    build.onResolve({ filter: /^henvis:municipalities$/ }, (a) => ({ path: a.path, namespace: "henvis-data" }));
    build.onLoad({ filter: /.*/, namespace: "henvis-data" }, () => ({
      contents: JSON.stringify(municipalities()),
      loader: "json",
    }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, "src", "main.ts"), "app-css": join(here, "src", "app.css") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outdir: out,
  entryNames: "[name]",
  assetNames: "assets/[name]-[hash]",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".png": "file", ".svg": "file" },
  plugins: [virtualData],
  logLevel: "warning",
});
// esbuild names a CSS entry after its entry point; the page links /app.css.
cpSync(join(out, "app-css.css"), join(out, "app.css"));
rmSync(join(out, "app-css.css"));
rmSync(join(out, "app-css.css.map"), { force: true });
rmSync(join(out, "app-css.js"), { force: true });
cpSync(join(here, "index.html"), join(out, "index.html"));
cpSync(join(dkfds, "img"), join(out, "img"), { recursive: true });
console.log("built", out);

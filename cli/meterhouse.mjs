#!/usr/bin/env node
// The package's bin: runs the TypeScript CLI through tsx (a dependency, as for the server).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');

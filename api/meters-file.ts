import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { isDeepStrictEqual } from 'node:util';
import type { Db } from '../sql/query.js';
import { definitionOf, getMeter, meterDefinition, saveMeter } from '../sql/queries/meters.js';

/** A meters file: `{ "<tenantId>": [ <meter>, ... ] }`. */
const metersFile = z.record(z.string().min(1).max(128), z.array(meterDefinition));

/**
 * Load meter definitions at start. The file is the source of truth for the
 * meters it names: a definition that differs from the stored one replaces it.
 * Meters not in the file are left alone. An invalid file stops startup.
 */
export async function loadMetersFile(db: Db, path: string): Promise<{ saved: number; unchanged: number }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`METERS_FILE ${path} cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const result = metersFile.safeParse(parsed);
  if (!result.success) {
    const where = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`METERS_FILE ${path} is invalid: ${where}`);
  }
  let saved = 0;
  let unchanged = 0;
  for (const [tenantId, meters] of Object.entries(result.data)) {
    for (const definition of meters) {
      const current = await getMeter(db, tenantId, definition.key);
      if (current) {
        if (isDeepStrictEqual(definitionOf(current), definition)) {
          unchanged++;
          continue;
        }
        await saveMeter(db, tenantId, definition, current.createdAt);
      } else {
        await saveMeter(db, tenantId, definition);
      }
      saved++;
    }
  }
  return { saved, unchanged };
}

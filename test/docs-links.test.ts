import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README and docs/ link only inside the repository, and every link lands:
 * the file exists and, for #anchors into Markdown, the heading does.
 */
const ROOT = join(import.meta.dirname, '..');

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), join(ROOT, 'clients/js/README.md'), ...docs];
}

/** Outside fences and code spans: a link in an example is not a link. */
function prose(text: string): string {
  return text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

function links(file: string): string[] {
  return [...prose(readFileSync(file, 'utf8')).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

describe('README and docs links', () => {
  it('the anchor rule matches GitHub on headings with code and punctuation', () => {
    expect([...anchors('## Where the data lives: `GET /v1/operator/storage`\n## A\n## A')]).toEqual(['where-the-data-lives-get-v1operatorstorage', 'a', 'a-1']);
  });

  for (const file of markdownFiles()) {
    it(`${relative(ROOT, file)}: every link stays in the repository and lands`, () => {
      const broken: string[] = [];
      for (const target of links(file)) {
        if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(target)) {
          broken.push(`${target}: points outside the repository`);
          continue;
        }
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        if (!resolved.startsWith(ROOT + '/') && resolved !== ROOT) broken.push(`${target}: leaves the repository`);
        else if (!existsSync(resolved)) broken.push(`${target}: no such file`);
        else if (anchor && statSync(resolved).isFile() && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${target}: no such heading`);
      }
      expect(broken).toEqual([]);
    });
  }
});

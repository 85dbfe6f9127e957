// The repository's documentation as the running server shows it at /docs/:
// the Markdown as written (preformatted, nothing interpreted), with anchors on
// the headings so the index page can link a README section, and the paths of
// other served documents made links.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Doc {
  /** Path in the repository, e.g. `packager/README.md`. */
  readonly file: string;
  /** Where it is served: `/docs/` + the path, files in docs/ without the folder (`/docs/embedding.md`). */
  readonly url: string;
  readonly title: string;
  /** Second-level headings: the sections. */
  readonly sections: readonly { readonly title: string; readonly id: string }[];
  readonly text: string;
}

/** The READMEs served besides docs/*.md, in the order the index lists them. */
const READMES = ['README.md', 'packager/README.md', 'transcode/README.md', 'infra/README.md'];

const REPOSITORY = fileURLToPath(new URL('..', import.meta.url));

/** Reads README.md, the stage READMEs and docs/*.md under `root` (the repository); missing ones are left out. */
export async function loadDocs(root: string = REPOSITORY): Promise<Doc[]> {
  const inDocs = (await readdir(path.join(root, 'docs')).catch(() => [] as string[])).filter((f) => f.endsWith('.md')).sort();
  const files = [...READMES, ...inDocs.map((f) => `docs/${f}`)];
  const texts = await Promise.all(files.map((f) => readFile(path.join(root, f), 'utf8').catch(() => undefined)));
  return files.flatMap((file, i) => {
    const text = texts[i];
    return text === undefined ? [] : [toDoc(file, text)];
  });
}

function toDoc(file: string, text: string): Doc {
  const headings = outline(text);
  return {
    file,
    url: `/docs/${file.replace(/^docs\//, '')}`,
    title: headings.find((h) => h.level === 1)?.title ?? file,
    sections: headings.filter((h) => h.level === 2).map(({ title, id }) => ({ title, id })),
    text,
  };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

type Heading = { line: number; level: number; title: string; id: string };

/** Headings outside code fences (a `# comment` in a shell block is not one). */
function outline(text: string): Heading[] {
  const out: Heading[] = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) out.push({ line: i, level: m[1]!.length, title: m[2]!, id: slug(m[2]!) });
  });
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The document as an HTML page; `all` are the served documents whose paths become links. */
export function renderDoc(doc: Doc, all: readonly Doc[]): string {
  const byFile = new Map(all.map((d) => [escapeHtml(d.file), d.url]));
  // One pass, longest paths first, so `README.md` never matches inside `packager/README.md`.
  const paths = [...byFile.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const linkable = new RegExp(`(?<![\\w/.-])(${paths.join('|')})(?![\\w/-])`, 'g');
  const headings = new Map(outline(doc.text).map((h) => [h.line, h]));
  const lines = doc.text.split('\n').map((raw, i) => {
    const html = escapeHtml(raw).replace(linkable, (p) => `<a href="${byFile.get(p)!}">${p}</a>`);
    const h = headings.get(i);
    return h ? `<strong id="${escapeHtml(h.id)}">${html}</strong>` : html;
  });
  const contents = doc.sections.map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stagecast · ${escapeHtml(doc.title)}</title>
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: dark; background: #111; color: #eee; }
  body { max-width: 1100px; margin: 1rem auto; padding: 0 1rem; }
  pre { white-space: pre-wrap; font-size: .9rem; line-height: 1.45; }
  a { color: #8ab4f8; }
</style>
</head>
<body>
<p><a href="/">stagecast</a> · <code>${escapeHtml(doc.file)}</code></p>
${contents ? `<nav><ul>${contents}</ul></nav>` : ''}
<pre>${lines.join('\n')}</pre>
</body>
</html>
`;
}

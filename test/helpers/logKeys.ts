/**
 * Duplicate keys in JSON log lines. pino does not merge child bindings: a child
 * that binds a key its parent bound already writes it twice, and log pipelines
 * (Elasticsearch, Fluent Bit) reject such a line or keep one of the two.
 * JSON.parse keeps the last, so the line is scanned as text.
 */

/** The top-level keys of one JSON object line, in order, repeats included. */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** Each JSON line with a key written more than once: the keys and the message. */
export function linesWithDuplicateKeys(text: string): { keys: string[]; msg: string }[] {
  const out: { keys: string[]; msg: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const keys = topLevelKeys(line);
    const twice = [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
    if (twice.length > 0) out.push({ keys: twice, msg: String((JSON.parse(line) as { msg?: unknown }).msg) });
  }
  return out;
}

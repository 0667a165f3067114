/**
 * A reader for the plain subset of YAML that config.yaml uses almost always: nested
 * block mappings of scalars, comments and blank lines. The `yaml` library costs
 * 25-50 ms to load, more than the rest of `lsm get`; this reads the common case in
 * microseconds. Anything outside the subset returns undefined and the caller falls
 * back to the full library, so the answer is never a guess.
 */
export type Plain = string | number | boolean | null | { [k: string]: Plain };

const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/;

function scalar(text: string): Plain | undefined {
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null;
  const c = text[0];
  if (c === "'") {
    if (text.length < 2 || !text.endsWith("'")) return undefined;
    const body = text.slice(1, -1);
    if (/'(?!')/.test(body.replace(/''/g, ''))) return undefined;
    return body.replace(/''/g, "'");
  }
  if (c === '"') {
    if (text.length < 2 || !text.endsWith('"')) return undefined;
    const body = text.slice(1, -1);
    let out = '';
    for (let i = 0; i < body.length; i++) {
      const ch = body[i];
      if (ch === '"') return undefined;
      if (ch !== '\\') { out += ch; continue; }
      const e = body[++i];
      if (e === '"' || e === '\\' || e === '/') out += e;
      else if (e === 'n') out += '\n';
      else if (e === 't') out += '\t';
      else return undefined;
    }
    return out;
  }
  // Indicators that start something richer than a plain scalar.
  if ('[]{}&*!|>%@`?-,'.includes(c) && !(c === '-' && /^-\d/.test(text))) return undefined;
  if (text.includes(': ') || text.includes(' #') || text.endsWith(':')) return undefined;
  if (text === 'true' || text === 'True' || text === 'TRUE') return true;
  if (text === 'false' || text === 'False' || text === 'FALSE') return false;
  // YAML 1.2 core-schema numbers. Anything else that starts with a digit (`10s`, `1.2.3`)
  // is a plain string, so durations in config.yaml stay on the fast path.
  if (/^[-+]?[0-9]+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) && /^[-+]?(0|[1-9][0-9]*)$/.test(text) ? n : undefined;
  }
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^0x[0-9a-fA-F]+$|^0o[0-7]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/.test(text)) return undefined;
  return text;
}

function stripComment(line: string): string {
  // Only called on lines whose value is not quoted; a '#' after a space starts a comment.
  const i = line.search(/(^|\s)#/);
  return (i < 0 ? line : line.slice(0, i)).trimEnd();
}

export function parseMini(text: string): { [k: string]: Plain } | undefined {
  if (text.includes('\t') || text.includes('\r')) return undefined;
  const root: { [k: string]: Plain } = {};
  // Stack of open mappings with the indentation of their keys.
  const stack: { indent: number; map: { [k: string]: Plain } }[] = [{ indent: 0, map: root }];
  let pending: { parent: { [k: string]: Plain }; key: string; indent: number } | undefined;
  const lines = text.split('\n');
  for (const raw of lines) {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (raw.charCodeAt(0) === 0xfeff || trimmed === '---' || trimmed === '...') return undefined;
    const indent = raw.length - raw.trimStart().length;
    if (pending) {
      if (indent > pending.indent) {
        const child: { [k: string]: Plain } = {};
        pending.parent[pending.key] = child;
        stack.push({ indent, map: child });
      } else {
        pending.parent[pending.key] = null;
      }
      pending = undefined;
    }
    while (stack.length > 1 && indent < stack[stack.length - 1].indent) stack.pop();
    const top = stack[stack.length - 1];
    if (indent !== top.indent) return undefined;
    const colon = trimmed.indexOf(':');
    if (colon <= 0) return undefined;
    const keyText = trimmed.slice(0, colon);
    let key: string;
    if (PLAIN_KEY.test(keyText)) key = keyText;
    else {
      const k = keyText.startsWith('"') || keyText.startsWith("'") ? scalar(keyText) : undefined;
      if (typeof k !== 'string') return undefined;
      key = k;
    }
    if (Object.prototype.hasOwnProperty.call(top.map, key)) return undefined;
    const rest = trimmed.slice(colon + 1);
    if (rest !== '' && !rest.startsWith(' ')) return undefined;
    const valueText = rest.trim();
    let value: Plain | undefined;
    if (valueText.startsWith('"') || valueText.startsWith("'")) {
      // A quoted value may be followed by a comment only.
      const q = valueText[0];
      let end = -1;
      for (let i = 1; i < valueText.length; i++) {
        if (q === '"' && valueText[i] === '\\') { i++; continue; }
        if (valueText[i] === q) {
          if (q === "'" && valueText[i + 1] === "'") { i++; continue; }
          end = i;
          break;
        }
      }
      if (end < 0) return undefined;
      const after = valueText.slice(end + 1).trim();
      if (after !== '' && !after.startsWith('#')) return undefined;
      value = scalar(valueText.slice(0, end + 1));
    } else {
      const v = stripComment(valueText);
      if (v === '') {
        pending = { parent: top.map, key, indent };
        continue;
      }
      value = scalar(v);
    }
    if (value === undefined) return undefined;
    top.map[key] = value;
  }
  if (pending) pending.parent[pending.key] = null;
  return root;
}

/**
 * Just enough of a JavaScript reader to look at an astro config without
 * running it (running it would import the site's dependencies): two copies
 * of the source, index for index, one without comments and one without
 * comments or string contents, so that braces and calls are found only
 * where they are code. Regular-expression literals are not recognised; an
 * astro config rarely has one with a quote or a brace in it.
 */
export interface JsSource {
  /** The source with comments blanked out. */
  code: string;
  /** `code` with the contents of strings and template literals blanked too (the quotes stay). */
  shape: string;
}

export function readJsSource(source: string): JsSource {
  let code = '';
  let shape = '';
  const blank = (text: string) => text.replace(/[^\n]/g, ' ');
  for (let i = 0; i < source.length; ) {
    const rest = source.startsWith('//', i) ? 'line' : source.startsWith('/*', i) ? 'block' : undefined;
    if (rest) {
      const end = rest === 'line' ? indexOrEnd(source, '\n', i) : indexOrEnd(source, '*/', i + 2) + 2;
      const comment = blank(source.slice(i, end));
      code += comment;
      shape += comment;
      i = end;
      continue;
    }
    const char = source[i]!;
    if (char === '"' || char === "'" || char === '`') {
      let end = i + 1;
      while (end < source.length && source[end] !== char && (char === '`' || source[end] !== '\n')) end += source[end] === '\\' ? 2 : 1;
      end = Math.min(end + 1, source.length);
      const literal = source.slice(i, end);
      code += literal;
      shape += char + blank(literal.slice(1, -1)) + (literal.length > 1 ? literal.at(-1)! : '');
      i = end;
      continue;
    }
    code += char;
    shape += char;
    i += 1;
  }
  return { code, shape };
}

/** The index just past the parenthesis that closes the one at `open`, in a shape; -1 when it is never closed. */
export function closingParen(shape: string, open: number): number {
  let depth = 0;
  for (let i = open; i < shape.length; i++) {
    if (shape[i] === '(') depth++;
    else if (shape[i] === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/** How many braces are open at `index` of a shape. */
export function braceDepth(shape: string, index: number): number {
  let depth = 0;
  for (let i = 0; i < index; i++) {
    if (shape[i] === '{') depth++;
    else if (shape[i] === '}') depth--;
  }
  return depth;
}

function indexOrEnd(text: string, search: string, from: number): number {
  const at = text.indexOf(search, from);
  return at === -1 ? text.length : at;
}

/**
 * A strict parser of the Prometheus text exposition format (0.0.4), as node_exporter's
 * textfile collector reads it. Written for the tests, apart from the code under test:
 * it throws on the first line that breaks the grammar, with the line number.
 *
 *   # HELP <name> <text, escapes \\ and \n>
 *   # TYPE <name> counter|gauge|histogram|summary|untyped   (once, before the family's samples)
 *   <name>[{<label>="<value, escapes \\ \" \n>",...}] <float> [<int64 timestamp>]
 *
 * Also refused: a family's samples split by another family, a series given twice, a label
 * named twice or starting with "__", text after the value, a file not ending in a newline.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp: number | null;
}

export interface Family {
  name: string;
  type: string | null;
  help: string | null;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function parseFloatStrict(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`${where}: "${text}" is not a float`);
  return Number(text);
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const type = families.get(base)?.type;
      if (type === 'histogram' || type === 'summary') return base;
    }
  }
  return name;
}

export function parsePromText(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  const closed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n').slice(0, -1);
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: null, help: null, samples: [] }));
    return f;
  };
  const enter = (name: string, where: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new Error(`${where}: the family ${name} continues after another family began`);
    if (current !== null) closed.add(current);
    current = name;
  };

  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line}`);
        return; // a plain comment
      }
      const [, keyword, name, rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`${where}: "${name}" is not a metric name`);
      const f = family(name);
      enter(name, where);
      if (keyword === 'TYPE') {
        if (f.type !== null) throw new Error(`${where}: a second TYPE for ${name}`);
        if (f.samples.length) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.includes(rest)) throw new Error(`${where}: "${rest}" is not a metric type`);
        f.type = rest;
      } else {
        if (f.help !== null) throw new Error(`${where}: a second HELP for ${name}`);
        if (/\\[^\\n]|\\$/.test(rest)) throw new Error(`${where}: a bad escape in HELP`);
        f.help = rest.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
      }
      return;
    }
    // A sample: the name, then labels read character by character (values may hold anything escaped).
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`${where}: no metric name at the start of "${line}"`);
    const name = nameMatch[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        if (line[pos] === '}') {
          pos++;
          break;
        }
        const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
        if (!lm) throw new Error(`${where}: a bad label name at column ${pos + 1}`);
        const label = lm[0];
        if (!LABEL.test(label) || label.startsWith('__')) throw new Error(`${where}: label "${label}" is reserved`);
        if (label in labels) throw new Error(`${where}: label "${label}" given twice`);
        pos += label.length;
        if (line.slice(pos, pos + 2) !== '="') throw new Error(`${where}: expected =" after ${label}`);
        pos += 2;
        let value = '';
        for (;;) {
          const c = line[pos];
          if (c === undefined) throw new Error(`${where}: an unterminated label value`);
          if (c === '"') {
            pos++;
            break;
          }
          if (c === '\\') {
            const next = line[pos + 1];
            if (next === '\\') value += '\\';
            else if (next === '"') value += '"';
            else if (next === 'n') value += '\n';
            else throw new Error(`${where}: a bad escape \\${next ?? ''} in a label value`);
            pos += 2;
            continue;
          }
          value += c;
          pos++;
        }
        labels[label] = value;
        if (line[pos] === ',') {
          pos++;
          continue;
        }
        if (line[pos] !== '}') throw new Error(`${where}: expected , or } at column ${pos + 1}`);
      }
    }
    const rest = line.slice(pos);
    const parts = rest.split(' ');
    // Exactly one space before the value (and before a timestamp): what the collector's parser accepts, strictly.
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3 || parts.slice(1).some((p) => p === '')) {
      throw new Error(`${where}: expected " <value>[ <timestamp>]" after the series, got "${rest}"`);
    }
    const value = parseFloatStrict(parts[1], where);
    let timestamp: number | null = null;
    if (parts.length === 3) {
      if (!/^-?\d+$/.test(parts[2])) throw new Error(`${where}: "${parts[2]}" is not a timestamp`);
      timestamp = Number(parts[2]);
    }
    const base = familyOf(name, families);
    enter(base, where);
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    if (seriesSeen.has(key)) throw new Error(`${where}: the series ${key} appears twice`);
    seriesSeen.add(key);
    family(base).samples.push({ name, labels, value, timestamp });
  });
  return families;
}

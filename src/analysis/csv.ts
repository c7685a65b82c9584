// RFC 4180 CSV: fields with commas, quotes or newlines are quoted; quotes doubled. Pure.

export type CsvValue = string | number | boolean | null | undefined;

function field(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of objects → CSV text with the given column order (header line first). */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const lines = [columns.map(field).join(',')];
  for (const r of rows) lines.push(columns.map((c) => field(r[c] as CsvValue)).join(','));
  return lines.join('\n') + '\n';
}

/** CSV text → array of records keyed by the header line (all values are strings). */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cur += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cur += ch;
      i++;
      continue;
    }
    if (ch === '"' && cur === '') quoted = true;
    else if (ch === ',') {
      row.push(cur);
      cur = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cur);
      rows.push(row);
      row = [];
      cur = '';
    } else cur += ch;
    i++;
  }
  if (quoted) throw new Error('parseCsv: unterminated quoted field');
  if (cur !== '' || row.length > 0) {
    row.push(cur);
    rows.push(row);
  }
  const nonEmpty = rows.filter((r) => !(r.length === 1 && r[0] === ''));
  if (nonEmpty.length === 0) return [];
  const header = nonEmpty[0]!;
  return nonEmpty.slice(1).map((r, li) => {
    if (r.length !== header.length) throw new Error(`parseCsv: row ${li + 2} has ${r.length} fields, header has ${header.length}`);
    return Object.fromEntries(header.map((h, k) => [h, r[k]!]));
  });
}

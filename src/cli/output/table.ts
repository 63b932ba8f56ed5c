/**
 * Column alignment like Go's text/tabwriter as docker configures it
 * (minwidth 10, padding 3, pad with spaces): tab-terminated cells are aligned, the last cell
 * of a line is not.
 */
export function alignTabs(text: string, minWidth = 10, padding = 3): string {
  const lines = text.split('\n');
  const rows = lines.map((line) => line.split('\t'));
  const widths: number[] = [];
  for (const cells of rows) {
    for (let i = 0; i < cells.length - 1; i++) widths[i] = Math.max(widths[i] ?? 0, displayWidth(cells[i]!));
  }
  return rows
    .map((cells) =>
      cells
        .map((cell, i) => {
          if (i === cells.length - 1) return cell;
          const width = Math.max(widths[i]! + padding, minWidth);
          return cell + ' '.repeat(width - displayWidth(cell));
        })
        .join(''),
    )
    .join('\n');
}

function displayWidth(text: string): number {
  return [...text].length;
}

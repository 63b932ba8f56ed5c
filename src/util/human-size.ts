/** Human sizes as docker prints them (github.com/docker/go-units), shared by the CLI and the daemon's progress messages. */

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `%.<precision>g` for the magnitudes sizes produce: significant digits, no trailing zeros. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return '0';
  let text = value.toPrecision(precision);
  if (text.includes('e')) {
    const [mantissa, exp] = text.split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${m}e${sign}${digits}`;
  }
  if (text.includes('.')) text = text.replace(/\.?0+$/, '');
  return text;
}

function customSize(size: number, precision: number, base: number, units: string[]): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatG(size, precision)}${units[i]}`;
}

/** go-units HumanSizeWithPrecision: decimal units, e.g. "1.23MB". */
export function humanSize(bytes: number, precision = 4): string {
  return customSize(bytes, precision, 1000, DECIMAL_UNITS);
}

/** go-units BytesSize: binary units, e.g. "1.5GiB". */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 4, 1024, BINARY_UNITS);
}

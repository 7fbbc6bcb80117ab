/**
 * Reads a configuration file as text. A configuration is a few kilobytes of
 * UTF-8; anything else is refused here with one clear problem, before the
 * YAML parser sees it: more than MAX_CONFIG_BYTES (`--config /dev/zero`),
 * UTF-16 or UTF-32 text, and bytes that are not UTF-8 (which a decoder would
 * silently replace), located by line and column.
 */
import { open } from 'node:fs/promises';
import type { ConfigProblem } from './problems.ts';

/** The largest configuration file read. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

export type ConfigText = { text: string; problem?: undefined } | { text?: undefined; problem: ConfigProblem };

function readErrorMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'cannot read configuration file: no such file';
  if (code === 'EISDIR') return 'cannot read configuration file: it is a directory';
  if (code === 'EACCES') return 'cannot read configuration file: permission denied';
  return `cannot read configuration file: ${(err as Error).message}`;
}

/** At most `limit` bytes of the file, or undefined when it holds more. Reads devices and pipes too. */
async function readAtMost(file: string, limit: number): Promise<Buffer | undefined> {
  const handle = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      total += bytesRead;
      if (total > limit) return undefined;
      chunks.push(chunk.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/**
 * The encodings YAML 1.2 (section 5.2) tells apart by the first bytes, other
 * than UTF-8: a byte-order mark, or the zero bytes of an ASCII first character.
 * Named as iconv names them.
 */
function wideEncoding(b: Buffer): string | undefined {
  const [b0, b1, b2, b3] = [b[0], b[1], b[2], b[3]];
  if (b0 === 0 && b1 === 0 && (b2 === 0xfe ? b3 === 0xff : b2 === 0 && b3 !== undefined)) return 'UTF-32BE';
  if (b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) return 'UTF-32LE';
  if (b0 !== undefined && b0 !== 0 && b1 === 0 && b2 === 0 && b3 === 0) return 'UTF-32LE';
  if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0 && b1 !== undefined)) return 'UTF-16BE';
  if ((b0 === 0xff && b1 === 0xfe) || (b0 !== undefined && b0 !== 0 && b1 === 0)) return 'UTF-16LE';
  return undefined;
}

/**
 * The first byte that is not UTF-8, with its line and column (1-based,
 * columns in characters), or undefined when every byte is. The platform
 * decoder marks bad bytes with U+FFFD; one the file really contains is
 * told apart by its own three bytes.
 */
function firstInvalidByte(bytes: Buffer, text: string): { byte: number; line: number; column: number } | undefined {
  // The decoder drops a UTF-8 byte-order mark: text starts after it.
  let offset = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let scanned = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) {
    offset += Buffer.byteLength(text.slice(scanned, i));
    scanned = i + 1;
    if (bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd) {
      offset += 3;
      continue;
    }
    const before = text.slice(0, i);
    const lineStart = before.lastIndexOf('\n') + 1;
    return { byte: bytes[offset]!, line: (before.match(/\n/g)?.length ?? 0) + 1, column: i - lineStart + 1 };
  }
  return undefined;
}

/** The file's text, or the one problem that stops it from being read. */
export async function readConfigText(file: string): Promise<ConfigText> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readAtMost(file, MAX_CONFIG_BYTES);
  } catch (err) {
    return { problem: { path: [], file, message: readErrorMessage(err) } };
  }
  if (bytes === undefined) {
    return { problem: { path: [], file, message: `configuration file is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, the most zonetap reads` } };
  }
  const wide = wideEncoding(bytes);
  if (wide) {
    return { problem: { path: [], file, message: `the file is ${wide} text; zonetap reads UTF-8 only: convert it, e.g. iconv -f ${wide} -t UTF-8` } };
  }
  const text = new TextDecoder('utf-8').decode(bytes);
  const bad = firstInvalidByte(bytes, text);
  if (bad) {
    const hex = `0x${bad.byte.toString(16).toUpperCase().padStart(2, '0')}`;
    return { problem: { path: [], position: { file, line: bad.line, column: bad.column }, message: `byte ${hex} is not UTF-8: a configuration file must be UTF-8 text` } };
  }
  return { text };
}

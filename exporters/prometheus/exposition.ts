/**
 * The text exposition (Prometheus text format 0.0.4) of the flow counters,
 * rendered straight from the series stores, in slices that yield to the
 * event loop.
 *
 * Why not @opentelemetry/exporter-prometheus's serializer: measured on 20,000
 * label sets (80,000 lines), it spends about 98 % of a render (1.6-2.5 s of
 * 1.7-2.6 s) escaping and sanitizing every label of every series again on
 * every scrape, although a series' labels never change, and it does so in one
 * synchronous call that no ingest can interrupt. Here a series' label text is
 * built once, as bytes, and kept with the series (a WeakMap: it goes when the
 * store drops the series), so a render copies a few byte ranges per sample
 * into output buffers. The output is byte for byte what that serializer writes
 * for the same series (exposition.test.ts compares them).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FlowSeries, FlowStore, SeriesAttributes } from '../series/index.ts';

/** One counter family to render from a store. */
export interface CounterFamily {
  /** Prometheus metric name, `_total` included. */
  readonly name: string;
  readonly help: string;
  readonly store: FlowStore;
  /** The value of a series, or undefined to leave the series out (cost of a series that has none). */
  value(series: Readonly<FlowSeries>): number | undefined;
}

/** What the exporter-prometheus serializer answers when there is no sample at all. */
export const NO_METRICS = '# no registered metrics';

/**
 * Samples rendered between two yields: about 0.2 ms of work, 2-3 ms when the
 * label text of every series is new. A batch arriving during a render waits
 * that long, not for the whole render; the yields themselves cost nothing
 * measurable.
 */
export const SLICE_SAMPLES = 500;

/** One family's samples, copied at the start of a render. */
interface FamilySnapshot {
  family: CounterFamily;
  series: Readonly<FlowSeries>[];
  values: number[];
}

export class ExpositionRenderer {
  readonly #families: readonly CounterFamily[];
  readonly #sliceSamples: number;
  /** `{name="value",...} ` of each series; attributes never change, so this is built once per series. */
  readonly #labelText = new WeakMap<Readonly<FlowSeries>, Buffer>();
  #renders = 0;
  #slices = 0;

  constructor(families: readonly CounterFamily[], sliceSamples = SLICE_SAMPLES) {
    this.#families = families;
    this.#sliceSamples = sliceSamples;
  }

  /** Renders started since the renderer was made. */
  get renders(): number {
    return this.#renders;
  }

  /** Slices rendered since the renderer was made (a yield to the event loop follows each but the last of a render). */
  get slices(): number {
    return this.#slices;
  }

  /**
   * The exposition of every family, as UTF-8 chunks (written to the socket as
   * they are: no copy into one big buffer). Values are copied from the stores
   * first, in one synchronous pass, so the exposition is one consistent moment
   * (bytes and packets of a series agree) although the text is written in
   * slices while consume() keeps adding to the stores. Series for which
   * `held` says true are rendered at 0 (scrapers.ts: new series start at 0).
   */
  async render(held?: (series: Readonly<FlowSeries>) => boolean): Promise<Buffer[]> {
    this.#renders++;
    const snapshots = this.#families.map((family) => snapshot(family, held)).filter((s) => s.series.length > 0);
    if (snapshots.length === 0) {
      this.#slices++;
      return [Buffer.from(NO_METRICS)];
    }
    const out = new ChunkWriter();
    let inSlice = 0;
    for (const { family, series, values } of snapshots) {
      out.text(`# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} counter\n`);
      const name = Buffer.from(family.name);
      for (let i = 0; i < series.length; i++) {
        out.bytes(name);
        out.bytes(this.#labels(series[i]!));
        out.text(`${sampleValue(values[i]!)}\n`);
        if (++inSlice < this.#sliceSamples) continue;
        inSlice = 0;
        this.#slices++;
        await yieldToEventLoop();
      }
    }
    if (inSlice > 0) this.#slices++;
    return out.finish();
  }

  /** The series' `{name="value",...} `, UTF-8; built on first use. */
  #labels(series: Readonly<FlowSeries>): Buffer {
    let text = this.#labelText.get(series);
    if (text === undefined) {
      text = Buffer.from(`${labelText(series.attributes)} `);
      this.#labelText.set(series, text);
    }
    return text;
  }
}

/** Chunks of the exposition before it goes out. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Appends text and bytes to fixed-size buffers. Writing each piece straight
 * into a buffer makes no string per line and no large string per slice: a
 * render of tens of MB leaves little for the garbage collector, whose pauses
 * would stop ingest as surely as a long render.
 */
class ChunkWriter {
  readonly #chunks: Buffer[] = [];
  #chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;

  bytes(piece: Buffer): void {
    this.#room(piece.length);
    this.#used += piece.copy(this.#chunk, this.#used);
  }

  text(piece: string): void {
    this.#room(Buffer.byteLength(piece));
    this.#used += this.#chunk.write(piece, this.#used);
  }

  finish(): Buffer[] {
    if (this.#used > 0) this.#chunks.push(this.#chunk.subarray(0, this.#used));
    return this.#chunks;
  }

  #room(bytes: number): void {
    if (this.#used + bytes <= this.#chunk.length) return;
    if (this.#used > 0) this.#chunks.push(this.#chunk.subarray(0, this.#used));
    this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.#used = 0;
  }
}

function snapshot(family: CounterFamily, held: ((series: Readonly<FlowSeries>) => boolean) | undefined): FamilySnapshot {
  const series: Readonly<FlowSeries>[] = [];
  const values: number[] = [];
  for (const s of family.store.series()) {
    const value = family.value(s);
    if (value === undefined) continue;
    series.push(s);
    values.push(held?.(s) ? 0 : value);
  }
  return { family, series, values };
}

/** `{a="1",b="2"}`, or '' for no labels. Names as Prometheus allows them, values escaped as the text format requires. */
export function labelText(attributes: SeriesAttributes): string {
  let text = '';
  for (const [name, value] of Object.entries(attributes)) {
    const escaped = escapeHelp(typeof value === 'string' ? value : JSON.stringify(value)).replace(/"/g, '\\"');
    text += `${text ? ',' : ''}${labelName(name)}="${escaped}"`;
  }
  return text ? `{${text}}` : '';
}

/** Label names are [a-zA-Z_][a-zA-Z0-9_]*: other characters become `_`, runs of `_` one. */
function labelName(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

/** Backslash and newline escaped, as HELP text and label values need. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sampleValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * Parses one YAML document with limits that keep hostile or broken files
 * cheap, and checks what the yaml library leaves to whoever reads the
 * document (source.ts expands aliases itself, to keep positions, so the
 * library's own `maxAliasCount` never applies):
 *
 * - nesting deeper than MAX_NESTING or more than MAX_VALUES values are
 *   refused while parsing (the parser's work grows with both: 4 MiB of `[`
 *   took it minutes);
 * - an alias must name an anchor written before it, must not sit inside the
 *   value it names (`&r {loop: *r}` never ends), and the values aliases repeat
 *   count against MAX_VALUES ("billion laughs" is refused before anything is
 *   expanded);
 * - map keys are unique (checked here in linear time; the library's own check
 *   is quadratic in the number of keys).
 */
import { CST, Composer, Lexer, Parser, isAlias, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode, Alias } from 'yaml';

/** The deepest nesting of maps and lists accepted; zonetap's own settings are at most 6 deep. */
export const MAX_NESTING = 64;
/** The most values (keys, scalars, maps and lists, aliases expanded) a configuration file may hold. */
export const MAX_VALUES = 100_000;

/** A problem at a character offset of the text. */
export interface DocumentProblem {
  offset: number;
  message: string;
}

export const TOO_DEEP = `nested deeper than ${MAX_NESTING} levels: a zonetap configuration needs a handful`;
const TOO_MANY = `more than ${MAX_VALUES} values (keys, values and list items): a zonetap configuration needs a few hundred`;

/** Lexer tokens that start a value: a plain scalar, a quoted one, an alias, a flow collection, a list item. */
const VALUE_TOKENS = new Set(['single-quoted-scalar', 'double-quoted-scalar', 'alias', 'flow-map-start', 'flow-seq-start', 'seq-item-ind']);

class LimitExceeded extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(message);
    this.offset = offset;
  }
}

/**
 * The lexer's tokens fed to the parser one at a time (as yaml's Parser
 * documents), stopping as soon as the nesting or the number of values passes
 * its limit.
 */
function* limitedTokens(text: string, parser: Parser, lines: LineCounter) {
  lines.addNewLine(0);
  let values = 0;
  let scalarFollows = false;
  for (const lexeme of new Lexer().lex(text)) {
    // A plain or block scalar is a marker followed by its source: count the marker only.
    if (scalarFollows) scalarFollows = false;
    else if (lexeme === CST.SCALAR) scalarFollows = true;
    if (lexeme === CST.SCALAR || VALUE_TOKENS.has(CST.tokenType(lexeme) ?? '')) values++;
    if (values > MAX_VALUES) throw new LimitExceeded(parser.offset, TOO_MANY);
    yield* parser.next(lexeme);
    // The stack holds the document and one entry per open collection (and the value being read).
    if (parser.stack.length > MAX_NESTING + 2) throw new LimitExceeded(parser.offset, TOO_DEEP);
  }
  yield* parser.end();
}

/** Parses `text` as one document; `problem` is set when a limit stopped the parse. */
export function parseLimited(text: string, lines: LineCounter): { doc: Document; problem?: undefined } | { doc?: undefined; problem: DocumentProblem } {
  const parser = new Parser(lines.addNewLine);
  const composer = new Composer({ uniqueKeys: false, merge: true, prettyErrors: false });
  try {
    let doc: Document | undefined;
    for (const next of composer.compose(limitedTokens(text, parser, lines), true, text.length)) {
      if (!doc) doc = next as Document;
      else return { problem: { offset: next.range[0], message: 'a configuration file holds one YAML document; found a second one' } };
    }
    return { doc: doc! };
  } catch (err) {
    if (err instanceof LimitExceeded) return { problem: { offset: err.offset, message: err.message } };
    throw err;
  }
}

/** What checkDocument finds: the node each alias stands for, and the problems. */
export interface DocumentCheck {
  aliasTargets: Map<Alias, YamlNode>;
  problems: DocumentProblem[];
}

/**
 * One pass over the document in order (anchors before the aliases that use
 * them, as YAML requires), without expanding anything: every node's size with
 * aliases expanded is the sum of its children's, an alias's is its target's.
 */
export function checkDocument(doc: Document): DocumentCheck {
  const aliasTargets = new Map<Alias, YamlNode>();
  const problems: DocumentProblem[] = [];
  const anchors = new Map<string, YamlNode>();
  const sizes = new Map<YamlNode, number>();
  const open = new Set<YamlNode>();
  let total = 0;
  /** Set by a problem that makes going on pointless (an alias that cannot be expanded, too many values). */
  let stopped = false;
  const stop = (offset: number, message: string): number => {
    problems.push({ offset, message });
    stopped = true;
    return 0;
  };
  const offsetOf = (node: unknown) => (node as YamlNode | null)?.range?.[0] ?? 0;

  const visit = (node: unknown): number => {
    if (stopped) return 0;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) return stop(offsetOf(node), `alias "*${node.source}" names no anchor "&${node.source}" written before it`);
      if (open.has(target)) return stop(offsetOf(node), `alias "*${node.source}" is inside the value it names, which would never end`);
      aliasTargets.set(node, target);
      const size = sizes.get(target)!;
      total += size;
      if (total > MAX_VALUES) stop(offsetOf(node), `alias "*${node.source}" repeats ${size} values: a configuration holds at most ${MAX_VALUES}, aliases expanded`);
      return size;
    }
    if (node === null || node === undefined) return 0;
    const yamlNode = node as YamlNode;
    if (yamlNode.anchor) anchors.set(yamlNode.anchor, yamlNode);
    total += 1;
    if (total > MAX_VALUES) return stop(offsetOf(node), TOO_MANY);
    let size = 1;
    if (isMap(node) || isSeq(node)) {
      open.add(yamlNode);
      const keys = new Set<string>();
      for (const item of node.items) {
        if (!isPair(item)) {
          size += visit(item);
          continue;
        }
        if (isMap(node) && isScalar(item.key) && typeof item.key.value !== 'symbol') {
          const key = String(item.key.value);
          if (keys.has(key)) problems.push({ offset: offsetOf(item.key), message: 'invalid YAML: duplicate key: YAML map keys must be unique' });
          keys.add(key);
        }
        size += visit(item.key) + visit(item.value);
      }
      open.delete(yamlNode);
    }
    sizes.set(yamlNode, size);
    return size;
  };
  visit(doc.contents);
  return { aliasTargets, problems };
}

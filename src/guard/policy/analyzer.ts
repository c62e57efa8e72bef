/**
 * The Bash analyzer: walks a tree-sitter-bash syntax tree, expands words the way the shell would
 * (quotes, `$'…'`, tilde, known variables, brace expansion, command substitution), unwraps wrappers,
 * follows data into shells and interpreters, and records findings. Pure: no I/O, the parser is passed in.
 */
import { posix } from 'node:path';
import type { SyntaxNode } from './syntax.js';
import { hasSyntaxError, ParseLimitError } from './syntax.js';
import type { ParseFn } from './types.js';
import {
  MARK_ANY, MARK_EMPTYABLE, MARK_NONEMPTY, criticalReason, display, hasMarker, isBlockDevice, normalize, protectedHit, resolvePath,
  unknownChildCritical, type PathEnv,
} from './paths.js';
import { CODE_FLAGS, DB_CLIENTS, DISK_TOOLS, DOWNLOADERS, ENV_SETUP, PASS_THROUGH, SHELLS, SQL_DANGER, WARN_SUBCOMMANDS, interpreterLang, isDecoder, type Lang } from './tables.js';
import { analyzeCode } from './interp.js';

/** What a command writes to stdout, as far as the guard can tell. */
export type Flow =
  | { k: 'none' }
  | { k: 'text'; text: string }
  | { k: 'remote' }
  | { k: 'decoded' }
  | { k: 'computed'; by: string }
  | { k: 'envsetup' }
  | { k: 'file'; path: string | null }
  | { k: 'paths'; roots: string[]; restricted: boolean }
  | { k: 'binary'; name: string };

const NONE: Flow = { k: 'none' };

interface Word {
  /** Expanded value; unknown parts are marker characters. */
  text: string;
  /** Contains unquoted glob characters. */
  glob: boolean;
  /** Flows of the command/process substitutions inside. */
  flows: Flow[];
  /** The whole word is a process substitution `<(…)`. */
  procSubst: boolean;
}

interface Ctx {
  /** Possible working directories (null = unknown). */
  cwds: (string | null)[];
  vars: Map<string, string>;
  files: Map<string, Flow>;
  remoteDirs: Set<string>;
  functions: Map<string, SyntaxNode>;
  aliases: Map<string, string>;
  branch: string | null | undefined;
  callStack: string[];
  positional: string[] | null;
}

export interface Finding {
  decision: 'deny' | 'warn';
  rule: string;
  reason: string;
}

export class GuardBudgetError extends Error {
  readonly code = 'CF_ERR_GUARD_BUDGET';
}

export interface AnalyzerConfig {
  parse: ParseFn;
  env: PathEnv;
  branch: string | null | undefined;
  protectedBranches: readonly string[];
  sudoAllow: readonly string[];
  deadline: number;
  now: () => number;
  maxLength: number;
}

const MAX_DEPTH = 24;
const MAX_NODES = 200_000;
/** Most syntax nodes one parsed source may have (a bigger tree is denied before it is converted). */
export const MAX_PARSE_NODES = 25_000;
const MAX_FANOUT = 16;
const PLACEHOLDER = 'CF_UNKNOWN';

function word(text: string, extra?: Partial<Word>): Word {
  return { text, glob: false, flows: [], procSubst: false, ...extra };
}

function worst(text: string): string {
  return text.split(MARK_EMPTYABLE).join('');
}

export class Analyzer {
  readonly findings: Finding[] = [];
  private nodes = 0;
  private depth = 0;

  constructor(private readonly cfg: AnalyzerConfig) {}

  newCtx(cwd: string): Ctx {
    return {
      cwds: [cwd], vars: new Map(), files: new Map(), remoteDirs: new Set(), functions: new Map(), aliases: new Map(),
      branch: this.cfg.branch, callStack: [], positional: null,
    };
  }

  private clone(ctx: Ctx): Ctx {
    return {
      cwds: [...ctx.cwds], vars: new Map(ctx.vars), files: new Map(ctx.files), remoteDirs: new Set(ctx.remoteDirs), functions: new Map(ctx.functions),
      aliases: new Map(ctx.aliases), branch: ctx.branch, callStack: [...ctx.callStack], positional: ctx.positional,
    };
  }

  deny(rule: string, reason: string): void {
    if (this.findings.length < 64) this.findings.push({ decision: 'deny', rule, reason });
  }

  warn(rule: string, reason: string): void {
    if (this.findings.length < 64) this.findings.push({ decision: 'warn', rule, reason });
  }

  private tick(): void {
    this.nodes++;
    if (this.nodes > MAX_NODES) throw new GuardBudgetError(`command too complex (more than ${MAX_NODES} syntax nodes)`);
    if ((this.nodes & 63) === 0 && this.cfg.now() > this.cfg.deadline) throw new GuardBudgetError('evaluation exceeded the time budget');
  }

  private nest<T>(fn: () => T): T {
    this.depth++;
    try {
      if (this.depth > MAX_DEPTH) throw new GuardBudgetError(`command nested more than ${MAX_DEPTH} levels deep`);
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** Parses and analyses a piece of shell source; returns its output flow. */
  analyzeSource(src: string, ctx: Ctx, origin: string): Flow {
    return this.nest(() => {
      if (src.length > this.cfg.maxLength) {
        this.deny('oversized-input', `the ${origin} is ${src.length} characters long (limit ${this.cfg.maxLength}); split it into smaller commands`);
        return NONE;
      }
      if (this.cfg.now() > this.cfg.deadline) throw new GuardBudgetError('evaluation exceeded the time budget');
      // Line continuations are removed before parsing, as bash does (tree-sitter-bash splits `r\<newline>m`).
      const text = src.includes('\\\n') ? src.replace(/(?<!\\)((?:\\\\)*)\\\n/g, '$1') : src;
      let root: SyntaxNode;
      try {
        root = this.cfg.parse(text, { deadline: this.cfg.deadline, now: this.cfg.now, maxNodes: MAX_PARSE_NODES });
      } catch (err) {
        if (err instanceof ParseLimitError) throw new GuardBudgetError(err.message);
        throw err;
      }
      if (hasSyntaxError(root)) {
        this.deny('parse-error', `the ${origin} is not valid shell syntax, so the guard cannot check it; fix the quoting or split it into simpler commands`);
        return NONE;
      }
      return this.walk(root, ctx, NONE);
    });
  }

  // ---------------------------------------------------------------- statements

  private walk(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    this.tick();
    switch (n.type) {
      case 'program': case 'compound_statement': case 'do_group': case 'else_clause': case 'elif_clause':
        return this.walkSeq(n.children, ctx, stdin);
      case 'subshell':
        return this.nest(() => this.walkSeq(n.children, this.clone(ctx), stdin));
      case 'list':
        return this.walkList(n, ctx, stdin);
      case 'pipeline':
        return this.walkPipeline(n.children, ctx, stdin);
      case 'redirected_statement':
        return this.walkRedirected(n, ctx, stdin);
      case 'command':
        return this.walkCommand(n, ctx, stdin, []);
      case 'negated_command':
        return this.walkSeq(n.children, ctx, stdin);
      case 'declaration_command':
        return this.walkDeclaration(n, ctx);
      case 'variable_assignment':
        this.assign(n, ctx, true);
        return NONE;
      case 'variable_assignments':
        for (const c of n.children) if (c.type === 'variable_assignment') this.assign(c, ctx, true);
        return NONE;
      case 'unset_command':
        for (const c of n.children) if (c.named) ctx.vars.delete(c.text);
        return NONE;
      case 'function_definition':
        this.walkFunction(n, ctx);
        return NONE;
      case 'for_statement':
        return this.walkFor(n, ctx, stdin);
      case 'comment': case 'heredoc_body': case 'heredoc_start': case 'heredoc_end':
        return NONE;
      case 'command_substitution': case 'process_substitution':
      case 'word': case 'string': case 'concatenation': case 'expansion': case 'simple_expansion': case 'raw_string': case 'ansi_c_string':
        this.expand(n, ctx);
        return NONE;
      default: {
        let out: Flow = NONE;
        for (const c of n.children) if (c.named) out = this.walk(c, ctx, stdin);
        return out;
      }
    }
  }

  private walkSeq(children: SyntaxNode[], ctx: Ctx, stdin: Flow): Flow {
    let out: Flow = NONE;
    for (const c of children) {
      if (!c.named) continue;
      const before = [...ctx.cwds];
      out = this.walk(c, ctx, stdin);
      // `cd x; rm -rf *` runs the rm in the old directory when the cd fails.
      ctx.cwds = union(before, ctx.cwds);
    }
    return out;
  }

  private walkList(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    const named = n.children.filter((c) => c.named);
    const op = n.children.find((c) => !c.named && (c.type === '&&' || c.type === '||' || c.type === ';' || c.type === '&'))?.type ?? '&&';
    const [left, right] = named;
    if (left === undefined) return NONE;
    const before = [...ctx.cwds];
    let out = this.walk(left, ctx, stdin);
    if (right !== undefined) {
      if (op !== '&&') ctx.cwds = union(before, ctx.cwds);
      out = this.walk(right, ctx, stdin);
    }
    return out;
  }

  private walkPipeline(stages: SyntaxNode[], ctx: Ctx, stdin: Flow): Flow {
    let flow = stdin;
    const named = stages.filter((c) => c.named);
    for (let i = 0; i < named.length; i++) {
      const stage = named[i] as SyntaxNode;
      // Every stage of a pipeline runs in a subshell, except that state (files written) matters for later stages.
      const sub = this.clone(ctx);
      flow = this.walk(stage, sub, flow);
      for (const [k, v] of sub.files) ctx.files.set(k, v);
    }
    return flow;
  }

  private walkRedirected(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    const body = n.children.find((c) => c.field === 'body') ?? null;
    const redirects: SyntaxNode[] = [];
    const continuations: { op: string; node: SyntaxNode }[] = [];
    for (const c of n.children) {
      if (c.field === 'body' || !c.named) continue;
      if (c.type === 'heredoc_redirect') {
        // tree-sitter-bash nests whatever follows `<<EOF` on the same line inside the heredoc node.
        let pendingOp = '';
        const own: SyntaxNode[] = [];
        for (const h of c.children) {
          if (!h.named) {
            if (h.type === '|' || h.type === '|&' || h.type === '&&' || h.type === '||' || h.type === ';' || h.type === '&') pendingOp = h.type;
            else own.push(h);
            continue;
          }
          if (h.type === 'heredoc_start' || h.type === 'heredoc_body' || h.type === 'heredoc_end') own.push(h);
          else if (h.type.endsWith('_redirect') && pendingOp === '') redirects.push(h);
          else if (h.type === 'pipeline' && h.children[0] !== undefined && !h.children[0].named) continuations.push({ op: '|', node: h });
          else continuations.push({ op: pendingOp || '&&', node: h });
        }
        redirects.push({ ...c, children: own });
      } else {
        redirects.push(c);
      }
    }
    let out: Flow;
    if (body !== null && body.type === 'command') out = this.walkCommand(body, ctx, stdin, redirects);
    else out = this.applyRedirects(redirects, ctx, stdin, (s) => (body === null ? NONE : this.walk(body, ctx, s)));
    for (const cont of continuations) {
      if (cont.op === '|' || cont.op === '|&') out = this.walkPipeline(cont.node.children, ctx, out);
      else {
        const before = [...ctx.cwds];
        if (cont.op !== '&&') ctx.cwds = union(before, ctx.cwds);
        out = this.walk(cont.node, ctx, NONE);
      }
    }
    return out;
  }

  /** Evaluates redirections around `run`: stdin sources, write targets, recorded file contents. */
  private applyRedirects(redirects: SyntaxNode[], ctx: Ctx, stdin: Flow, run: (stdin: Flow) => Flow): Flow {
    let input = stdin;
    const outputs: { target: Word; append: boolean; fd: string }[] = [];
    for (const r of redirects) {
      this.tick();
      if (r.type === 'heredoc_redirect') {
        const start = r.children.find((c) => c.type === 'heredoc_start');
        const bodyNode = r.children.find((c) => c.type === 'heredoc_body');
        const quoted = start !== undefined && /['"\\]/.test(start.text);
        let text = '';
        if (bodyNode !== undefined) {
          if (quoted) text = bodyNode.text;
          else text = this.expandHeredoc(bodyNode, ctx);
        }
        if (r.children.some((c) => c.type === '<<-')) text = text.replace(/^\t+/gm, '');
        input = { k: 'text', text };
      } else if (r.type === 'herestring_redirect') {
        const w = r.children.filter((c) => c.named).map((c) => this.expandOne(c, ctx));
        input = this.wordsFlow(w);
        if (input.k === 'text') input = { k: 'text', text: `${input.text}\n` };
      } else if (r.type === 'file_redirect') {
        const op = r.children.find((c) => !c.named)?.type ?? '>';
        const fd = r.children.find((c) => c.field === 'descriptor')?.text ?? '';
        const dests = r.children.filter((c) => c.field === 'destination' || (c.named && c.type !== 'file_descriptor'));
        const dest = dests[0];
        if (dest === undefined) continue;
        const target = this.expandOne(dest, ctx);
        if (op === '<') {
          input = this.fileFlow(target, ctx);
        } else if (op === '>&' || op === '<&' || op === '>&-' || op === '<&-') {
          if (/^\d+-?$|^-$/.test(target.text)) continue;
          outputs.push({ target, append: false, fd });
        } else if (op === '<>' || op === '>' || op === '>>' || op === '>|' || op === '&>' || op === '&>>') {
          outputs.push({ target, append: op === '>>' || op === '&>>', fd });
        }
      }
    }
    for (const o of outputs) this.checkWrite(o.target, ctx, 'a redirection');
    const out = run(input);
    // tree-sitter-bash attaches `a && b > f` to the whole list: judge the target again in the cwd after it.
    const denied = this.findings.length;
    for (const o of outputs) if (this.findings.length === denied) this.checkWrite(o.target, ctx, 'a redirection');
    let result = out;
    for (const o of outputs) {
      if (o.fd === '2') continue;
      const p = this.resolveWord(o.target, ctx);
      if (p === '/dev/stdout' || p === '/dev/stderr' || p === '/dev/tty') continue;
      if (p !== null && p !== '/dev/null') this.recordFile(ctx, p, o.append ? appendFlow(ctx.files.get(p), out) : out);
      result = NONE;
    }
    return result;
  }

  private walkCommand(n: SyntaxNode, ctx: Ctx, stdin: Flow, outerRedirects: SyntaxNode[]): Flow {
    const assigns: SyntaxNode[] = [];
    const parts: SyntaxNode[] = [];
    const redirects: SyntaxNode[] = [...outerRedirects];
    for (const c of n.children) {
      if (!c.named) continue;
      if (c.type === 'variable_assignment') assigns.push(c);
      else if (c.type.endsWith('_redirect')) redirects.push(c);
      else if (c.type === 'command_name') parts.push(...c.children.filter((x) => x.named));
      else if (c.type !== 'comment') parts.push(c);
    }
    const argv: Word[] = [];
    for (const p of parts) argv.push(...this.expand(p, ctx));
    for (const a of assigns) this.assign(a, ctx, argv.length === 0);
    if (argv.length === 0) return this.applyRedirects(redirects, ctx, stdin, () => NONE);
    return this.applyRedirects(redirects, ctx, stdin, (s) => this.run(argv, ctx, s, { sudo: false }));
  }

  private walkDeclaration(n: SyntaxNode, ctx: Ctx): Flow {
    for (const c of n.children) {
      if (c.type === 'variable_assignment') this.assign(c, ctx, true);
      else if (c.named) this.expand(c, ctx);
    }
    return NONE;
  }

  private assign(n: SyntaxNode, ctx: Ctx, persist: boolean): void {
    const name = n.children.find((c) => c.field === 'name')?.text ?? n.children[0]?.text ?? '';
    const valueNode = n.children.find((c) => c.field === 'value');
    let value = '';
    if (valueNode !== undefined) {
      const ws = this.expand(valueNode, ctx, true);
      value = ws.map((w) => w.text).join(' ');
    }
    if (persist && /^\w+$/.test(name)) ctx.vars.set(name, value);
  }

  private walkFunction(n: SyntaxNode, ctx: Ctx): void {
    const nameNode = n.children.find((c) => c.field === 'name') ?? n.children.find((c) => c.type === 'word');
    const body = n.children.find((c) => c.field === 'body') ?? n.children.filter((c) => c.named).pop();
    if (nameNode === undefined || body === undefined) return;
    const name = nameNode.text;
    ctx.functions.set(name, body);
    if (this.isForkBomb(name, body)) {
      this.deny('fork-bomb', `the function ${display(name, 20)} calls itself in a pipeline or in the background (a fork bomb); write a bounded loop instead`);
      return;
    }
    const sub = this.clone(ctx);
    sub.callStack.push(name);
    sub.positional = [];
    this.nest(() => this.walk(body, sub, NONE));
  }

  private isForkBomb(name: string, body: SyntaxNode): boolean {
    let found = false;
    const visit = (x: SyntaxNode, inPipeOrBg: boolean): void => {
      if (found) return;
      if (x.type === 'command') {
        const cmdName = x.children.find((c) => c.type === 'command_name')?.text;
        if (cmdName === name && inPipeOrBg) found = true;
      }
      const bg = x.children.some((c) => !c.named && c.type === '&');
      for (const c of x.children) visit(c, inPipeOrBg || x.type === 'pipeline' || bg);
    };
    visit(body, false);
    return found;
  }

  private walkFor(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    const varName = n.children.find((c) => c.field === 'variable')?.text;
    const values = n.children.filter((c) => c.field === 'value').flatMap((c) => this.expand(c, ctx));
    const body = n.children.find((c) => c.field === 'body') ?? n.children.find((c) => c.type === 'do_group');
    if (body === undefined) return NONE;
    const list = values.length === 0 ? [word(MARK_EMPTYABLE)] : values.slice(0, MAX_FANOUT);
    let out: Flow = NONE;
    for (const v of list) {
      if (varName !== undefined) ctx.vars.set(varName, v.text);
      out = this.walk(body, ctx, stdin);
    }
    return out;
  }

  // ---------------------------------------------------------------- words

  private expandOne(n: SyntaxNode, ctx: Ctx): Word {
    const ws = this.expand(n, ctx);
    if (ws.length === 1) return ws[0] as Word;
    return { text: ws.map((w) => w.text).join(' '), glob: ws.some((w) => w.glob), flows: ws.flatMap((w) => w.flows), procSubst: false };
  }

  /** Expands one argument node into words (brace expansion can yield several). */
  expand(n: SyntaxNode, ctx: Ctx, assignment = false): Word[] {
    this.tick();
    const flows: Flow[] = [];
    let glob = false;
    let procSubst = false;
    const pieces: { text: string; quoted: boolean }[] = [];
    const visit = (x: SyntaxNode, quoted: boolean, first: boolean): void => {
      this.tick();
      switch (x.type) {
        case 'word': case 'number': case 'regex': case 'extglob_pattern': case 'special_variable_name': {
          let t = unescapeWord(x.text);
          if (!quoted && first && t.startsWith('~')) t = this.tilde(t, ctx);
          else if (!quoted && assignment && t.startsWith('~')) t = this.tilde(t, ctx);
          if (!quoted && /[*?[]/.test(t)) glob = true;
          pieces.push({ text: t, quoted });
          return;
        }
        case 'raw_string':
          pieces.push({ text: x.text.slice(1, -1), quoted: true });
          return;
        case 'ansi_c_string':
          pieces.push({ text: decodeAnsiC(x.text.slice(2, -1)), quoted: true });
          return;
        case 'string': case 'translated_string':
          for (const c of x.children) {
            if (!c.named) continue;
            if (c.type === 'string_content') pieces.push({ text: c.text.replace(/\\([$`"\\\n])/g, (_m, ch: string) => (ch === '\n' ? '' : ch)), quoted: true });
            else visit(c, true, false);
          }
          return;
        case 'concatenation': {
          let i = 0;
          for (const c of x.children) {
            if (!c.named) {
              pieces.push({ text: c.text, quoted });
              continue;
            }
            visit(c, quoted, first && i === 0);
            i++;
          }
          return;
        }
        case 'simple_expansion': case 'expansion':
          pieces.push({ text: this.paramValue(x, ctx), quoted });
          return;
        case 'arithmetic_expansion':
          for (const c of x.children) if (c.named) this.scanSubst(c, ctx);
          pieces.push({ text: MARK_NONEMPTY, quoted: true });
          return;
        case 'command_substitution': {
          const inner = this.substitution(x, ctx);
          flows.push(inner);
          pieces.push({ text: inner.k === 'text' ? inner.text.replace(/\n+$/, '') : MARK_ANY, quoted });
          return;
        }
        case 'process_substitution': {
          const inner = this.substitution(x, ctx);
          flows.push(inner);
          procSubst = true;
          pieces.push({ text: '/dev/fd/63', quoted: true });
          return;
        }
        case 'brace_expression':
          pieces.push({ text: x.text, quoted: false });
          return;
        default:
          if (x.children.length === 0) pieces.push({ text: x.text, quoted });
          else for (const c of x.children) visit(c, quoted, first);
      }
    };
    visit(n, false, true);
    const text = pieces.map((p) => p.text).join('');
    const skeleton = pieces.map((p) => (p.quoted ? 'Q'.repeat(p.text.length) : p.text)).join('');
    const unquotedBrace = /\{[^{}]*(,|\.\.)[^{}]*\}/.test(skeleton);
    if (unquotedBrace) {
      return braceExpand(text).map((t) => ({ text: t, glob, flows, procSubst }));
    }
    if (!assignment && text === '' && pieces.length > 0 && pieces.every((p) => !p.quoted)) return [];
    return [{ text, glob, flows, procSubst }];
  }

  private scanSubst(n: SyntaxNode, ctx: Ctx): void {
    if (n.type === 'command_substitution' || n.type === 'process_substitution') {
      this.substitution(n, ctx);
      return;
    }
    for (const c of n.children) if (c.named) this.scanSubst(c, ctx);
  }

  private substitution(n: SyntaxNode, ctx: Ctx): Flow {
    return this.nest(() => {
      const sub = this.clone(ctx);
      const inner = n.children.filter((c) => c.named);
      // `$(<file)` reads the file.
      const only = inner[0];
      if (inner.length === 1 && only !== undefined && only.type === 'redirected_statement' && only.children.every((c) => c.field !== 'body')) {
        const fr = only.children.find((c) => c.type === 'file_redirect');
        const dest = fr?.children.find((c) => c.named && c.type !== 'file_descriptor');
        if (dest !== undefined) return this.fileFlow(this.expandOne(dest, sub), sub);
      }
      return this.walkSeq(inner, sub, NONE);
    });
  }

  private expandHeredoc(body: SyntaxNode, ctx: Ctx): string {
    if (body.children.length === 0) return body.text;
    let out = '';
    for (const c of body.children) {
      if (c.type === 'heredoc_content' || !c.named) out += c.text;
      else out += this.expandOne(c, ctx).text;
    }
    return out;
  }

  private tilde(t: string, ctx: Ctx): string {
    const m = /^~([^/]*)(.*)$/s.exec(t);
    if (m === null) return t;
    const user = m[1] as string;
    const rest = m[2] as string;
    if (user === '') return `${this.cfg.env.home ?? '/root'}${rest}`;
    if (user === '+') return `${ctx.cwds[0] ?? MARK_ANY}${rest}`;
    if (user === 'root') return `/root${rest}`;
    if (/^[a-z_][\w-]*$/i.test(user)) return `/home/${user}${rest}`;
    return t;
  }

  private paramValue(x: SyntaxNode, ctx: Ctx): string {
    const nameNode = x.children.find((c) => c.type === 'variable_name' || c.type === 'special_variable_name');
    const name = nameNode?.text ?? x.text.replace(/^\$\{?/, '').replace(/\}$/, '');
    const ops = x.children.filter((c) => !c.named).map((c) => c.type);
    if (x.type === 'expansion') {
      for (const c of x.children) if (c.named && c !== nameNode) this.scanSubst(c, ctx);
    }
    const known = this.varValue(name, ctx);
    if (x.type === 'expansion') {
      if (x.children.some((c) => c.type === '#' && c === x.children[1])) return MARK_NONEMPTY;
      const opIdx = x.children.findIndex((c) => !c.named && /^(:?[-=?+]|[#%]{1,2}|\/\/?|:|\^\^?|,,?|@)$/.test(c.type));
      if (opIdx >= 0) {
        const op = (x.children[opIdx] as SyntaxNode).type;
        const rest = x.children.slice(opIdx + 1).filter((c) => c.named && c.type !== '}');
        const restText = (): string => rest.map((c) => this.expandOne(c, ctx).text).join('');
        if (op === ':-' || op === '-' || op === ':=' || op === '=') return known ?? restText();
        if (op === ':?' || op === '?') return known ?? MARK_NONEMPTY;
        if (op === ':+' || op === '+') return known === undefined ? MARK_EMPTYABLE : known === '' ? '' : restText();
        return MARK_EMPTYABLE;
      }
      void ops;
    }
    return known ?? MARK_EMPTYABLE;
  }

  private varValue(name: string, ctx: Ctx): string | undefined {
    if (ctx.vars.has(name)) return ctx.vars.get(name);
    if (/^\d+$/.test(name) && ctx.positional !== null) return ctx.positional[Number(name)] ?? '';
    switch (name) {
      case 'HOME': return this.cfg.env.home ?? undefined;
      case 'TMPDIR': return this.cfg.env.tmpdir ?? undefined;
      case 'PWD': return ctx.cwds.length === 1 && ctx.cwds[0] !== null ? ctx.cwds[0] : undefined;
      case 'CLAUDE_PROJECT_DIR': return this.cfg.env.project ?? undefined;
      default: return undefined;
    }
  }

  private wordsFlow(ws: Word[]): Flow {
    const bad = worstFlow(ws.flatMap((w) => w.flows));
    if (bad !== null) return bad;
    const text = ws.map((w) => w.text).join(' ');
    return { k: 'text', text };
  }

  // ---------------------------------------------------------------- paths

  private resolveWord(w: Word, ctx: Ctx): string | null {
    const t = worst(w.text);
    if (t.includes(MARK_ANY)) return null;
    return resolvePath(t, ctx.cwds[0] ?? null);
  }

  private resolveAll(w: Word, ctx: Ctx): (string | null)[] {
    const t = worst(w.text);
    if (t.startsWith('/')) return [normalize(t)];
    return ctx.cwds.map((c) => resolvePath(t, c));
  }

  private fileFlow(w: Word, ctx: Ctx): Flow {
    const p = this.resolveWord(w, ctx);
    if (p !== null && ctx.files.has(p)) return ctx.files.get(p) as Flow;
    if (w.procSubst) return worstFlow(w.flows) ?? w.flows[0] ?? { k: 'file', path: p };
    return { k: 'file', path: p };
  }

  private recordFile(ctx: Ctx, p: string, flow: Flow): void {
    if (ctx.files.size < 256) ctx.files.set(p, flow);
  }

  /** Denies writes to protected paths and block devices. */
  checkWrite(w: Word, ctx: Ctx, how: string): void {
    const raw = worst(w.text);
    if (raw === '' || raw === '-') return;
    for (const p of this.resolveAll(w, ctx)) {
      const path = p ?? normalize(raw);
      if (isBlockDevice(path)) {
        this.deny('disk-write', `${how} writes to the block device ${display(path)}, which destroys the data on it; write to a regular file instead`);
        return;
      }
      const hit = protectedHit(path, this.cfg.env, w.glob, false);
      if (hit !== null) {
        this.deny('protected-path', `${how} writes to ${hit.what}, which the safety guard protects (hooks, settings, credentials, shell start-up files, the controller's state); ask the operator to change it`);
        return;
      }
    }
  }

  /** Denies deleting or moving away protected paths (and their parents). */
  private checkDestroyProtected(w: Word, ctx: Ctx, how: string): boolean {
    const raw = worst(w.text);
    if (raw === '') return false;
    for (const p of this.resolveAll(w, ctx)) {
      const path = p ?? normalize(raw);
      const hit = protectedHit(path, this.cfg.env, w.glob, true);
      if (hit !== null) {
        this.deny('protected-path', `${how} would remove ${hit.what}, which the safety guard protects; ask the operator to change it`);
        return true;
      }
    }
    return false;
  }

  /** Recursive delete of `w`: deny `/`, home, system dirs, the project root, and computed targets. */
  checkRecursiveDelete(w: Word, ctx: Ctx, how: string): void {
    const text = w.text;
    if (text.includes(MARK_ANY)) {
      this.deny('recursive-delete', `${how} deletes a target computed at run time (${display(text)}); list the paths literally, inside the project or a temp dir`);
      return;
    }
    const t = worst(text);
    // An argument that is only an unknown variable deletes nothing when the variable is empty (`rm -rf ""`).
    if (t === '') return;
    for (const p of this.resolveAll(w, ctx)) {
      if (p === null) {
        if (/^(\.|\.\/|\*|\.\/\*|\.\*|\.\.(\/.*)?)$/.test(t)) this.deny('recursive-delete', `${how} deletes ${display(t)} in a directory the guard cannot determine; use an absolute path inside the project`);
        continue;
      }
      const reason = this.deleteReason(p, w.glob);
      if (reason !== null) {
        const unset = text !== t ? ' when a variable is empty (use ${VAR:?} to fail instead)' : '';
        this.deny('recursive-delete', `${how} would delete ${reason}${unset}; delete specific subdirectories of the project or of a temp dir instead`);
        return;
      }
    }
    this.checkDestroyProtected(w, ctx, how);
  }

  private deleteReason(p: string, glob: boolean): string | null {
    const env = this.cfg.env;
    const parts = p.split('/');
    const idx = parts.findIndex((s, i) => i > 0 && ((glob && /[*?[]/.test(s)) || s.includes(MARK_NONEMPTY)));
    if (idx > 0) {
      const dir = parts.slice(0, idx).join('/') || '/';
      const seg = parts[idx] as string;
      const last = idx === parts.length - 1;
      if (last && /^(\*|\.\*|\*\.\*|\.\[!.\]\*|\.\?\*|\[.*\]\*)$/.test(seg)) {
        const r = criticalReason(dir, env);
        if (r !== null) return `everything in ${r}`;
      }
      return unknownChildCritical(dir, env);
    }
    return criticalReason(p, env);
  }

  // ---------------------------------------------------------------- commands

  /** Runs an argv: unwraps wrappers, dispatches the rules, returns the output flow. */
  run(argv: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    return this.nest(() => this.runInner(argv, ctx, stdin, meta));
  }

  private runInner(argv: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    this.tick();
    const first = argv[0];
    if (first === undefined) return NONE;
    if (hasMarker(first.text)) return this.runDynamic(argv, ctx, stdin);
    let name = first.text.replace(/^\\+/, '');
    const args = argv.slice(1);
    if (name.includes('/')) {
      for (const p of this.resolveAll(first, ctx)) {
        if (p === null) continue;
        const written = ctx.files.get(p);
        if (written !== undefined) return this.execWritten(written, p, args, ctx, 'sh');
        for (const d of ctx.remoteDirs) {
          if (p.startsWith(`${d}/`)) {
            this.deny('remote-code', `runs ${display(p)} from a repository or archive downloaded in the same command; download it, review it, then run it in a separate step`);
            return NONE;
          }
        }
      }
      name = posix.basename(name);
    }
    const alias = ctx.aliases.get(name);
    if (alias !== undefined && !ctx.callStack.includes(`alias:${name}`)) {
      const sub = this.clone(ctx);
      sub.callStack.push(`alias:${name}`);
      return this.analyzeSource(`${alias} ${args.map((a) => shellQuote(a.text)).join(' ')}`, sub, 'alias');
    }
    const fn = ctx.functions.get(name);
    if (fn !== undefined && !ctx.callStack.includes(name)) {
      const sub = this.clone(ctx);
      sub.callStack.push(name);
      sub.positional = [name, ...args.map((a) => a.text)];
      return this.walk(fn, sub, stdin);
    }
    name = name.replace(/^(g)(rm|cp|mv|ln|dd|chmod|chown|install|tee|shred)$/, '$2');
    if (/^mkfs(\.|$)/.test(name)) name = 'mkfs';
    if (/^(python|pypy)\d/.test(name) || /^perl\d/.test(name)) name = interpreterLang(name) === 'python' ? name : name;
    return this.dispatch(name, args, ctx, stdin, meta);
  }

  private runDynamic(argv: Word[], ctx: Ctx, stdin: Flow): Flow {
    const first = argv[0] as Word;
    const bad = worstFlow(first.flows);
    if (bad !== null) {
      this.flowDeny(bad, 'runs a command name produced by');
      return NONE;
    }
    const t = worst(first.text);
    if (t !== '' && !hasMarker(t)) return this.runInner([word(t), ...argv.slice(1)], ctx, stdin, { sudo: false });
    if (t === '' && argv.length > 1 && !first.text.includes(MARK_ANY)) return this.runInner(argv.slice(1), ctx, stdin, { sudo: false });
    // Unknown command name: judge the arguments as if it were rm.
    const args = argv.slice(1);
    const recursive = args.some((a) => /^-[a-zA-Z]*[rR]/.test(a.text) || a.text === '--recursive');
    if (recursive) {
      for (const a of args) if (!a.text.startsWith('-')) this.checkRecursiveDelete(a, ctx, 'a command whose name is computed at run time');
    }
    for (const a of args) if (a.flows.length > 0) this.flowDeny(worstFlow(a.flows), 'passes');
    return { k: 'computed', by: 'a computed command' };
  }

  private flowDeny(f: Flow | null, how: string): void {
    if (f === null) return;
    if (f.k === 'remote') this.deny('remote-code', `${how} downloaded content into a shell or interpreter; download to a file, review it, and run it in a separate step`);
    else if (f.k === 'decoded') this.deny('decode-to-shell', `${how} decoded or transformed text (base64, xxd, tr, …) into a shell; write the commands out literally`);
    else if (f.k === 'computed') this.deny('computed-script', `${how} text generated at run time (by ${f.by}) into a shell or eval; write the commands literally, or save them to a file and run it in a separate step`);
  }

  private dispatch(name: string, args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const a = args.map((x) => x.text);
    switch (name) {
      // ---- wrappers
      case 'sudo': case 'doas': case 'pkexec': case 'run0':
        return this.runSudo(name, args, ctx, stdin);
      case 'su': case 'runuser': {
        const ci = a.findIndex((x) => x === '-c' || x === '--command');
        if (name === 'su' || meta.sudo) this.deny('sudo', `${name} switches user; the agent may not change privileges (allowed with sudo: ${this.cfg.sudoAllow.join(', ')})`);
        if (ci >= 0 && args[ci + 1] !== undefined) this.scriptWord(args[ci + 1] as Word, ctx, [], 'su -c');
        return NONE;
      }
      case 'env': return this.runEnv(args, ctx, stdin, meta);
      case 'command': {
        const rest = skipOpts(args, '', ['-p']);
        if (rest.opts.some((o) => o === '-v' || o === '-V')) return { k: 'text', text: rest.rest[0]?.text ?? '' };
        return this.run(rest.rest, ctx, stdin, meta);
      }
      case 'builtin': case 'nohup': case 'setsid': case 'unbuffer': case 'catchsegv': case 'caffeinate': case 'chronic': case 'torsocks': case 'proxychains': case 'proxychains4': case 'firejail': case 'fakeroot':
        return this.run(skipOpts(args, 'w', []).rest, ctx, stdin, meta);
      case 'exec': {
        const r = skipOpts(args, 'a', []);
        return this.run(r.rest, ctx, stdin, meta);
      }
      case 'nice': return this.run(skipOpts(args, 'n', ['--adjustment'], /^-\d+$/).rest, ctx, stdin, meta);
      case 'ionice': return this.run(skipOpts(args, 'cnp', ['--class', '--classdata', '--pid']).rest, ctx, stdin, meta);
      case 'timeout': case 'gtimeout': {
        const r = skipOpts(args, 'ks', ['--kill-after', '--signal']);
        return this.run(r.rest.slice(1), ctx, stdin, meta);
      }
      case 'time': return this.run(skipOpts(args, 'fo', ['--format', '--output']).rest, ctx, stdin, meta);
      case 'stdbuf': return this.run(skipOpts(args, 'ioe', ['--input', '--output', '--error']).rest, ctx, stdin, meta);
      case 'taskset': {
        const r = skipOpts(args, '', []);
        return this.run(r.rest.slice(1), ctx, stdin, meta);
      }
      case 'chrt': return this.run(skipOpts(args, '', []).rest.slice(1), ctx, stdin, meta);
      case 'chroot': return this.run(skipOpts(args, '', ['--userspec', '--groups']).rest.slice(1), ctx, stdin, meta);
      case 'flock': {
        const ci = a.findIndex((x) => x === '-c' || x === '--command');
        if (ci >= 0 && args[ci + 1] !== undefined) return this.scriptWord(args[ci + 1] as Word, ctx, [], 'flock -c');
        const r = skipOpts(args, 'wE', ['--wait', '--timeout', '--conflict-exit-code']);
        return this.run(r.rest.slice(1), ctx, stdin, meta);
      }
      case 'strace': case 'ltrace': return this.run(skipOpts(args, 'oepsSEIuaPb', []).rest, ctx, stdin, meta);
      case 'watch': {
        const r = skipOpts(args, 'ndq', ['--interval', '--differences']);
        return this.scriptWord(joinWords(r.rest), ctx, [], 'watch');
      }
      case 'busybox': case 'toybox': {
        if (args[0] === undefined) return NONE;
        return this.run(args, ctx, stdin, meta);
      }
      case 'xargs': return this.runXargs(args, ctx, stdin, meta);
      case 'parallel': return this.runParallel(args, ctx, meta);
      case 'find': return this.runFind(args, ctx, meta);
      case 'uv': case 'poetry': case 'pipenv': case 'pdm': case 'rye': case 'hatch': {
        if (a[0] === 'run') return this.run(skipOpts(args.slice(1), '', ['--with', '--python', '--env', '-p']).rest, ctx, stdin, meta);
        return { k: 'computed', by: name };
      }
      case 'bundle': case 'direnv': {
        if (a[0] === 'exec') return this.run(args.slice(name === 'direnv' ? 2 : 1), ctx, stdin, meta);
        return name === 'direnv' ? { k: 'envsetup' } : { k: 'computed', by: name };
      }
      case 'npx': case 'bunx': case 'pnpx': return { k: 'computed', by: name };
      case 'tmux': case 'screen': return this.runTmux(name, args, ctx);
      case 'at': case 'batch': {
        const fi = a.indexOf('-f');
        if (fi >= 0 && args[fi + 1] !== undefined) return this.execScriptFile(args[fi + 1] as Word, ctx, 'sh');
        this.scriptFlow(stdin, ctx, 'sh', `${name} (which runs its input later)`);
        return NONE;
      }
      case 'ssh': return { k: 'remote' };
      case 'alias': {
        for (const w of args) {
          const m = /^([^=]+)=(.*)$/s.exec(w.text);
          if (m === null) continue;
          ctx.aliases.set(m[1] as string, m[2] as string);
          this.scriptWord(word(m[2] as string, { flows: w.flows }), this.clone(ctx), [], 'alias');
        }
        return NONE;
      }
      case 'eval': return this.scriptWord(joinWords(args), ctx, [], 'eval');
      case 'source': case '.': {
        if (args[0] === undefined) return NONE;
        return this.execScriptFile(args[0], ctx, 'sh', stdin);
      }
      case 'cd': case 'pushd': case 'popd': case 'chdir':
        this.changeDir(name, args, ctx);
        return NONE;
      case 'pwd': return ctx.cwds.length === 1 && ctx.cwds[0] !== null ? { k: 'text', text: `${ctx.cwds[0]}\n` } : { k: 'computed', by: 'pwd' };
      case 'echo': return this.echoFlow(args);
      case 'printf': return this.printfFlow(args);
      case 'dirname': case 'basename': case 'realpath': case 'readlink': {
        const ops = args.filter((x) => !x.text.startsWith('-'));
        const op = ops[0];
        if (op === undefined || hasMarker(op.text)) return { k: 'computed', by: name };
        if (name === 'dirname') return { k: 'text', text: posix.dirname(op.text) };
        if (name === 'basename') return { k: 'text', text: posix.basename(op.text) };
        return { k: 'text', text: this.resolveWord(op, ctx) ?? op.text };
      }
      case 'which': case 'type': case 'whereis': return { k: 'text', text: args[0] === undefined ? '' : `/usr/bin/${posix.basename(args[args.length - 1]?.text ?? '')}` };
      case 'mktemp': {
        // A fresh name under the temp dir (the exact name does not matter to any rule).
        const dir = this.cfg.env.tmpdir ?? '/tmp';
        return { k: 'text', text: `${dir}/tmp.cfguard` };
      }
      case 'cat': case 'tac': {
        const files = args.filter((x) => !/^-./.test(x.text));
        if (files.length === 0 || (files.length === 1 && files[0]?.text === '-')) return stdin;
        if (files.length === 1) return this.fileFlow(files[0] as Word, ctx);
        return { k: 'file', path: null };
      }
      case 'tee': {
        for (const f of args.filter((x) => !x.text.startsWith('-'))) {
          this.checkWrite(f, ctx, 'tee');
          const p = this.resolveWord(f, ctx);
          if (p !== null) this.recordFile(ctx, p, a.includes('-a') || a.includes('--append') ? appendFlow(ctx.files.get(p), stdin) : stdin);
        }
        return stdin;
      }
      // ---- deletes
      case 'rm': case 'srm': case 'trash-put': case 'shred': case 'unlink': case 'rmdir': return this.runRm(name, args, ctx);
      // ---- writes
      case 'cp': case 'install': case 'ln': case 'mv': case 'rsync': return this.runCopy(name, args, ctx);
      case 'touch': case 'truncate': case 'chattr': case 'setfacl': case 'mkdir': case 'mkfifo': case 'mknod':
        for (const f of skipOpts(args, 'srdtmcgp', ['--size', '--reference', '--date', '--mode', '--context']).rest) this.checkWrite(f, ctx, name);
        return NONE;
      case 'chmod': case 'chown': case 'chgrp': return this.runChmod(name, args, ctx);
      case 'sed': return this.runSed(args, ctx, stdin);
      case 'dd': return this.runDd(args, ctx);
      case 'tar': case 'bsdtar': case 'unzip': case '7z': case 'cpio': return this.runExtract(name, args, ctx);
      case 'curl': case 'wget': case 'aria2c': case 'fetch': case 'http': case 'xh': return this.runDownload(name, args, ctx);
      case 'git': return this.runGit(args, ctx, stdin);
      case 'crontab': {
        const r = skipOpts(args, 'u', []);
        if (r.opts.length > 0 && r.opts.every((o) => o === '-l' || o === '-u') && r.rest.length === 0) return { k: 'computed', by: 'crontab' };
        this.deny('crontab', 'crontab edits, removes or replaces scheduled jobs (a persistence and destruction vector); ask the operator to change cron');
        return NONE;
      }
      case 'mkfs': case 'mke2fs': case 'mkswap': case 'wipefs': case 'blkdiscard': case 'fdisk': case 'sfdisk': case 'cfdisk': case 'gdisk': case 'sgdisk': case 'cgdisk':
      case 'parted': case 'hdparm': case 'sg_format': case 'nvme': case 'cryptsetup': case 'mdadm': case 'badblocks': case 'pvcreate': case 'vgremove': case 'lvremove': case 'zpool': case 'tune2fs': case 'resize2fs': case 'e2fsck': case 'fsck':
        return this.runDisk(name, args);
      case 'kill': case 'killall': case 'pkill': {
        if (a.some((x) => x === '-1' || x === '1') && a.some((x) => /^-(9|KILL|SIGKILL|s)$/.test(x) || x === '-1')) {
          if (a.includes('-1') && name === 'kill') this.deny('kill-all', 'kill -1 signals every process you own, including the controller and other agents; kill specific PIDs instead');
        }
        return NONE;
      }
      case 'shutdown': case 'reboot': case 'halt': case 'poweroff':
        this.deny('host-power', `${name} stops the host; ask the operator`);
        return NONE;
      case 'systemctl':
        if (a.some((x) => /^(poweroff|reboot|halt|kexec|emergency|rescue)$/.test(x))) this.deny('host-power', 'systemctl power actions stop the host; ask the operator');
        return { k: 'computed', by: name };
      default:
        break;
    }
    if (SHELLS.has(name)) return this.runShell(name, args, ctx, stdin);
    const lang = interpreterLang(name);
    if (lang !== null) return this.runInterpreter(lang, name, args, ctx, stdin);
    if (DB_CLIENTS.has(name)) this.checkSql(name, args, stdin);
    const warnSubs = WARN_SUBCOMMANDS[name];
    if (warnSubs !== undefined) this.checkWarnSub(name, a, warnSubs);
    if (DISK_TOOLS.has(name)) return this.runDisk(name, args);
    if (isDecoder(name, a)) return { k: 'decoded' };
    if (DOWNLOADERS.has(name)) return { k: 'remote' };
    if (ENV_SETUP.has(name)) return { k: 'envsetup' };
    if (PASS_THROUGH.has(name)) return stdin.k === 'none' ? { k: 'computed', by: name } : stdin;
    return { k: 'computed', by: name };
  }

  private runSudo(name: string, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const r = skipOpts(args, 'ugCDhprtTUc', ['--user', '--group', '--close-from', '--chdir', '--host', '--prompt', '--role', '--type', '--other-user', '--command-timeout']);
    const inner = r.rest;
    const shellOpt = r.opts.some((o) => o === '-i' || o === '-s' || o === '--login' || o === '--shell');
    const editOpt = r.opts.some((o) => o === '-e' || o === '--edit');
    if (inner.length === 0 && !shellOpt && !editOpt) {
      if (r.opts.every((o) => /^-(l|ll|k|K|v|V|h)$|^--(list|validate|reset-timestamp|remove-timestamp|version|help)$/.test(o))) return NONE;
    }
    const cmd = inner[0] === undefined ? '' : posix.basename(worst(inner[0].text).replace(/^\\+/, ''));
    const allowed = this.cfg.sudoAllow.includes(cmd) && !shellOpt && !editOpt;
    if (!allowed) {
      const what = shellOpt ? `${name} with a root shell` : editOpt ? `${name} -e (editing files as root)` : cmd === '' ? name : `${name} ${display(cmd, 40)}`;
      this.deny('sudo', `${what} is not allowed; the agent may use sudo only for: ${this.cfg.sudoAllow.join(', ')}. Ask the operator to run it`);
    }
    if (inner.length > 0) return this.run(inner, ctx, stdin, { sudo: true });
    return NONE;
  }

  private runEnv(args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const rest: Word[] = [];
    let i = 0;
    let sub = ctx;
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t === '--') { i++; break; }
      if (t === '-S' || t === '--split-string') {
        const s = args[i + 1];
        i++;
        if (s !== undefined) rest.push(...this.splitString(s, ctx));
        continue;
      }
      const sm = /^(?:-S|--split-string=)(.*)$/s.exec(t) ?? /^-[a-zA-Z]*S(.+)$/s.exec(t);
      if (sm !== null) { rest.push(...this.splitString(word(sm[1] as string), ctx)); continue; }
      if (t === '-u' || t === '--unset' || t === '-C' || t === '--chdir') {
        if (t === '-C' || t === '--chdir') { sub = this.clone(ctx); this.changeDir('cd', args.slice(i + 1, i + 2), sub); }
        i++;
        continue;
      }
      if (/^--chdir=/.test(t)) { sub = this.clone(ctx); this.changeDir('cd', [word(t.slice(8))], sub); continue; }
      if (t.startsWith('-') && t !== '-') continue;
      if (/^[A-Za-z_]\w*=/.test(t)) continue;
      break;
    }
    rest.push(...args.slice(i));
    if (rest.length === 0) return { k: 'computed', by: 'env' };
    return this.run(rest, sub, stdin, meta);
  }

  private splitString(s: Word, ctx: Ctx): Word[] {
    if (hasMarker(s.text)) return [word(MARK_ANY, { flows: s.flows })];
    const root = this.cfg.parse(s.text);
    const cmd = findFirst(root, 'command');
    if (cmd === null) return [];
    const out: Word[] = [];
    for (const c of cmd.children) {
      if (c.type === 'command_name') for (const x of c.children) out.push(...this.expand(x, ctx));
      else if (c.named && c.type !== 'variable_assignment') out.push(...this.expand(c, ctx));
    }
    return out;
  }

  private changeDir(name: string, args: Word[], ctx: Ctx): void {
    const ops = args.filter((w) => !/^-[LPe@]+$/.test(w.text));
    if (name === 'popd') { ctx.cwds = [null]; return; }
    const target = ops[0];
    if (target === undefined) { ctx.cwds = [this.cfg.env.home]; return; }
    if (target.text === '-' || target.text.includes(MARK_ANY)) { ctx.cwds = [null]; return; }
    const t = worst(target.text);
    if (t === '') { ctx.cwds = [null]; return; }
    ctx.cwds = uniq(ctx.cwds.map((c) => resolvePath(t, c)));
  }

  private echoFlow(args: Word[]): Flow {
    let i = 0;
    let escapes = false;
    let newline = true;
    while (i < args.length && /^-[neE]+$/.test((args[i] as Word).text)) {
      const t = (args[i] as Word).text;
      if (t.includes('e')) escapes = true;
      if (t.includes('n')) newline = false;
      i++;
    }
    const rest = args.slice(i);
    const bad = worstFlow(rest.flatMap((w) => w.flows));
    if (bad !== null) return bad;
    if (rest.some((w) => hasMarker(w.text))) return { k: 'computed', by: 'echo of a variable' };
    let text = rest.map((w) => w.text).join(' ');
    if (escapes) text = decodeAnsiC(text);
    return { k: 'text', text: newline ? `${text}\n` : text };
  }

  private printfFlow(args: Word[]): Flow {
    const rest = args[0]?.text === '-v' ? args.slice(2) : args[0]?.text === '--' ? args.slice(1) : args;
    const bad = worstFlow(rest.flatMap((w) => w.flows));
    if (bad !== null) return bad;
    const fmt = rest[0];
    if (fmt === undefined) return { k: 'text', text: '' };
    if (rest.some((w) => hasMarker(w.text))) return { k: 'computed', by: 'printf of a variable' };
    let vi = 1;
    const text = decodeAnsiC(fmt.text).replace(/%(-?\d*(?:\.\d+)?)([sbdqcxXiouefgEG%])/g, (_m, _w: string, conv: string) => {
      if (conv === '%') return '%';
      const v = rest[vi++]?.text ?? '';
      return conv === 'b' ? decodeAnsiC(v) : v;
    });
    const extra = rest.slice(vi).map((w) => w.text).join(' ');
    return { k: 'text', text: extra === '' ? text : `${text}\n${extra}` };
  }

  // ---- rm and friends
  private runRm(name: string, args: Word[], ctx: Ctx): Flow {
    const r = skipOpts(args, name === 'shred' ? 'nsu' : '', ['--iterations', '--size', '--random-source', '--interactive'], undefined, true);
    const recursive = name !== 'rmdir' && name !== 'unlink' && (name === 'srm' || r.opts.some((o) => o === '--recursive' || /^-[a-zA-Z]*[rR]/.test(o)));
    for (const t of r.rest) {
      if (name === 'shred') {
        const p = this.resolveWord(t, ctx);
        if (p !== null && isBlockDevice(p)) { this.deny('disk-write', `shred overwrites the block device ${display(p)}; shred individual files only`); continue; }
      }
      if (recursive) this.checkRecursiveDelete(t, ctx, `${name} -r`);
      else this.checkDestroyProtected(t, ctx, name);
    }
    return NONE;
  }

  private runCopy(name: string, args: Word[], ctx: Ctx): Flow {
    const withArg = name === 'rsync' ? 'eTfB' : name === 'install' ? 'mogSt' : 'tS';
    const r = skipOpts(args, withArg, ['--target-directory', '--suffix', '--mode', '--owner', '--group', '--rsh', '--exclude', '--include', '--filter', '--backup-dir', '--temp-dir', '--chmod', '--chown', '--rsync-path', '--files-from', '--exclude-from', '--include-from', '--password-file', '--log-file', '--partial-dir', '--compare-dest', '--copy-dest', '--link-dest', '--out-format', '--info', '--debug'], undefined, true);
    const tIdx = r.opts.findIndex((o) => o === '-t' || o.startsWith('--target-directory'));
    let dest: Word | undefined;
    let sources: Word[];
    if (tIdx >= 0 && name !== 'rsync') {
      dest = r.optValues[tIdx];
      sources = r.rest;
    } else if (name === 'install' && r.opts.some((o) => o === '-d' || o === '--directory')) {
      for (const d of r.rest) this.checkWrite(d, ctx, 'install -d');
      return NONE;
    } else if (name === 'ln' && r.rest.length === 1) {
      dest = word(posix.basename(r.rest[0]?.text ?? ''));
      sources = r.rest;
    } else {
      dest = r.rest[r.rest.length - 1];
      sources = r.rest.slice(0, -1);
    }
    if (dest === undefined) return NONE;
    if (name === 'rsync' && /^[^/]*:/.test(dest.text)) return NONE;
    this.checkWrite(dest, ctx, name);
    for (const s of sources) {
      const base = posix.basename(worst(s.text));
      if (base !== '' && base !== '.' && base !== '..') this.checkWrite(word(`${dest.text.replace(/\/$/, '')}/${base}`, { glob: dest.glob }), ctx, name);
    }
    if (name === 'mv') for (const s of sources) this.checkRecursiveDelete(s, ctx, 'mv (moving it away)');
    if (name === 'rsync' && r.opts.some((o) => o.startsWith('--delete') || o === '--remove-source-files')) this.checkRecursiveDelete(dest, ctx, 'rsync --delete');
    const destPath = this.resolveWord(dest, ctx);
    if (destPath !== null && sources.length === 1) {
      const src = sources[0] as Word;
      const sp = this.resolveWord(src, ctx);
      let flow: Flow;
      if (sp !== null && ctx.files.has(sp)) flow = ctx.files.get(sp) as Flow;
      else if (hasMarker(src.text)) flow = { k: 'computed', by: name };
      else if (name === 'ln' || /^\/(usr\/)?(local\/)?s?bin\//.test(src.text) || !src.text.includes('/')) flow = { k: 'binary', name: posix.basename(src.text) };
      else flow = { k: 'file', path: sp };
      this.recordFile(ctx, destPath, flow);
      this.recordFile(ctx, `${destPath}/${posix.basename(worst(src.text))}`, flow);
    }
    return NONE;
  }

  private runChmod(name: string, args: Word[], ctx: Ctx): Flow {
    const r = skipOpts(args, '', ['--reference', '--from'], undefined, true);
    const recursive = r.opts.some((o) => o === '--recursive' || /^-[a-zA-Z]*R/.test(o));
    const mode = r.rest[0];
    const targets = r.rest.slice(1);
    const worldWritable = mode !== undefined && (/^0*[0-7]?[0-7][0-7][2367]$/.test(mode.text) || /(^|,)([ugo]*a[ugo]*|[ugo]*o[ugo]*)?[+=][rwxXst]*w/.test(mode.text) || /^(a|o|ugo)?\+?rwx/.test(mode.text) || /^-[a-zA-Z]*[7]/.test(mode.text));
    for (const t of targets) {
      const before = this.findings.length;
      if (recursive && (name !== 'chmod' || worldWritable)) {
        for (const p of this.resolveAll(t, ctx)) {
          if (p === null) continue;
          const reason = criticalReason(p, this.cfg.env) ?? this.deleteReason(p, t.glob);
          if (reason !== null && reason !== 'the project root' && !reason.startsWith('a parent of the project')) {
            this.deny('chmod-recursive', `${name} -R ${display(mode?.text ?? '')} on ${reason} breaks permissions system-wide (and makes files writable by anyone); change specific files instead`);
            break;
          }
        }
      }
      if (this.findings.length > before) continue;
      if (recursive) this.checkDestroyProtected(t, ctx, `${name} -R`);
      else this.checkWrite(t, ctx, name);
    }
    return NONE;
  }

  private runSed(args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const r = skipOpts(args, 'efl', ['--expression', '--file', '--line-length'], undefined, true);
    const inPlace = r.opts.some((o) => /^-[a-zA-Z]*i/.test(o) || o.startsWith('--in-place'));
    const hasScript = r.opts.some((o) => o === '-e' || o === '-f' || o.startsWith('--expression') || o.startsWith('--file'));
    const files = hasScript ? r.rest : r.rest.slice(1);
    if (inPlace) for (const f of files) this.checkWrite(f, ctx, 'sed -i');
    void stdin;
    return { k: 'computed', by: 'sed' };
  }

  private runDd(args: Word[], ctx: Ctx): Flow {
    for (const w of args) {
      const m = /^of=(.*)$/s.exec(w.text);
      if (m !== null) this.checkWrite(word(m[1] as string), ctx, 'dd');
    }
    return args.some((w) => w.text.startsWith('of=')) ? NONE : { k: 'computed', by: 'dd' };
  }

  private runDisk(name: string, args: Word[]): Flow {
    const a = args.map((w) => w.text);
    const listOnly =
      (name === 'fdisk' && a.some((x) => x === '-l' || x === '--list')) ||
      (name === 'sfdisk' && a.some((x) => /^(-l|--list|-d|--dump|-J|--json|-s|--show-size|-V|--verify)$/.test(x))) ||
      (name === 'parted' && (a.includes('-l') || a.includes('--list') || (a.includes('print') && !a.some((x) => /^(mklabel|mkpart|rm|resizepart|mkfs)$/.test(x))))) ||
      (name === 'sgdisk' && a.some((x) => x === '-p' || x === '--print')) ||
      (name === 'wipefs' && !a.some((x) => /^(-a|--all|-o|--offset)$/.test(x) || /^-[a-zA-Z]*a/.test(x))) ||
      (name === 'hdparm' && !a.some((x) => /^--(security-erase|security-erase-enhanced|trim-sector-ranges|write-sector|make-bad-sector|dco-restore)/.test(x))) ||
      (name === 'nvme' && !a.some((x) => /^(format|sanitize|delete-ns|write|write-zeroes)$/.test(x))) ||
      (name === 'cryptsetup' && !a.some((x) => /^(luksFormat|erase|luksErase|reencrypt)$/.test(x))) ||
      (name === 'badblocks' && !a.some((x) => /^-[a-zA-Z]*w/.test(x))) ||
      (name === 'zpool' && !a.some((x) => /^(destroy|create|labelclear)$/.test(x))) ||
      ((name === 'e2fsck' || name === 'fsck' || name === 'tune2fs' || name === 'resize2fs') && !a.some((x) => x.startsWith('/dev/'))) ||
      a.length === 0 ||
      a.every((x) => /^(-h|--help|-V|--version)$/.test(x));
    if (!listOnly) this.deny('disk-write', `${name} rewrites disks, partitions or filesystems; ask the operator to do it`);
    return { k: 'computed', by: name };
  }

  private runExtract(name: string, args: Word[], ctx: Ctx): Flow {
    const a = args.map((w) => w.text);
    let extract = false;
    let dir: Word | null = null;
    if (name === 'unzip') {
      extract = true;
      const di = a.indexOf('-d');
      if (di >= 0) dir = args[di + 1] ?? null;
    } else if (name === '7z') {
      extract = a[0] === 'x' || a[0] === 'e';
      const o = args.find((w) => w.text.startsWith('-o'));
      if (o !== undefined) dir = word(o.text.slice(2));
    } else if (name === 'cpio') {
      extract = a.some((x) => /^-[a-zA-Z]*i/.test(x) || x === '--extract');
    } else {
      extract = a.some((x, i) => x === '--extract' || x === '--get' || /^-[a-zA-Z]*x/.test(x) || (i === 0 && /^[a-zA-Z]*x[a-zA-Z]*$/.test(x)));
      const ci = a.findIndex((x) => x === '-C' || x === '--directory');
      if (ci >= 0) dir = args[ci + 1] ?? null;
      const cd = args.find((w) => w.text.startsWith('--directory='));
      if (cd !== undefined) dir = word(cd.text.slice(12));
    }
    if (!extract) return { k: 'computed', by: name };
    const target = dir ?? word('.');
    for (const p of this.resolveAll(target, ctx)) {
      if (p === null) continue;
      const home = this.cfg.env.home;
      if (p === '/' || p === home || p === '/etc' || p.startsWith('/etc/') || protectedHit(p, this.cfg.env, target.glob, false) !== null || /(^|\/)\.claude(\/|$)/.test(p)) {
        this.deny('protected-path', `${name} extracts an archive into ${display(p)}, where it could overwrite protected files (shell start-up files, hooks, settings); extract into a fresh directory and copy what you need`);
        return NONE;
      }
    }
    for (const p of this.resolveAll(target, ctx)) if (p !== null) ctx.remoteDirs.add(p);
    return NONE;
  }

  private runDownload(name: string, args: Word[], ctx: Ctx): Flow {
    const a = args.map((w) => w.text);
    const urls = args.filter((w) => /^(https?|ftp|file):\/\//.test(w.text) || /^[\w.-]+\.[a-z]{2,}\//.test(w.text));
    const urlBase = (u: Word | undefined): string => {
      if (u === undefined) return 'index.html';
      const clean = u.text.replace(/[?#].*$/, '').replace(/\/+$/, '');
      const b = posix.basename(clean);
      return b === '' || /^(https?|ftp):$/.test(b) ? 'index.html' : b;
    };
    let out: Word | null = null;
    let toStdout = false;
    if (name === 'wget') {
      const oi = a.findIndex((x) => x === '-O' || x === '--output-document' || /^-[a-zA-Z]*O$/.test(x));
      const eq = args.find((w) => w.text.startsWith('--output-document=') || /^-[a-zA-Z]*O./.test(w.text));
      if (oi >= 0) out = args[oi + 1] ?? null;
      else if (eq !== undefined) out = word(eq.text.startsWith('--') ? eq.text.slice(18) : eq.text.replace(/^-[a-zA-Z]*O/, ''));
      if (out !== null && (out.text === '-' || out.text === '/dev/stdout')) { toStdout = true; out = null; }
      else if (out === null) {
        const pi = a.findIndex((x) => x === '-P' || x === '--directory-prefix');
        const prefix = pi >= 0 ? (args[pi + 1]?.text ?? '.') : '.';
        out = word(`${prefix}/${urlBase(urls[0])}`);
      }
    } else if (name === 'curl') {
      const oi = a.findIndex((x) => x === '-o' || x === '--output' || /^-[a-zA-Z]*o$/.test(x));
      if (oi >= 0) out = args[oi + 1] ?? null;
      else if (a.some((x) => x === '-O' || x === '--remote-name' || /^-[a-zA-Z]*O[a-zA-Z]*$/.test(x))) out = word(urlBase(urls[0]));
      else toStdout = true;
      if (out !== null && (out.text === '-' || out.text === '/dev/stdout')) { toStdout = true; out = null; }
    } else {
      toStdout = true;
    }
    if (out !== null) {
      this.checkWrite(out, ctx, name);
      const p = this.resolveWord(out, ctx);
      if (p !== null) this.recordFile(ctx, p, { k: 'remote' });
    }
    return toStdout ? { k: 'remote' } : NONE;
  }

  // ---- git
  private runGit(args: Word[], ctx: Ctx, stdin: Flow): Flow {
    let i = 0;
    let dir: (string | null)[] = ctx.cwds;
    const configs: string[] = [];
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t === '-C') {
        const d = args[i + 1];
        i++;
        if (d !== undefined) dir = hasMarker(d.text) ? [null] : dir.map((c) => resolvePath(d.text, c));
        continue;
      }
      if (t === '-c') { configs.push(args[i + 1]?.text ?? ''); i++; continue; }
      if (t === '--config-env' || t === '--git-dir' || t === '--work-tree' || t === '--namespace' || t === '--exec-path' || t === '--super-prefix' || t === '--list-cmds') { i++; continue; }
      if (t.startsWith('-')) continue;
      break;
    }
    const sub = args[i];
    const rest = args.slice(i + 1);
    for (const c of configs) this.checkGitConfig(c, ctx);
    if (sub === undefined) return NONE;
    if (hasMarker(sub.text)) {
      const a = rest.map((w) => w.text);
      if (a.some((x) => x === '--force' || x === '--hard' || x.startsWith('+') || /^-[a-zA-Z]*f/.test(x))) this.deny('git-computed', 'git with a subcommand computed at run time and force/hard flags; write the subcommand literally');
      return { k: 'computed', by: 'git' };
    }
    const a = rest.map((w) => w.text);
    switch (sub.text) {
      case 'push': this.checkPush(rest); break;
      case 'reset': {
        if (a.includes('--hard')) {
          const b = ctx.branch;
          if (b === undefined) this.deny('git-reset-hard', 'git reset --hard while the current branch is unknown to the guard; commit or stash first, or reset on a feature branch');
          else if (b !== null && this.cfg.protectedBranches.includes(b)) this.deny('git-reset-hard', `git reset --hard on ${b} discards work on a protected branch; create a branch (git switch -c fix) or use git revert`);
        }
        break;
      }
      case 'clean': {
        const flags = a.filter((x) => x.startsWith('-'));
        const letters = flags.filter((x) => /^-[a-zA-Z]+$/.test(x)).join('');
        const force = letters.includes('f') || flags.includes('--force');
        const dirs = letters.includes('d');
        const ignored = letters.includes('x');
        if (force && dirs && ignored && !letters.includes('n') && !flags.includes('--dry-run')) {
          const project = this.cfg.env.project;
          const pathspec = rest.filter((w) => !w.text.startsWith('-'));
          for (const d of dir) {
            const target = pathspec.length === 0 ? d : d === null ? null : resolvePath(pathspec[0]?.text ?? '.', d);
            if (target === null || project === null || target === project || project.startsWith(`${target}/`)) {
              this.deny('git-clean', 'git clean -fdx at the project root deletes every untracked and ignored file (including .env files and local settings); clean specific directories, or use git clean -n to preview');
              break;
            }
          }
        }
        break;
      }
      case 'checkout': case 'switch': {
        if (a.includes('--')) break;
        const ci = a.findIndex((x) => x === '-b' || x === '-B' || x === '-c' || x === '-C' || x === '--orphan');
        const target = ci >= 0 ? a[ci + 1] : a.find((x) => !x.startsWith('-'));
        if (target !== undefined && !hasMarker(target) && a.filter((x) => !x.startsWith('-')).length <= (ci >= 0 ? 2 : 1)) ctx.branch = target;
        else if (target !== undefined) ctx.branch = undefined;
        break;
      }
      case 'config': {
        const key = a.find((x) => !x.startsWith('-'));
        const val = a[a.indexOf(key ?? '') + 1];
        if (key !== undefined && val !== undefined) this.checkGitConfig(`${key}=${val}`, ctx);
        break;
      }
      case 'clone': {
        const pos = rest.filter((w) => !w.text.startsWith('-'));
        const url = pos[0];
        const target = pos[1] ?? (url === undefined ? undefined : word(posix.basename(url.text.replace(/\.git$/, '').replace(/\/+$/, ''))));
        if (target !== undefined) {
          this.checkWrite(target, ctx, 'git clone');
          for (const p of this.resolveAll(target, ctx)) if (p !== null) ctx.remoteDirs.add(p);
        }
        break;
      }
      default: break;
    }
    void stdin;
    return { k: 'computed', by: 'git' };
  }

  private checkPush(rest: Word[]): void {
    const a = rest.map((w) => w.text);
    let force = false;
    let lease = false;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as string;
      if (x === '--force' || x === '--mirror' || x === '--force-if-includes=false') force = force || x !== '--force-if-includes=false';
      else if (x.startsWith('--force-with-lease')) lease = true;
      else if (/^-[a-zA-Z]+$/.test(x) && x.includes('f')) force = true;
      else if (x === '-o' || x === '--push-option' || x === '--repo' || x === '--receive-pack' || x === '--exec') i++;
      else if (!x.startsWith('-') && x.startsWith('+')) force = true;
      else if (!x.startsWith('-') && hasMarker(x) && x.startsWith(MARK_EMPTYABLE) === false && x.includes('+')) force = true;
    }
    if (force) this.deny('git-force-push', 'git push --force / +refspec / --mirror can overwrite the remote history; use git push --force-with-lease, or push to a new branch');
    void lease;
  }

  private checkGitConfig(kv: string, ctx: Ctx): void {
    const m = /^([^=]+)=(.*)$/s.exec(kv);
    if (m === null) return;
    const key = (m[1] as string).toLowerCase();
    const val = m[2] as string;
    if (key.startsWith('alias.') && val.startsWith('!')) this.scriptWord(word(val.slice(1)), this.clone(ctx), [], 'git alias');
    else if (/^(core\.(pager|sshcommand|editor|fsmonitor|hookspath|askpass)|sequence\.editor|diff\.external|pager\.\w+|credential\.helper|gpg\.program|uploadpack\.packobjectshook)$/.test(key)) {
      if (key === 'core.hookspath') this.deny('protected-path', 'git -c core.hooksPath points git at another hooks directory; ask the operator');
      else this.scriptWord(word(val.replace(/^!/, '')), this.clone(ctx), [], `git ${key}`);
    } else if (/^remote\..*\.(push|mirror)$/.test(key) && (val.startsWith('+') || val === 'true')) {
      this.deny('git-force-push', 'a git config that force-pushes (+refspec or mirror); use git push --force-with-lease');
    }
  }

  // ---- shells, interpreters, scripts
  private runShell(name: string, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    let i = 0;
    let script: Word | null = null;
    let readsStdin = false;
    let cFlag = false;
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t === '--') { i++; break; }
      if (t === '-o' || t === '+o' || t === '-O' || t === '+O' || t === '--rcfile' || t === '--init-file' || t === '--init-command' || t === '-C') { i++; continue; }
      if (t === '-' ) { readsStdin = true; i++; break; }
      if (/^[-+][a-zA-Z]+$/.test(t)) {
        if (t.startsWith('-') && t.includes('c')) cFlag = true;
        if (t.startsWith('-') && t.includes('s')) readsStdin = true;
        continue;
      }
      if (t === '--command' || t === '-command') { cFlag = true; continue; }
      if (t.startsWith('--')) continue;
      break;
    }
    if (cFlag) {
      script = args[i] ?? null;
      if (script === null) return NONE;
      return this.scriptWord(script, ctx, args.slice(i + 1).map((w) => w.text), `${name} -c`);
    }
    if (!readsStdin && args[i] !== undefined) return this.execScriptFile(args[i] as Word, ctx, 'sh', stdin, args.slice(i + 1).map((w) => w.text));
    this.scriptFlow(stdin, ctx, 'sh', `${name} reading commands from its input`);
    return { k: 'computed', by: name };
  }

  private runInterpreter(lang: Lang, name: string, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const a = args.map((w) => w.text);
    if (lang === 'awk') {
      const r = skipOpts(args, 'Fvf', ['--field-separator', '--assign', '--file']);
      const fi = r.opts.findIndex((o) => o === '-f' || o === '--file');
      if (fi >= 0) return { k: 'computed', by: name };
      const prog = r.rest[0];
      if (prog !== undefined) this.codeWord(lang, prog, ctx, `${name} program`);
      return { k: 'computed', by: name };
    }
    const flags = CODE_FLAGS[lang];
    // perl -i edits files in place.
    if (lang === 'perl' && a.some((x) => /^-[a-zA-Z]*i/.test(x))) {
      for (const f of args.filter((w, idx) => !w.text.startsWith('-') && !(idx > 0 && /^-[a-zA-Z]*[eE]$/.test(a[idx - 1] as string)))) this.checkWrite(f, ctx, 'perl -i');
    }
    for (let i = 0; i < args.length; i++) {
      const t = a[i] as string;
      const isCode = flags.includes(t) || (lang === 'perl' && /^-[a-zA-Z]*[eE]$/.test(t)) || (lang === 'python' && /^-[a-zA-Z]*c$/.test(t)) || (lang === 'node' && t === 'eval' && i === 0);
      if (isCode) {
        const code = args[i + 1];
        if (code !== undefined) this.codeWord(lang, code, ctx, `${name} ${t}`);
        if (lang === 'perl') continue;
        return { k: 'computed', by: name };
      }
      const eqm = /^(--eval|--print)=(.*)$/s.exec(t);
      if (eqm !== null) { this.codeWord(lang, word(eqm[2] as string, { flows: (args[i] as Word).flows }), ctx, name); return { k: 'computed', by: name }; }
      if (lang === 'python' && (t === '-m' || t === '-W' || t === '-X' || t === '-Q')) { if (t === '-m') return { k: 'computed', by: name }; i++; continue; }
      if (lang === 'node' && (t === '-r' || t === '--require' || t === '--import' || t === '--loader' || t === '--experimental-loader' || t === '--env-file' || t === '-C' || t === '--conditions')) { i++; continue; }
      if (lang === 'perl' && (t === '-M' || t === '-I' || t === '-m')) { i++; continue; }
      if (lang === 'ruby' && (t === '-r' || t === '-I' || t === '-C')) { i++; continue; }
      if (t === '-') { this.scriptFlow(stdin, ctx, lang, `${name} reading a program from its input`); return { k: 'computed', by: name }; }
      if (t.startsWith('-')) continue;
      if (lang === 'node' && /^(run|test|install|add|x|create|upgrade|fmt|lint|check|task|compile|serve|repl|info|doc|init|bundle|build|pm|link|outdated|update|remove)$/.test(t) && (name === 'bun' || name === 'deno')) return { k: 'computed', by: name };
      return this.execScriptFile(args[i] as Word, ctx, lang, stdin);
    }
    if (a.some((x) => /^-[a-zA-Z]*e$/.test(x)) && lang === 'perl') return { k: 'computed', by: name };
    this.scriptFlow(stdin, ctx, lang, `${name} reading a program from its input`);
    return { k: 'computed', by: name };
  }

  /** A word that will be run as shell source (sh -c, eval, watch, su -c). */
  scriptWord(w: Word, ctx: Ctx, positional: string[], origin: string): Flow {
    const bad = worstFlow(w.flows);
    if (bad !== null && (bad.k !== 'computed' || w.text.includes(MARK_ANY))) {
      this.flowDeny(bad, `${origin} runs`);
      return NONE;
    }
    if (w.text.includes(MARK_ANY)) {
      const envOnly = w.flows.length > 0 && w.flows.every((f) => f.k === 'envsetup' || f.k === 'file' || f.k === 'text');
      if (!envOnly) {
        this.deny('computed-script', `${origin} runs a script assembled at run time; write the commands literally`);
        return NONE;
      }
    }
    if (w.text.includes(MARK_EMPTYABLE) && worst(w.text).trim() === '') {
      this.deny('computed-script', `${origin} runs the contents of a variable the guard cannot see; write the commands literally`);
      return NONE;
    }
    const src = w.text.replace(/[\uE000-\uE002]/g, PLACEHOLDER);
    const sub = this.clone(ctx);
    sub.positional = positional;
    return this.analyzeSource(src, sub, `${origin} script`);
  }

  /** A flow (stdin, file content) that a shell or interpreter runs as a program. */
  scriptFlow(f: Flow, ctx: Ctx, lang: 'sh' | Lang, origin: string): void {
    switch (f.k) {
      case 'none': case 'envsetup': case 'binary': return;
      case 'text':
        if (lang === 'sh') this.analyzeSource(f.text, this.clone(ctx), `${origin}`);
        else this.codeText(lang, f.text, ctx, origin);
        return;
      case 'file':
        if (f.path !== null && ctx.files.has(f.path)) this.scriptFlow(ctx.files.get(f.path) as Flow, ctx, lang, origin);
        return;
      case 'paths':
        this.deny('computed-script', `${origin}: file names are fed to a shell as commands`);
        return;
      default:
        this.flowDeny(f, `${origin}: pipes`);
    }
  }

  /** Runs a script file: judged by content if the same command wrote it; local files are allowed. */
  private execScriptFile(w: Word, ctx: Ctx, lang: 'sh' | Lang, stdin: Flow = NONE, positional: string[] = []): Flow {
    if (w.procSubst) {
      const f = w.flows[0] ?? NONE;
      if (f.k === 'text') this.scriptFlow(f, ctx, lang, 'a process substitution');
      else if (f.k === 'remote' || f.k === 'decoded' || f.k === 'computed') this.flowDeny(f, 'runs a process substitution that feeds');
      return { k: 'computed', by: 'script' };
    }
    if (w.text === '/dev/stdin' || w.text === '-') {
      this.scriptFlow(stdin, ctx, lang, 'a script read from stdin');
      return { k: 'computed', by: 'script' };
    }
    for (const p of this.resolveAll(w, ctx)) {
      if (p === null) continue;
      const written = ctx.files.get(p);
      if (written !== undefined) return this.execWritten(written, p, positional.map((x) => word(x)), ctx, lang);
      for (const d of ctx.remoteDirs) {
        if (p.startsWith(`${d}/`)) {
          this.deny('remote-code', `runs ${display(p)} from a repository or archive downloaded in the same command; download it, review it, then run it in a separate step`);
          return NONE;
        }
      }
    }
    if (w.text.includes(MARK_ANY)) this.deny('computed-script', 'runs a script whose path is computed at run time; name the script literally');
    return { k: 'computed', by: 'script' };
  }

  private execWritten(f: Flow, p: string, args: Word[], ctx: Ctx, lang: 'sh' | Lang): Flow {
    if (f.k === 'binary') return this.run([word(f.name), ...args], ctx, NONE, { sudo: false });
    if (f.k === 'text') {
      const sub = this.clone(ctx);
      sub.positional = [p, ...args.map((a) => a.text)];
      const shebang = /^#!\s*\S*?\/(?:env\s+)?(\w[\w.]*)/.exec(f.text)?.[1];
      const effective: 'sh' | Lang = lang !== 'sh' ? lang : shebang !== undefined && interpreterLang(shebang) !== null ? (interpreterLang(shebang) as Lang) : 'sh';
      this.scriptFlow(f, sub, effective, `the script ${display(p)} written by this command`);
      return { k: 'computed', by: 'script' };
    }
    if (f.k === 'remote') this.deny('remote-code', `downloads ${display(p)} and runs it in the same command; download it, review it, then run it in a separate step`);
    else if (f.k === 'decoded') this.deny('decode-to-shell', `decodes ${display(p)} and runs it in the same command; write the script out literally`);
    else this.deny('write-then-run', `writes ${display(p)} and runs it in the same command; write the file first, review it, then run it in a separate call`);
    return NONE;
  }

  private codeWord(lang: Lang, w: Word, ctx: Ctx, origin: string): void {
    const bad = worstFlow(w.flows);
    if (bad !== null) { this.flowDeny(bad, `${origin} runs`); return; }
    this.codeText(lang, w.text.replace(/[\uE000-\uE002]/g, PLACEHOLDER), ctx, origin);
  }

  private codeText(lang: Lang, code: string, ctx: Ctx, origin: string): void {
    this.nest(() => {
      const facts = analyzeCode(lang, code);
      if (facts.forkBomb) this.deny('fork-bomb', `${origin} forks in an endless loop (a fork bomb); bound the number of processes`);
      for (const d of facts.deletes) {
        if (d.computed) {
          this.deny('recursive-delete', `${origin} deletes a directory tree (${d.api}) whose path is computed at run time; use rm -r with a literal path inside the project`);
          continue;
        }
        for (const lit of d.literals) {
          if (lit === '' || /[\n;|&]/.test(lit)) continue;
          const w = word(lit.startsWith('~') ? this.tilde(lit, ctx) : lit);
          this.checkRecursiveDelete(w, ctx, `${origin} (${d.api})`);
        }
      }
      for (const s of facts.shellOuts) {
        if (s.literals.length === 0 || (s.computed && !s.argvList)) {
          this.deny('computed-script', `${origin} runs a shell command (${s.api}) built at run time; write the command literally`);
          continue;
        }
        const candidates = s.argvList ? [s.literals.map(shellQuote).join(' ')] : s.literals;
        for (const cmd of candidates) {
          if (cmd.trim() === '') continue;
          const sub = this.clone(ctx);
          const before = this.findings.length;
          this.analyzeSource(cmd, sub, `${origin} (${s.api}) command`);
          // A literal that is not shell (a format string, a JSON blob) is not a finding.
          for (let i = this.findings.length - 1; i >= before; i--) if (this.findings[i]?.rule === 'parse-error') this.findings.splice(i, 1);
        }
      }
      for (const wr of facts.writes) {
        for (const lit of wr.literals) {
          if (lit === '' || !/[/.~]/.test(lit) || /\s/.test(lit)) continue;
          this.checkWrite(word(lit.startsWith('~') ? this.tilde(lit, ctx) : lit), ctx, `${origin} (${wr.api})`);
        }
      }
    });
  }

  private runXargs(args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const r = skipOpts(args, 'adEeIiLlnPs', ['--arg-file', '--delimiter', '--eof', '--replace', '--max-lines', '--max-args', '--max-procs', '--max-chars', '--process-slot-var'], undefined, false, true);
    let repl: string | null = null;
    for (let i = 0; i < r.opts.length; i++) {
      const o = r.opts[i] as string;
      if (o === '-I' || o === '--replace') repl = r.optValues[i]?.text ?? '{}';
      else if (o.startsWith('-i')) repl = o.length > 2 ? o.slice(2) : '{}';
    }
    const fromFile = r.opts.some((o) => o === '-a' || o.startsWith('--arg-file'));
    const items = fromFile ? [word(MARK_ANY)] : this.itemsFrom(stdin);
    const payload = r.rest.length === 0 ? [word('echo')] : r.rest;
    for (const item of items.slice(0, MAX_FANOUT)) {
      const argv = repl === null ? [...payload, item] : payload.map((w) => (w.text.includes(repl as string) ? word(w.text.split(repl as string).join(item.text), { glob: item.glob }) : w));
      this.run(argv, this.clone(ctx), NONE, meta);
    }
    return { k: 'computed', by: 'xargs' };
  }

  private itemsFrom(f: Flow): Word[] {
    if (f.k === 'text') {
      const items = f.text.split(/\s+/).filter((s) => s !== '');
      return items.length === 0 ? [word('')] : items.map((s) => word(s));
    }
    if (f.k === 'paths') return f.roots.map((root) => word(f.restricted ? `${root.replace(/\/$/, '')}/${MARK_NONEMPTY}` : root));
    if (f.k === 'none') return [word('')];
    return [word(MARK_ANY, { flows: [f] })];
  }

  private runParallel(args: Word[], ctx: Ctx, meta: { sudo: boolean }): Flow {
    const sep = args.findIndex((w) => w.text === ':::' || w.text === '::::');
    const cmd = (sep >= 0 ? args.slice(0, sep) : args).filter((w, i, all) => !(w.text.startsWith('-') && all.slice(0, i).every((x) => x.text.startsWith('-'))));
    const items = sep >= 0 ? args.slice(sep + 1).filter((w) => w.text !== ':::') : [word(MARK_ANY)];
    if (cmd.length === 0) return { k: 'computed', by: 'parallel' };
    for (const item of items.slice(0, MAX_FANOUT)) {
      const hasRepl = cmd.some((w) => w.text.includes('{}'));
      const argv = hasRepl ? cmd.map((w) => word(w.text.split('{}').join(item.text))) : [...cmd, item];
      if (argv.length === 1) this.scriptWord(argv[0] as Word, ctx, [], 'parallel');
      else this.run(argv, this.clone(ctx), NONE, meta);
    }
    return { k: 'computed', by: 'parallel' };
  }

  private runFind(args: Word[], ctx: Ctx, meta: { sudo: boolean }): Flow {
    let i = 0;
    while (i < args.length && /^-(H|L|P|D|O\d?)$/.test((args[i] as Word).text)) i += (args[i] as Word).text === '-D' ? 2 : 1;
    const roots: Word[] = [];
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t.startsWith('-') || t === '(' || t === '!' || t === '\\(') break;
      roots.push(args[i] as Word);
    }
    if (roots.length === 0) roots.push(word('.'));
    const expr = args.slice(i);
    let restricted = false;
    let negate = false;
    let del = false;
    let namePattern: string | null = null;
    let nameUnknown = false;
    const payloads: Word[][] = [];
    for (let j = 0; j < expr.length; j++) {
      const t = (expr[j] as Word).text;
      if (t === '!' || t === '-not') { negate = true; continue; }
      if (/^-(name|iname|path|ipath|wholename|iwholename|regex|iregex|lname|ilname|empty|samefile|inum)$/.test(t)) {
        if (!negate) {
          restricted = true;
          const pat = expr[j + 1]?.text;
          if ((t === '-name' || t === '-iname') && pat !== undefined && !pat.includes('/') && !hasMarker(pat)) namePattern = namePattern === null ? pat : namePattern;
          else if (t !== '-empty') nameUnknown = true;
        }
        negate = false;
        if (t !== '-empty') j++;
        continue;
      }
      negate = false;
      if (t === '-delete') del = true;
      else if (t === '-exec' || t === '-execdir' || t === '-ok' || t === '-okdir') {
        const end = expr.findIndex((w, k) => k > j && (w.text === ';' || w.text === '+' || w.text === '\\;'));
        payloads.push(expr.slice(j + 1, end < 0 ? undefined : end));
        j = end < 0 ? expr.length : end;
      } else if (t === '-fprint' || t === '-fprint0' || t === '-fprintf' || t === '-fls') {
        const f = expr[j + 1];
        if (f !== undefined) this.checkWrite(f, ctx, `find ${t}`);
        j++;
      }
    }
    const rootPaths = roots.map((r) => worst(r.text));
    const leaf = namePattern !== null && !nameUnknown ? namePattern : MARK_NONEMPTY;
    const matched = roots.map((r) => (restricted ? word(`${r.text.replace(/\/$/, '')}/${leaf}`, { glob: r.glob || leaf !== MARK_NONEMPTY }) : r));
    if (del) for (const m of matched) this.checkRecursiveDelete(m, ctx, 'find -delete');
    for (const p of payloads) {
      for (const m of matched.slice(0, MAX_FANOUT)) {
        const argv = p.map((w) => (w.text.includes('{}') ? word(w.text.split('{}').join(m.text), { glob: m.glob }) : w));
        this.run(argv, this.clone(ctx), NONE, meta);
      }
    }
    const abs = rootPaths.map((p) => (p.startsWith('/') ? p : resolvePath(p, ctx.cwds[0] ?? null) ?? p));
    return { k: 'paths', roots: abs, restricted };
  }

  private runTmux(name: string, args: Word[], ctx: Ctx): Flow {
    const a = args.map((w) => w.text);
    if (name === 'screen') {
      const xi = a.indexOf('stuff');
      if (xi >= 0 && args[xi + 1] !== undefined) this.scriptWord(args[xi + 1] as Word, ctx, [], 'screen stuff');
      return { k: 'computed', by: name };
    }
    const sub = a.findIndex((x) => /^(send-keys|send|new-session|new|new-window|neww|split-window|splitw|respawn-pane|respawnp|respawn-window|respawnw|run-shell|run|display-popup|popup)$/.test(x));
    if (sub < 0) return { k: 'computed', by: name };
    const cmd = a[sub] as string;
    const rest = args.slice(sub + 1);
    const withArg = new Set(['-t', '-s', '-n', '-c', '-x', '-y', '-e', '-F', '-l', '-p', '-N', '-d', '-w', '-h', '-b', '-T']);
    const pos: Word[] = [];
    for (let i = 0; i < rest.length; i++) {
      const t = (rest[i] as Word).text;
      if (withArg.has(t)) { i++; continue; }
      if (/^-[a-zA-Z]+$/.test(t)) continue;
      pos.push(rest[i] as Word);
    }
    if (cmd.startsWith('send')) {
      const text = pos.filter((w) => !/^(Enter|C-m|C-j|KPEnter|Escape|C-c|Space|Tab|BSpace|Up|Down|Left|Right)$/.test(w.text));
      if (text.length > 0) this.scriptWord(joinWords(text), ctx, [], 'tmux send-keys');
    } else if (pos.length > 0) {
      this.scriptWord(joinWords(pos), ctx, [], `tmux ${cmd}`);
    }
    return { k: 'computed', by: name };
  }

  private checkSql(name: string, args: Word[], stdin: Flow): void {
    const texts = args.map((w) => w.text);
    if (stdin.k === 'text') texts.push(stdin.text);
    for (const t of texts) {
      for (const d of SQL_DANGER) {
        if (d.re.test(t)) {
          this.warn('sql-destructive', `${name} runs ${d.what}; make sure this is the intended database`);
          return;
        }
      }
    }
  }

  private checkWarnSub(name: string, a: string[], subs: readonly string[]): void {
    const positional = a.filter((x) => !x.startsWith('-'));
    if (name === 'terraform' || name === 'tofu') {
      if (positional[0] === 'apply' && a.includes('-destroy')) { this.warn('infra-destroy', `${name} apply -destroy destroys infrastructure`); return; }
    }
    if (name === 'docker' && !(positional[1] === 'prune')) return;
    // Options with values (`kubectl -n prod delete`) leave their value among the positionals: look at the first three.
    if (positional.slice(0, 3).some((p) => subs.includes(p)) || (name === 'aws' && positional.some((p) => subs.includes(p))) || (name === 'gcloud' && positional.includes('delete'))) {
      this.warn('infra-destroy', `${name} ${positional.slice(0, 2).join(' ')} deletes resources; double-check the target`);
    }
  }
}

// ---------------------------------------------------------------- helpers

function union(a: (string | null)[], b: (string | null)[]): (string | null)[] {
  return uniq([...a, ...b]).slice(0, 4);
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function appendFlow(prev: Flow | undefined, next: Flow): Flow {
  if (prev === undefined) return next;
  if (prev.k === 'text' && next.k === 'text') return { k: 'text', text: prev.text + next.text };
  return worstFlow([prev, next]) ?? { k: 'computed', by: 'appended output' };
}

/** The most dangerous flow among `fs` (remote > decoded > computed), or null when none is. */
export function worstFlow(fs: Flow[]): Flow | null {
  return fs.find((f) => f.k === 'remote') ?? fs.find((f) => f.k === 'decoded') ?? fs.find((f) => f.k === 'computed') ?? null;
}

function joinWords(ws: Word[]): Word {
  return { text: ws.map((w) => w.text).join(' '), glob: ws.some((w) => w.glob), flows: ws.flatMap((w) => w.flows), procSubst: false };
}

/**
 * Generic option skipper. Short options in `withArg` take a value (attached or next word); long
 * options in `longWithArg` take `=value` or the next word. With `permute`, options may follow operands.
 */
function skipOpts(args: Word[], withArg: string, longWithArg: string[], extraFlag?: RegExp, permute = false, stopAtFirst = false): { opts: string[]; optValues: (Word | undefined)[]; rest: Word[] } {
  const opts: string[] = [];
  const optValues: (Word | undefined)[] = [];
  const rest: Word[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i] as Word;
    const t = w.text;
    if (t === '--') { rest.push(...args.slice(i + 1)); return { opts, optValues, rest }; }
    if (extraFlag !== undefined && extraFlag.test(t)) { opts.push(t); optValues.push(undefined); continue; }
    if (t.startsWith('--') && t.length > 2) {
      const eq = t.indexOf('=');
      const nameOnly = eq >= 0 ? t.slice(0, eq) : t;
      if (eq < 0 && longWithArg.includes(nameOnly)) { opts.push(nameOnly); optValues.push(args[i + 1]); i++; }
      else { opts.push(nameOnly); optValues.push(eq >= 0 ? word(t.slice(eq + 1)) : undefined); }
      continue;
    }
    if (t.startsWith('-') && t.length > 1 && !hasMarker(t.slice(0, 2))) {
      // a short cluster: letters until one that takes a value
      let k = 1;
      let consumed = false;
      while (k < t.length) {
        const ch = t[k] as string;
        if (withArg.includes(ch)) {
          opts.push(`-${ch}`);
          if (k + 1 < t.length) optValues.push(word(t.slice(k + 1)));
          else { optValues.push(args[i + 1]); i++; }
          consumed = true;
          break;
        }
        k++;
      }
      if (!consumed) { opts.push(t); optValues.push(undefined); }
      continue;
    }
    if (!permute || stopAtFirst) { rest.push(...args.slice(i)); return { opts, optValues, rest }; }
    rest.push(w);
  }
  return { opts, optValues, rest };
}

function findFirst(n: SyntaxNode, type: string): SyntaxNode | null {
  if (n.type === type) return n;
  for (const c of n.children) {
    const f = findFirst(c, type);
    if (f !== null) return f;
  }
  return null;
}

/** Removes shell backslash escapes from an unquoted word, and line continuations. */
export function unescapeWord(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(\n|.)/gs, (_m, c: string) => (c === '\n' ? '' : c));
}

/** Decodes the body of `$'…'` (and `echo -e`, printf formats). */
export function decodeAnsiC(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs, (_m, e: string) => {
    const c = e[0] as string;
    if (c === 'x' || c === 'u' || c === 'U') {
      const cp = parseInt(e.slice(1), 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    if (/[0-7]/.test(c)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    switch (c) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'a': return '\x07';
      case 'b': return '\b';
      case 'e': case 'E': return '\x1b';
      case 'f': return '\f';
      case 'v': return '\v';
      case 'c': return String.fromCharCode((e.charCodeAt(1) || 64) & 31);
      default: return c;
    }
  });
}

/** Brace expansion of `a{b,c}d` and `{1..3}` (bounded). */
export function braceExpand(s: string, limit = MAX_FANOUT): string[] {
  const m = /\{([^{}]*)\}/.exec(s);
  if (m === null) return [s];
  const inner = m[1] as string;
  let alts: string[];
  const range = /^(-?\d+|[a-zA-Z])\.\.(-?\d+|[a-zA-Z])$/.exec(inner);
  if (range !== null) {
    const a = range[1] as string;
    const b = range[2] as string;
    const num = /\d/.test(a);
    const from = num ? Number(a) : a.charCodeAt(0);
    const to = num ? Number(b) : b.charCodeAt(0);
    alts = [];
    const step = from <= to ? 1 : -1;
    for (let v = from; alts.length < limit; v += step) {
      alts.push(num ? String(v) : String.fromCharCode(v));
      if (v === to) break;
    }
  } else if (inner.includes(',')) {
    alts = inner.split(',');
  } else {
    return [s];
  }
  const pre = s.slice(0, m.index);
  const post = s.slice(m.index + m[0].length);
  const out: string[] = [];
  for (const alt of alts) {
    for (const x of braceExpand(pre + alt + post, limit)) {
      out.push(x);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export function shellQuote(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The Bash analyzer: walks a tree-sitter-bash syntax tree, expands words the way the shell would
 * (quotes, `$'…'`, tilde, known variables, brace expansion, command substitution), unwraps wrappers,
 * follows data into shells and interpreters, and records findings. Pure: no I/O, the parser is passed in.
 */
import { posix } from 'node:path';
import type { SyntaxNode } from './syntax.js';
import { hasSyntaxError, ParseLimitError } from './syntax.js';
import type { ParseFn } from './types.js';
import type { CfErrorCode } from '../../core/error-codes.js';
import { shellQuote } from '../../core/shell-quote.js';
import {
  MARK_ANY, MARK_EMPTYABLE, MARK_NONEMPTY, criticalReason, display, hasMarker, isBlockDevice, isTempPath, isUnder, normalize, protectedHit, resolvePath, secretHit,
  unknownChildCritical, type PathEnv,
} from './paths.js';
import {
  CODE_FLAGS, COMMAND_ENV_VARS, DB_CLIENTS, DISK_TOOLS, DOWNLOADERS, ENV_SETUP, METADATA_ONLY, PASS_THROUGH, READ_ONLY, RUNNERS, SHELLS, SOURCE_ENV_VARS, SQL_DANGER,
  WARN_SUBCOMMANDS, interpreterLang, isDecoder, type Lang, type Runner,
} from './tables.js';
import { MAX_CODE_LENGTH, analyzeCode, stringLiterals } from './interp.js';
import { DEFAULT_IFS, caseConvert, isGlobPattern, removePattern, replacePattern, splitFields, substring } from './expansion.js';

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
  /**
   * The word holds an unquoted value that is not statically known: after field splitting it may be
   * several words (`$c` with c unknown could be `rm -rf /etc` all by itself).
   */
  multi?: boolean;
  /** Other texts the word may have (a variable set differently in branches of an `if`, `||`, `case`). */
  alts?: string[];
}

/** A piece of a word during expansion. */
interface Piece {
  text: string;
  quoted: boolean;
  /** An unquoted expansion result: subject to field splitting. */
  split: boolean;
  /** Unquoted glob characters. */
  glob?: boolean;
  alts?: string[];
  /** `"$@"`, `"${a[@]}"`: separate words. */
  fields?: string[];
  /** The number of fields is not known. */
  unknownCount?: boolean;
}

/** Positional parameters: `[$0, $1, …]`; `'unknown'` after `set -- $(…)` and the like. */
type Positional = string[] | 'unknown';

interface Ctx {
  /** Possible working directories (null = unknown). */
  cwds: (string | null)[];
  /** Scalar variables; unknown parts are markers (MARK_ANY: set in this command to something not statically known). */
  vars: Map<string, string>;
  /** Other values a scalar may have after a branch (see Word.alts). */
  alts: Map<string, string[]>;
  /** Indexed and associative arrays (their values). */
  arrays: Map<string, string[]>;
  /** Name references (`declare -n r=x`): r -> x. */
  refs: Map<string, string>;
  /** Case attributes (`declare -l/-u`) and integers (`-i`). */
  attrs: Map<string, 'lower' | 'upper' | 'int'>;
  /** Names declared `local` in the function being analysed (not copied back to the caller). */
  locals: Set<string> | null;
  files: Map<string, Flow>;
  remoteDirs: Set<string>;
  functions: Map<string, SyntaxNode>;
  aliases: Map<string, string>;
  /** git aliases defined in this command (`git config alias.x …`). */
  gitAliases: Map<string, string>;
  /** Current branch per repository (root dir, or the dir when the root is unknown), as changed by this command. */
  branches: Map<string, string | null | undefined>;
  /** The previous command's last argument (`$_`); null when unknown. */
  lastArg: string | null;
  callStack: string[];
  positional: Positional;
}

export interface Finding {
  decision: 'deny' | 'warn';
  rule: string;
  reason: string;
}

export class GuardBudgetError extends Error {
  readonly code: CfErrorCode = 'CF_ERR_GUARD_BUDGET';
}

/** A repository: its root and its current branch (null when HEAD is detached). */
export interface GitRepoInfo {
  root: string;
  branch: string | null;
}

export interface AnalyzerConfig {
  parse: ParseFn;
  env: PathEnv;
  /** The call's working directory (where `gitBranch` was read). */
  cwd: string | null;
  /** The branch of the working directory's repository, when only that is known. */
  branch: string | null | undefined;
  /** Reads any directory's repository: null = not in a repository, undefined = unreadable. */
  readGit?: (dir: string) => GitRepoInfo | null | undefined;
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
/** Most values tracked for one variable across branches; more make it unknown. */
const MAX_ALTS = 4;
const PLACEHOLDER = 'CF_UNKNOWN';

function word(text: string, extra?: Partial<Word>): Word {
  return { text, glob: false, flows: [], procSubst: false, ...extra };
}

function worst(text: string): string {
  return text.split(MARK_EMPTYABLE).join('');
}

export class Analyzer {
  readonly findings: Finding[] = [];
  private readonly repoCache = new Map<string, { key: string; branch: string | null | undefined }>();
  /** Values assigned from a process substitution (`BASH_ENV=<(…)`), with their flows. */
  private readonly assignedWords = new Map<string, Word>();
  private nodes = 0;
  private depth = 0;

  constructor(private readonly cfg: AnalyzerConfig) {}

  newCtx(cwd: string): Ctx {
    return {
      cwds: [cwd], vars: new Map(), alts: new Map(), arrays: new Map(), refs: new Map(), attrs: new Map(), locals: null, files: new Map(), remoteDirs: new Set(),
      functions: new Map(), aliases: new Map(), gitAliases: new Map(), branches: new Map(), lastArg: null, callStack: [], positional: ['bash'],
    };
  }

  private clone(ctx: Ctx): Ctx {
    return {
      cwds: [...ctx.cwds], vars: new Map(ctx.vars), alts: new Map(ctx.alts), arrays: new Map(ctx.arrays), refs: new Map(ctx.refs), attrs: new Map(ctx.attrs),
      locals: ctx.locals === null ? null : new Set(ctx.locals), files: new Map(ctx.files), remoteDirs: new Set(ctx.remoteDirs), functions: new Map(ctx.functions),
      aliases: new Map(ctx.aliases), gitAliases: new Map(ctx.gitAliases), branches: new Map(ctx.branches), lastArg: ctx.lastArg, callStack: [...ctx.callStack],
      positional: ctx.positional,
    };
  }

  /**
   * After a branch that may or may not run (`a || b`, an `if` without `else`, a loop body) or one of
   * several branches: the state is every branch's state at once. Scalars that differ get the other
   * values as alternatives; arrays that differ become unknown; everything else is the union.
   */
  private mergeStates(into: Ctx, states: Ctx[]): void {
    const first = states[0];
    if (first === undefined) return;
    const names = new Set<string>();
    for (const st of states) for (const k of st.vars.keys()) names.add(k);
    for (const k of names) {
      const values: string[] = [];
      for (const st of states) {
        const v = st.vars.get(k);
        const vs = v === undefined ? [MARK_EMPTYABLE] : [v, ...(st.alts.get(k) ?? [])];
        for (const x of vs) if (!values.includes(x)) values.push(x);
      }
      const [head, ...rest] = values;
      if (head === undefined) continue;
      if (rest.length === 0) {
        into.vars.set(k, head);
        into.alts.delete(k);
      } else if (values.length > MAX_ALTS) {
        into.vars.set(k, MARK_ANY);
        into.alts.delete(k);
      } else {
        into.vars.set(k, head);
        into.alts.set(k, rest);
      }
    }
    const arrays = new Set<string>();
    for (const st of states) for (const k of st.arrays.keys()) arrays.add(k);
    for (const k of arrays) {
      const vs = states.map((st) => JSON.stringify(st.arrays.get(k) ?? null));
      into.arrays.set(k, vs.every((v) => v === vs[0]) ? (first.arrays.get(k) ?? [MARK_ANY]) : [MARK_ANY]);
    }
    into.cwds = uniq(states.flatMap((st) => st.cwds)).slice(0, 4);
    for (const st of states) {
      for (const [k, v] of st.files) into.files.set(k, v);
      for (const d of st.remoteDirs) into.remoteDirs.add(d);
      for (const [k, v] of st.functions) into.functions.set(k, v);
      for (const [k, v] of st.aliases) into.aliases.set(k, v);
      for (const [k, v] of st.gitAliases) into.gitAliases.set(k, v);
      for (const [k, v] of st.refs) into.refs.set(k, v);
      for (const [k, v] of st.attrs) into.attrs.set(k, v);
    }
    const br = new Set<string>();
    for (const st of states) for (const k of st.branches.keys()) br.add(k);
    for (const k of br) {
      const vs = states.map((st) => (st.branches.has(k) ? st.branches.get(k) : into.branches.get(k)));
      into.branches.set(k, vs.every((v) => v === vs[0]) ? vs[0] : undefined);
    }
    const ps = states.map((st) => JSON.stringify(st.positional));
    into.positional = ps.every((p) => p === ps[0]) ? first.positional : 'unknown';
    into.lastArg = states.every((st) => st.lastArg === first.lastArg) ? first.lastArg : null;
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
      case 'compound_statement':
        if (n.children[0]?.type === '((') {
          this.arith(n, ctx);
          return NONE;
        }
        return this.walkSeq(n.children, ctx, stdin);
      case 'program': case 'do_group': case 'else_clause': case 'elif_clause':
        return this.walkSeq(n.children, ctx, stdin);
      case 'if_statement':
        return this.walkIf(n, ctx, stdin);
      case 'case_statement':
        return this.walkCase(n, ctx, stdin);
      case 'while_statement':
        return this.walkWhile(n, ctx, stdin);
      case 'c_style_for_statement':
        return this.walkCFor(n, ctx, stdin);
      case 'arithmetic_expansion':
        this.arith(n, ctx);
        return NONE;
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
        this.assign(n, ctx);
        return NONE;
      case 'variable_assignments':
        for (const c of n.children) if (c.type === 'variable_assignment') this.assign(c, ctx);
        return NONE;
      case 'unset_command':
        this.unset(n, ctx);
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
      if (op === '&&' || op === '||') {
        // The right side may not run: afterwards the state is either.
        const skipped = this.clone(ctx);
        out = this.walk(right, ctx, stdin);
        this.mergeStates(ctx, [this.clone(ctx), skipped]);
      } else out = this.walk(right, ctx, stdin);
    }
    return out;
  }

  /** `if`: the conditions run in order; one branch (or none, without `else`) runs after them. */
  private walkIf(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    const branches: SyntaxNode[][] = [];
    let cur: SyntaxNode[] | null = null;
    let hasElse = false;
    let out: Flow = NONE;
    for (const c of n.children) {
      if (!c.named) {
        if (c.type === 'then') cur = [];
        if (cur !== null && c.type === 'fi') branches.push(cur);
        continue;
      }
      if (c.field === 'condition' && cur === null) { out = this.walk(c, ctx, stdin); continue; }
      if (c.type === 'elif_clause' || c.type === 'else_clause') {
        if (cur !== null) branches.push(cur);
        cur = null;
        const body: SyntaxNode[] = [];
        let inBody = c.type === 'else_clause';
        if (c.type === 'else_clause') hasElse = true;
        for (const x of c.children) {
          if (!x.named) { if (x.type === 'then') inBody = true; continue; }
          if (inBody) body.push(x);
          else out = this.walk(x, ctx, stdin);
        }
        branches.push(body);
        continue;
      }
      if (cur !== null) cur.push(c);
    }
    const states: Ctx[] = [];
    for (const b of branches) {
      const sub = this.clone(ctx);
      out = this.walkSeq(b, sub, stdin);
      states.push(sub);
    }
    if (!hasElse) states.push(this.clone(ctx));
    this.mergeStates(ctx, states);
    return out;
  }

  private walkCase(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    let out: Flow = NONE;
    const states: Ctx[] = [];
    let catchAll = false;
    for (const c of n.children) {
      if (!c.named) continue;
      if (c.field === 'value') { this.expand(c, ctx); continue; }
      if (c.type !== 'case_item') continue;
      const body: SyntaxNode[] = [];
      let inBody = false;
      for (const x of c.children) {
        if (!x.named) { if (x.type === ')') inBody = true; continue; }
        if (!inBody) { if (x.text === '*') catchAll = true; continue; }
        body.push(x);
      }
      const sub = this.clone(ctx);
      out = this.walkSeq(body, sub, stdin);
      states.push(sub);
    }
    if (!catchAll) states.push(this.clone(ctx));
    this.mergeStates(ctx, states);
    return out;
  }

  /** `while`/`until`: the condition runs at least once, the body zero or more times. */
  private walkWhile(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    let out: Flow = NONE;
    for (const c of n.children) if (c.named && c.field === 'condition') out = this.walk(c, ctx, stdin);
    const body = n.children.find((c) => c.field === 'body');
    if (body === undefined) return out;
    const skipped = this.clone(ctx);
    out = this.walk(body, ctx, stdin);
    // A second pass sees what the first one changed (`x=$y; y=/etc` in a loop).
    for (const c of n.children) if (c.named && c.field === 'condition') this.walk(c, ctx, stdin);
    this.walk(body, ctx, stdin);
    this.mergeStates(ctx, [this.clone(ctx), skipped]);
    return out;
  }

  private walkCFor(n: SyntaxNode, ctx: Ctx, stdin: Flow): Flow {
    for (const c of n.children) if (c.named && c.field !== 'body') this.arith(c, ctx);
    const body = n.children.find((c) => c.field === 'body');
    if (body === undefined) return NONE;
    const skipped = this.clone(ctx);
    const out = this.walk(body, ctx, stdin);
    this.mergeStates(ctx, [this.clone(ctx), skipped]);
    return out;
  }

  /** Arithmetic `(( … ))`, `$(( … ))`, `let`: assigned variables become numbers; substitutions inside are analysed. */
  private arith(n: SyntaxNode, ctx: Ctx): void {
    const stack: SyntaxNode[] = [n];
    while (stack.length > 0) {
      const x = stack.pop() as SyntaxNode;
      this.tick();
      if (x.type === 'command_substitution' || x.type === 'process_substitution') { this.substitution(x, ctx); continue; }
      if (x.type === 'binary_expression' || x.type === 'variable_assignment') {
        const op = x.children.find((c) => !c.named)?.type ?? '';
        const left = x.children.find((c) => c.named);
        if (/^([-+*/%&|^]|<<|>>)?=$/.test(op) && left !== undefined && /^[A-Za-z_]\w*$/.test(left.text)) this.setScalar(ctx, left.text, '0');
      }
      if (x.type === 'postfix_expression' || x.type === 'unary_expression') {
        const v = x.children.find((c) => c.named);
        if (v !== undefined && /^[A-Za-z_]\w*$/.test(v.text) && x.children.some((c) => c.type === '++' || c.type === '--')) this.setScalar(ctx, v.text, '0');
      }
      for (const c of x.children) stack.push(c);
    }
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
    let body = n.children.find((c) => c.field === 'body') ?? null;
    const redirects: SyntaxNode[] = [];
    // `git <<EOF push -f`: words after the here-doc operator are the command's arguments
    const hereArgs: SyntaxNode[] = [];
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
          else if (h.field === 'argument' && pendingOp === '') hereArgs.push(h);
          else if (h.type.endsWith('_redirect') && pendingOp === '') redirects.push(h);
          else if (h.type === 'pipeline' && h.children[0] !== undefined && !h.children[0].named) continuations.push({ op: '|', node: h });
          else continuations.push({ op: pendingOp || '&&', node: h });
        }
        redirects.push({ ...c, children: own });
      } else {
        redirects.push(c);
      }
    }
    if (hereArgs.length > 0) {
      const withArgs = body === null ? null : appendToLast(body, hereArgs);
      if (withArgs === null) {
        this.deny('parse-error', 'words follow a here-document of a compound command (bash rejects that), so the guard cannot tell what runs; fix the command');
        return NONE;
      }
      body = withArgs;
    }
    let out: Flow;
    const extraWords = redirects.some((r) => r.type === 'file_redirect' && r.children.filter((c) => c.field === 'destination').length > 1);
    if (body !== null && body.type === 'command') out = this.walkCommand(body, ctx, stdin, redirects);
    else if (extraWords && body !== null && (body.type === 'pipeline' || body.type === 'list')) {
      // `a | b 2>/dev/null -x y`: tree-sitter hangs the redirection on the pipeline; in bash it and the
      // words after it belong to the last command.
      const moved = moveRedirects(body, redirects);
      if (moved === null) {
        this.deny('parse-error', 'words follow the redirection of a compound command (bash rejects that), so the guard cannot tell what runs; fix the command');
        return NONE;
      }
      out = this.walk(moved, ctx, stdin);
    } else {
      if (extraWords) {
        this.deny('parse-error', 'words follow the redirection of a compound command (bash rejects that), so the guard cannot tell what runs; fix the command');
        return NONE;
      }
      out = this.applyRedirects(redirects, ctx, stdin, (s) => (body === null ? NONE : this.walk(body, ctx, s)));
    }
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
          this.checkRead(target, ctx, 'an input redirection');
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
    const redirects: SyntaxNode[] = [];
    for (const c of n.children) {
      if (!c.named) continue;
      if (c.type === 'variable_assignment') assigns.push(c);
      else if (c.type.endsWith('_redirect')) redirects.push(...this.splitRedirect(c, parts));
      else if (c.type === 'command_name') parts.push(...c.children.filter((x) => x.named));
      else if (c.type !== 'comment') parts.push(c);
    }
    for (const r of outerRedirects) redirects.push(...this.splitRedirect(r, parts));
    const argv: Word[] = [];
    for (const p of parts) argv.push(...this.expand(p, ctx));
    if (argv.length === 0) {
      for (const a of assigns) this.assign(a, ctx);
      return this.applyRedirects(redirects, ctx, stdin, () => NONE);
    }
    if (assigns.length === 0) return this.applyRedirects(redirects, ctx, stdin, (s) => this.run(argv, ctx, s, { sudo: false }));
    // `X=/etc cmd`: the command (and whatever it runs) sees X; the shell keeps its own X afterwards.
    const names = assigns.map((a) => this.assignName(a));
    const saved = names.map((nm) => ({ nm, v: ctx.vars.get(nm), alts: ctx.alts.get(nm), arr: ctx.arrays.get(nm) }));
    for (const a of assigns) this.assign(a, ctx);
    this.checkEnvCommands(names, ctx);
    try {
      return this.applyRedirects(redirects, ctx, stdin, (s) => this.run(argv, ctx, s, { sudo: false }));
    } finally {
      for (const x of saved) {
        if (x.v === undefined) ctx.vars.delete(x.nm);
        else ctx.vars.set(x.nm, x.v);
        if (x.alts === undefined) ctx.alts.delete(x.nm);
        else ctx.alts.set(x.nm, x.alts);
        if (x.arr === undefined) ctx.arrays.delete(x.nm);
        else ctx.arrays.set(x.nm, x.arr);
      }
    }
  }

  /**
   * tree-sitter-bash gives a redirection every word that follows it (`git 2>/dev/null push -f` makes
   * `push -f` destinations of `2>`): only the first is the target, the others are the command's
   * arguments, in order. Returns the redirection with its one target; the rest go to `parts`.
   */
  private splitRedirect(r: SyntaxNode, parts: SyntaxNode[]): SyntaxNode[] {
    if (r.type !== 'file_redirect') return [r];
    const dests = r.children.filter((c) => c.field === 'destination');
    if (dests.length <= 1) return [r];
    const first = dests[0] as SyntaxNode;
    parts.push(...dests.slice(1));
    return [{ ...r, children: r.children.filter((c) => c.field !== 'destination' || c === first) }];
  }

  private walkDeclaration(n: SyntaxNode, ctx: Ctx): Flow {
    const keyword = n.children[0]?.type ?? 'declare';
    const flags = n.children.filter((c) => c.named && c.type === 'word' && /^[-+][a-zA-Z]+$/.test(c.text)).map((c) => c.text).join('');
    const on = (f: string): boolean => new RegExp(`-[a-zA-Z]*${f}`).test(flags);
    for (const c of n.children) {
      if (!c.named) continue;
      if (c.type === 'variable_assignment' || c.type === 'variable_name' || (c.type === 'word' && /^[A-Za-z_]\w*$/.test(c.text))) {
        const name = c.type === 'variable_assignment' ? this.assignName(c) : c.text;
        if (keyword === 'local' && ctx.locals !== null) ctx.locals.add(name);
        if (on('n')) {
          const target = c.type === 'variable_assignment' ? this.assignedText(c, ctx) : null;
          if (target !== null && /^[A-Za-z_]\w*$/.test(target)) ctx.refs.set(name, target);
          else if (target !== null) this.setScalar(ctx, name, MARK_ANY);
          continue;
        }
        if (on('l')) ctx.attrs.set(name, 'lower');
        else if (on('u')) ctx.attrs.set(name, 'upper');
        else if (on('i')) ctx.attrs.set(name, 'int');
        if ((on('a') || on('A')) && c.type !== 'variable_assignment' && !ctx.arrays.has(name)) ctx.arrays.set(name, []);
        if (c.type === 'variable_assignment') this.assign(c, ctx);
        else if (keyword === 'local' && !ctx.vars.has(name)) ctx.vars.set(name, '');
        if (keyword === 'export' || on('x')) this.checkEnvCommands([name], ctx);
      } else this.expand(c, ctx);
    }
    return NONE;
  }

  private assignName(n: SyntaxNode): string {
    const nameNode = n.children.find((c) => c.field === 'name') ?? n.children[0];
    if (nameNode === undefined) return '';
    if (nameNode.type === 'subscript') return nameNode.children.find((c) => c.field === 'name')?.text ?? nameNode.text;
    return nameNode.text;
  }

  /** The assigned value of `name=value` as one string (no splitting), or null without a value. */
  private assignedText(n: SyntaxNode, ctx: Ctx): string | null {
    const valueNode = n.children.find((c) => c.field === 'value');
    if (valueNode === undefined) return n.children.some((c) => c.type === '=') ? '' : null;
    return this.expand(valueNode, ctx, true).map((w) => w.text).join(' ');
  }

  /** `name=value`, `name+=value`, `name=(a b)`, `name[i]=value`. */
  private assign(n: SyntaxNode, ctx: Ctx): void {
    const nameNode = n.children.find((c) => c.field === 'name') ?? n.children[0];
    if (nameNode === undefined) return;
    const append = n.children.some((c) => c.type === '+=');
    const valueNode = n.children.find((c) => c.field === 'value');
    if (nameNode.type === 'subscript') {
      const base = this.resolveRef(nameNode.children.find((c) => c.field === 'name')?.text ?? '', ctx);
      const idxNode = nameNode.children.find((c) => c.field === 'index');
      const idx = idxNode === undefined ? '' : this.expandOne(idxNode, ctx).text;
      const value = valueNode === undefined ? '' : this.expand(valueNode, ctx, true).map((w) => w.text).join(' ');
      const arr = [...(ctx.arrays.get(base) ?? (ctx.vars.has(base) ? [ctx.vars.get(base) as string] : []))];
      if (/^\d+$/.test(idx) && Number(idx) < 4096) {
        const i = Number(idx);
        arr[i] = append ? `${arr[i] ?? ''}${value}` : value;
        for (let k = 0; k < arr.length; k++) if (arr[k] === undefined) arr[k] = '';
        ctx.arrays.set(base, arr);
      } else if (!hasMarker(idx) && ctx.arrays.has(base)) {
        // an associative array's key: the values are what matters
        ctx.arrays.set(base, [...arr, value]);
      } else ctx.arrays.set(base, [MARK_ANY]);
      ctx.vars.delete(base);
      return;
    }
    const name = this.resolveRef(nameNode.text, ctx);
    if (!/^[A-Za-z_]\w*$/.test(name)) return;
    if (valueNode !== undefined && valueNode.type === 'array') {
      const items: string[] = [];
      for (const c of valueNode.children) {
        if (!c.named) continue;
        for (const w of this.expand(c, ctx)) items.push(w.multi ? MARK_ANY : w.text.replace(/^\[[^\]]*\]\+?=/, ''));
      }
      ctx.arrays.set(name, append ? [...(ctx.arrays.get(name) ?? []), ...items] : items);
      ctx.vars.delete(name);
      ctx.alts.delete(name);
      return;
    }
    let value = '';
    let alts: string[] | undefined;
    if (valueNode !== undefined) {
      const ws = this.expand(valueNode, ctx, true);
      value = ws.map((w) => w.text).join(' ');
      if (ws.length === 1 && ws[0]?.alts !== undefined) alts = ws[0].alts;
      if (ws.length === 1 && ws[0]?.procSubst === true) this.assignedWords.set(name, ws[0]);
    }
    if (append) {
      const prev = this.scalarOf(name, ctx);
      value = `${prev?.v ?? ''}${value}`;
      alts = undefined;
    }
    const arr = ctx.arrays.get(name);
    if (arr !== undefined) {
      ctx.arrays.set(name, [this.withAttrs(name, value, ctx), ...arr.slice(1)]);
      return;
    }
    this.setScalar(ctx, name, value, alts);
  }

  private withAttrs(name: string, value: string, ctx: Ctx): string {
    const a = ctx.attrs.get(name);
    if (a === 'lower') return value.toLowerCase();
    if (a === 'upper') return value.toUpperCase();
    if (a === 'int') return '0';
    return value;
  }

  /** Sets a scalar (through name references, with case attributes). */
  private setScalar(ctx: Ctx, rawName: string, value: string, alts?: string[]): void {
    const name = this.resolveRef(rawName, ctx);
    ctx.vars.set(name, this.withAttrs(name, value, ctx));
    if (alts !== undefined && alts.length > 0) ctx.alts.set(name, alts.map((v) => this.withAttrs(name, v, ctx)));
    else ctx.alts.delete(name);
    ctx.arrays.delete(name);
  }

  private unset(n: SyntaxNode, ctx: Ctx): void {
    const fn = n.children.some((c) => c.text === '-f');
    for (const c of n.children) {
      if (!c.named || c.text.startsWith('-')) continue;
      const name = this.expandOne(c, ctx).text;
      if (fn) { ctx.functions.delete(name); continue; }
      if (name.includes('[')) continue; // unsetting one element: the other values stay
      const r = this.resolveRef(name, ctx);
      ctx.vars.delete(r);
      ctx.alts.delete(r);
      ctx.arrays.delete(r);
    }
  }

  private resolveRef(name: string, ctx: Ctx): string {
    let n = name;
    for (let i = 0; i < 8; i++) {
      const t = ctx.refs.get(n);
      if (t === undefined) return n;
      n = t;
    }
    return n;
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
    // The body is checked once as written (arguments unknown), and again at each call with its arguments.
    const sub = this.clone(ctx);
    sub.callStack.push(name);
    sub.positional = [name];
    sub.locals = new Set();
    this.nest(() => this.walk(body, sub, NONE));
  }

  /** Runs a function body in the caller's shell: what it changes (but its locals) is visible afterwards. */
  private callFunction(name: string, body: SyntaxNode, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const sub = this.clone(ctx);
    sub.callStack.push(name);
    sub.positional = args.some((a) => a.multi) ? 'unknown' : [name, ...args.map((a) => a.text)];
    sub.locals = new Set();
    const out = this.nest(() => this.walk(body, sub, stdin));
    this.copyBack(ctx, sub);
    return out;
  }

  private copyBack(ctx: Ctx, sub: Ctx): void {
    const locals = sub.locals ?? new Set<string>();
    for (const m of ['vars', 'alts', 'arrays', 'refs', 'attrs'] as const) {
      const from = sub[m] as Map<string, unknown>;
      const to = ctx[m] as Map<string, unknown>;
      for (const k of [...to.keys()]) if (!from.has(k) && !locals.has(k)) to.delete(k);
      for (const [k, v] of from) if (!locals.has(k)) to.set(k, v);
    }
    ctx.cwds = sub.cwds;
    ctx.files = sub.files;
    ctx.remoteDirs = sub.remoteDirs;
    ctx.functions = sub.functions;
    ctx.aliases = sub.aliases;
    ctx.gitAliases = sub.gitAliases;
    ctx.branches = sub.branches;
    ctx.lastArg = sub.lastArg;
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
    const hasIn = n.children.some((c) => c.type === 'in');
    let values: Word[];
    if (hasIn) values = n.children.filter((c) => c.field === 'value').flatMap((c) => this.expand(c, ctx));
    else {
      const ps = ctx.positional;
      values = ps === 'unknown' ? [word(MARK_ANY)] : ps.slice(1).map((p) => word(p));
    }
    const body = n.children.find((c) => c.field === 'body') ?? n.children.find((c) => c.type === 'do_group');
    if (body === undefined) return NONE;
    const list = values.slice(0, MAX_FANOUT).map((v) => (v.multi ? word(MARK_ANY) : v));
    if (values.length > MAX_FANOUT) list.push(word(MARK_ANY));
    if (list.length === 0) list.push(word(''));
    let out: Flow = NONE;
    for (const v of list) {
      if (varName !== undefined) this.setScalar(ctx, varName, v.text, v.alts);
      out = this.walk(body, ctx, stdin);
    }
    return out;
  }

  // ---------------------------------------------------------------- words

  private expandOne(n: SyntaxNode, ctx: Ctx): Word {
    const ws = this.expand(n, ctx);
    if (ws.length === 1) return ws[0] as Word;
    return { text: ws.map((w) => w.text).join(' '), glob: ws.some((w) => w.glob), flows: ws.flatMap((w) => w.flows), procSubst: false, multi: ws.some((w) => w.multi === true) };
  }

  private ifs(ctx: Ctx): string | null {
    const v = ctx.vars.get('IFS');
    if (v === undefined) return DEFAULT_IFS;
    if (hasMarker(v) || ctx.alts.has('IFS')) return null;
    return v;
  }

  /**
   * Expands one argument node into words, as the shell does: quotes, `$'…'`, tilde, parameters
   * (with their operators), command substitution, brace expansion, then field splitting of unquoted
   * expansion results by IFS. A value the guard cannot compute is MARK_ANY, never empty; an unquoted
   * one marks its word `multi` (it may be several words). `assignment`: the right side of `x=…`
   * (no splitting, no globbing).
   */
  expand(n: SyntaxNode, ctx: Ctx, assignment = false): Word[] {
    this.tick();
    const flows: Flow[] = [];
    let procSubst = false;
    const pieces: Piece[] = [];
    const visit = (x: SyntaxNode, quoted: boolean, first: boolean): void => {
      this.tick();
      switch (x.type) {
        case 'word': case 'number': case 'regex': case 'extglob_pattern': case 'special_variable_name': {
          let t = unescapeWord(x.text);
          if (!quoted && first && t.startsWith('~')) t = this.tilde(t, ctx);
          else if (!quoted && assignment && t.startsWith('~')) t = this.tilde(t, ctx);
          pieces.push({ text: t, quoted, split: false, glob: !quoted && x.text.length > 0 && isGlobPattern(x.text.replace(/\\./g, '')) });
          return;
        }
        case 'raw_string':
          pieces.push({ text: x.text.slice(1, -1), quoted: true, split: false });
          return;
        case 'ansi_c_string': {
          // bash ends a $'…' string at a NUL byte
          const t = decodeAnsiC(x.text.slice(2, -1));
          const nul = t.indexOf('\0');
          pieces.push({ text: nul >= 0 ? t.slice(0, nul) : t, quoted: true, split: false });
          return;
        }
        case 'string': case 'translated_string':
          for (const c of x.children) {
            if (!c.named) continue;
            if (c.type === 'string_content') pieces.push({ text: c.text.replace(/\\([$`"\\\n])/g, (_m, ch: string) => (ch === '\n' ? '' : ch)), quoted: true, split: false });
            else visit(c, true, false);
          }
          return;
        case 'concatenation': {
          let i = 0;
          for (const c of x.children) {
            if (!c.named) {
              pieces.push({ text: c.text, quoted, split: false });
              continue;
            }
            visit(c, quoted, first && i === 0);
            i++;
          }
          return;
        }
        case 'simple_expansion': case 'expansion': {
          const v = this.paramExpand(x, ctx, quoted && !assignment);
          pieces.push({ ...v, quoted, split: !quoted && !assignment });
          return;
        }
        case 'arithmetic_expansion':
          this.arith(x, ctx);
          pieces.push({ text: '0', quoted: true, split: false });
          return;
        case 'command_substitution': {
          const inner = this.substitution(x, ctx);
          flows.push(inner);
          // bash drops NUL bytes and trailing newlines from the output
          pieces.push({ text: inner.k === 'text' ? inner.text.replace(/\0/g, '').replace(/\n+$/, '') : MARK_ANY, quoted, split: !quoted && !assignment });
          return;
        }
        case 'process_substitution': {
          const inner = this.substitution(x, ctx);
          flows.push(inner);
          procSubst = true;
          pieces.push({ text: '/dev/fd/63', quoted: true, split: false });
          return;
        }
        case 'brace_expression':
          pieces.push({ text: x.text, quoted: false, split: false });
          return;
        default:
          if (x.children.length === 0) pieces.push({ text: x.text, quoted, split: false });
          else for (const c of x.children) visit(c, quoted, first);
      }
    };
    visit(n, false, true);
    if (assignment) {
      const text = pieces.map((p) => (p.fields !== undefined ? p.fields.join(' ') : p.text)).join('');
      const alts = this.pieceAlts(pieces, (ps) => [ps.map((p) => (p.fields !== undefined ? p.fields.join(' ') : p.text)).join('')]);
      return [{ text, glob: false, flows, procSubst, ...(alts !== null && alts.length > 0 ? { alts: alts.map((a) => a[0] as string) } : {}) }];
    }
    const skeleton = pieces.map((p) => (p.quoted || p.split ? 'Q'.repeat(p.text.length) : p.text)).join('');
    if (/\{[^{}]*(,|\.\.)[^{}]*\}/.test(skeleton)) {
      const text = pieces.map((p) => (p.fields !== undefined ? p.fields.join(' ') : p.text)).join('');
      const glob = pieces.some((p) => p.glob === true);
      return braceExpand(text).map((t) => ({ text: t, glob, flows, procSubst }));
    }
    const ifs = this.ifs(ctx);
    const main = this.assemble(pieces, ifs, flows, procSubst);
    const alts = this.pieceAlts(pieces, (ps) => this.assemble(ps, ifs, flows, procSubst).map((w) => w.text));
    if (alts === null) return [word(MARK_ANY, { flows, multi: true, procSubst })];
    for (const a of alts) {
      if (a.length !== main.length) return [word(MARK_ANY, { flows, multi: true, procSubst })];
    }
    if (alts.length > 0) {
      main.forEach((w, i) => {
        const xs = uniq(alts.map((a) => a[i] as string)).filter((t) => t !== w.text);
        if (xs.length > 0) w.alts = xs;
      });
    }
    return main;
  }

  /**
   * The other results of a word whose pieces have alternative values: every combination (bounded),
   * through `render`. Null when there are too many combinations to follow.
   */
  private pieceAlts(pieces: Piece[], render: (ps: Piece[]) => string[]): string[][] | null {
    const idx = pieces.map((p, i) => (p.alts !== undefined && p.alts.length > 0 ? i : -1)).filter((i) => i >= 0);
    if (idx.length === 0) return [];
    let combos: Piece[][] = [pieces];
    for (const i of idx) {
      const next: Piece[][] = [];
      for (const c of combos) {
        next.push(c);
        for (const a of (pieces[i] as Piece).alts as string[]) next.push(c.map((p, k) => (k === i ? { ...p, text: a, alts: undefined } : p)));
      }
      combos = next;
      if (combos.length > MAX_ALTS * MAX_ALTS) return null;
    }
    return combos.slice(1).map(render);
  }

  /** Joins pieces into words, splitting unquoted expansion results by IFS (null IFS: unknown). */
  private assemble(pieces: Piece[], ifs: string | null, flows: Flow[], procSubst: boolean): Word[] {
    const out: Word[] = [];
    // `skel`: the word with quoted parts blanked, to find glob patterns that span pieces (`r[m]`)
    let cur = { text: '', skel: '', has: false, glob: false, multi: false };
    const push = (): void => {
      if (cur.has || cur.text !== '') out.push({ text: cur.text, glob: cur.glob || isGlobPattern(cur.skel), flows, procSubst, ...(cur.multi ? { multi: true } : {}) });
      cur = { text: '', skel: '', has: false, glob: false, multi: false };
    };
    for (const p of pieces) {
      if (p.fields !== undefined) {
        // "$@" / "${a[@]}": one word per element
        if (p.unknownCount === true) cur.multi = true;
        p.fields.forEach((f, i) => {
          if (i > 0) push();
          cur.text += f;
          cur.skel += '\u0001'.repeat(f.length);
          cur.has = true;
        });
        continue;
      }
      if (!p.split) {
        cur.text += p.text;
        cur.skel += p.quoted ? '\u0001'.repeat(p.text.length) : p.text;
        if (p.quoted || p.text !== '') cur.has = true;
        if (p.glob === true) cur.glob = true;
        continue;
      }
      if (p.text.includes(MARK_ANY) || ifs === null) {
        // not statically known: it may split into any number of words
        cur.text += p.text;
        cur.skel += p.text;
        if (p.text !== '') { cur.has = true; cur.multi = cur.multi || p.text.includes(MARK_ANY) || (ifs === null && p.text !== ''); }
        if (isGlobPattern(p.text)) cur.glob = true;
        continue;
      }
      const sp = splitFields(p.text, ifs);
      if (sp.leading && (cur.has || cur.text !== '')) push();
      sp.fields.forEach((f, i) => {
        if (i > 0) push();
        cur.text += f;
        cur.skel += f;
        cur.has = true;
      });
      if (sp.trailing && sp.fields.length > 0) push();
    }
    push();
    return out;
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
      const direct = inner.length === 1 && inner[0]?.type === 'file_redirect' ? inner[0] : undefined;
      if (direct !== undefined) {
        const dest = direct.children.find((c) => c.named && c.type !== 'file_descriptor');
        if (dest !== undefined) {
          const target = this.expandOne(dest, sub);
          this.checkRead(target, sub, 'reading a file with $(<…)');
          return this.fileFlow(target, sub);
        }
      }
      const only = inner[0];
      if (inner.length === 1 && only !== undefined && only.type === 'redirected_statement' && only.children.every((c) => c.field !== 'body')) {
        const fr = only.children.find((c) => c.type === 'file_redirect');
        const dest = fr?.children.find((c) => c.named && c.type !== 'file_descriptor');
        if (dest !== undefined) {
          const target = this.expandOne(dest, sub);
          this.checkRead(target, sub, 'reading a file with $(<…)');
          return this.fileFlow(target, sub);
        }
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
    if (user === '+') return `${ctx.cwds.length === 1 ? (ctx.cwds[0] ?? MARK_ANY) : MARK_ANY}${rest}`;
    if (user === '-') return `${this.scalarOf('OLDPWD', ctx)?.v ?? MARK_ANY}${rest}`;
    if (user === 'root') return `/root${rest}`;
    if (/^[a-z_][\w-]*$/i.test(user)) return `/home/${user}${rest}`;
    return t;
  }

  /**
   * A scalar's value: set in this command (with its alternatives), a positional or special
   * parameter, or a fact about the environment (HOME, TMPDIR, PWD, …). Undefined when unset here and
   * unknown in the environment: the caller takes it at its worst, empty (MARK_EMPTYABLE).
   */
  private scalarOf(rawName: string, ctx: Ctx): { v: string; alts?: string[] } | undefined {
    const name = this.resolveRef(rawName, ctx);
    const v = ctx.vars.get(name);
    if (v !== undefined) {
      const alts = ctx.alts.get(name);
      return alts === undefined ? { v } : { v, alts };
    }
    const arr = ctx.arrays.get(name);
    if (arr !== undefined) return { v: arr[0] ?? '' };
    if (/^\d+$/.test(name)) {
      if (ctx.positional === 'unknown') return { v: MARK_ANY };
      const p = ctx.positional[Number(name)];
      return p === undefined ? undefined : { v: p };
    }
    switch (name) {
      case '@': case '*': {
        const l = this.listOf(name, ctx);
        return { v: (l ?? []).join(' ') };
      }
      case '#': return { v: ctx.positional === 'unknown' ? '0' : String(Math.max(0, ctx.positional.length - 1)) };
      case '?': case '$': case '!': case 'RANDOM': case 'SECONDS': case 'LINENO': case 'PPID': case 'UID': case 'EUID': case 'BASHPID': case 'EPOCHSECONDS': case 'SRANDOM':
        return { v: '0' };
      case '-': return { v: 'hB' };
      case '_': return { v: ctx.lastArg ?? MARK_ANY };
      case 'HOME': return this.cfg.env.home === null ? undefined : { v: this.cfg.env.home };
      case 'TMPDIR': return this.cfg.env.tmpdir === null ? undefined : { v: this.cfg.env.tmpdir };
      case 'PWD': {
        const c = ctx.cwds.length === 1 ? ctx.cwds[0] : null;
        return { v: c ?? MARK_ANY };
      }
      case 'CLAUDE_PROJECT_DIR': return this.cfg.env.project === null ? undefined : { v: this.cfg.env.project };
      case 'IFS': return { v: DEFAULT_IFS };
      // set by the shell to values the guard does not follow
      case 'OLDPWD': case 'BASH_REMATCH': case 'BASH_COMMAND': case 'BASH_ARGV': case 'BASH_SOURCE': case 'FUNCNAME': case 'DIRSTACK': case 'PIPESTATUS':
      case 'COMP_WORDS': case 'COMP_LINE': case 'READLINE_LINE': case 'MAPFILE': case 'REPLY': case 'OPTARG': case 'BASH_EXECUTION_STRING': case 'HISTFILE':
        return { v: MARK_ANY };
      default: return undefined;
    }
  }

  /** An array's (or the positional parameters') values; undefined when unset. */
  private listOf(rawName: string, ctx: Ctx): string[] | undefined {
    const name = this.resolveRef(rawName, ctx);
    if (name === '@' || name === '*') return ctx.positional === 'unknown' ? [MARK_ANY] : ctx.positional.slice(1);
    const arr = ctx.arrays.get(name);
    if (arr !== undefined) return arr;
    const s = this.scalarOf(name, ctx);
    return s === undefined ? undefined : [s.v];
  }

  /**
   * `$x`, `${x…}` with its operators. Returns the text, its alternatives, or for `"$@"`/`"${a[@]}"`
   * the separate fields.
   */
  private paramExpand(x: SyntaxNode, ctx: Ctx, quoted: boolean): { text: string; alts?: string[]; fields?: string[]; unknownCount?: boolean } {
    if (x.type === 'simple_expansion') {
      const name = x.children.find((c) => c.named)?.text ?? x.text.slice(1);
      if (name === '@' || name === '*') return this.listResult(this.listOf(name, ctx) ?? [], name, quoted, ctx);
      const s = this.scalarOf(name, ctx);
      return s === undefined ? { text: MARK_EMPTYABLE } : { text: s.v, ...(s.alts !== undefined ? { alts: s.alts } : {}) };
    }
    const kids = x.children.filter((c) => c.type !== '${' && c.type !== '}');
    for (const c of kids) if (c.named && c.type !== 'variable_name' && c.type !== 'special_variable_name') this.scanSubst(c, ctx);
    let k = 0;
    let prefix: string | null = null;
    if (kids[0] !== undefined && !kids[0].named && (kids[0].type === '!' || kids[0].type === '#') && kids[1]?.named === true) {
      prefix = kids[0].type;
      k = 1;
    }
    const target = kids[k];
    if (target === undefined || !target.named) return { text: MARK_ANY };
    const rest = kids.slice(k + 1);
    let name = target.text;
    let index: string | null = null;
    if (target.type === 'subscript') {
      name = target.children.find((c) => c.field === 'name')?.text ?? '';
      const idxNode = target.children.find((c) => c.field === 'index');
      index = idxNode === undefined ? '' : idxNode.type === 'word' && (idxNode.text === '@' || idxNode.text === '*') ? idxNode.text : this.expandOne(idxNode, ctx).text;
    }
    const listForm = index === '@' || index === '*' || name === '@' || name === '*';
    // ${!name}: indirection; ${!prefix*}: variable names; ${!a[@]}: keys
    if (prefix === '!') {
      if (rest.some((c) => c.type === '*' || c.type === '@') && index === null) {
        return { text: [...ctx.vars.keys(), ...ctx.arrays.keys()].filter((v) => v.startsWith(name)).join(' ') };
      }
      if (listForm) return { text: (this.listOf(name, ctx) ?? []).map((_v, i) => String(i)).join(' ') };
      const ref = this.scalarOf(name, ctx);
      if (ref === undefined) return { text: MARK_EMPTYABLE };
      const resolveOne = (t: string): string => {
        if (hasMarker(t)) return MARK_ANY;
        const m = /^([A-Za-z_]\w*|\d+|[@*#?$!_-])(?:\[(.*)\])?$/s.exec(t);
        if (m === null) return MARK_ANY;
        if (m[2] !== undefined) {
          const l = this.listOf(m[1] as string, ctx);
          if (l === undefined) return MARK_EMPTYABLE;
          if (/^\d+$/.test(m[2])) return l[Number(m[2])] ?? '';
          return l.length === 1 ? (l[0] as string) : MARK_ANY;
        }
        return this.scalarOf(m[1] as string, ctx)?.v ?? MARK_EMPTYABLE;
      };
      const alts = (ref.alts ?? []).map(resolveOne);
      return { text: resolveOne(ref.v), ...(alts.length > 0 ? { alts } : {}) };
    }
    if (prefix === '#') return { text: '0' };
    // the base value(s)
    let list: string[] | undefined;
    let scalar: { v: string; alts?: string[] } | undefined;
    if (listForm) list = name === '@' || name === '*' ? this.listOf(name, ctx) : this.listOf(name, ctx);
    else if (index !== null) {
      const l = this.listOf(name, ctx);
      if (l !== undefined) {
        if (/^\d+$/.test(index)) scalar = l[Number(index)] === undefined ? undefined : { v: l[Number(index)] as string };
        else if (hasMarker(index) && l.length > 1) scalar = l.length <= MAX_ALTS + 1 ? { v: l[0] as string, alts: l.slice(1) } : { v: MARK_ANY };
        else scalar = l.length === 1 ? { v: l[0] as string } : { v: MARK_ANY };
      }
    } else scalar = this.scalarOf(name, ctx);
    const opNode = rest.find((c) => !c.named);
    const op = opNode?.type ?? null;
    const operands = opNode === undefined ? [] : rest.slice(rest.indexOf(opNode) + 1);
    const operandText = (nodes: SyntaxNode[]): string => nodes.filter((c) => c.named).map((c) => this.expand(c, ctx, true).map((w) => w.text).join('')).join(' ');
    if (listForm) {
      const l = list ?? [];
      if (op === ':' && (name === '@' || name === '*' || index !== null)) {
        const nums = operands.filter((c) => c.named).map((c) => c.text);
        const off = Number(nums[0] ?? '0');
        const len = nums[1] === undefined ? undefined : Number(nums[1]);
        if (!Number.isInteger(off) || (len !== undefined && !Number.isInteger(len))) return this.listResult([MARK_ANY], name, quoted, ctx, true);
        // $@ counts from $1 at offset 1 ($0 at 0)
        const base = name === '@' || name === '*' ? [ctx.positional === 'unknown' ? MARK_ANY : (ctx.positional[0] ?? ''), ...l] : l;
        const sliced = len === undefined ? base.slice(off) : base.slice(off, off + Math.max(0, len));
        return this.listResult(sliced, name, quoted, ctx);
      }
      if (op === null) return this.listResult(l, name, quoted, ctx);
      if ((list === undefined || (op.startsWith(':') ? l.every((v) => v === '') : l.length === 0)) && /^:?[-=]$/.test(op)) return { text: operandText(operands) };
      const mapped = l.map((v) => this.applyOp(v, op, operands, operandText, name, ctx) ?? MARK_ANY);
      return this.listResult(mapped, name, quoted, ctx);
    }
    if (op === null) return scalar === undefined ? { text: MARK_EMPTYABLE } : { text: scalar.v, ...(scalar.alts !== undefined ? { alts: scalar.alts } : {}) };
    // default / alternative / error operators look at set-ness
    if (/^:?[-=?+]$/.test(op)) {
      const colon = op.startsWith(':');
      const base = op.slice(colon ? 1 : 0);
      const results = (v: string | undefined): string => {
        const unsetOrNull = v === undefined || (colon && v === '');
        if (base === '-' || base === '=') return unsetOrNull ? operandText(operands) : (v as string);
        if (base === '?') return unsetOrNull ? MARK_NONEMPTY : (v as string);
        return unsetOrNull ? '' : operandText(operands);
      };
      if (scalar === undefined) {
        if (base === '=') this.setScalar(ctx, name, operandText(operands));
        // unset here: the environment may or may not have it
        if (base === '+') {
          const t = operandText(operands);
          return t === '' ? { text: '' } : { text: t, alts: [''] };
        }
        if (base === '?') return { text: MARK_NONEMPTY };
        return { text: results(undefined) };
      }
      const alts = (scalar.alts ?? []).map((v) => results(v));
      return { text: results(scalar.v), ...(alts.length > 0 ? { alts } : {}) };
    }
    if (scalar === undefined) return { text: MARK_EMPTYABLE };
    const one = (v: string): string => this.applyOp(v, op, operands, operandText, name, ctx) ?? MARK_ANY;
    const alts = (scalar.alts ?? []).map(one);
    return { text: one(scalar.v), ...(alts.length > 0 ? { alts } : {}) };
  }

  private listResult(l: string[], name: string, quoted: boolean, ctx: Ctx, unknownCount = false): { text: string; fields?: string[]; unknownCount?: boolean } {
    const unknown = unknownCount || (l.length === 1 && l[0] === MARK_ANY && (name === '@' || name === '*' ? ctx.positional === 'unknown' : true));
    const star = name === '*';
    if (quoted && !star) return { text: '', fields: l, ...(unknown ? { unknownCount: true } : {}) };
    if (quoted && star) return { text: l.join((this.ifs(ctx) ?? ' ').charAt(0)) };
    return { text: l.join(' ') };
  }

  /** One parameter operator on a known value; null when the guard cannot compute it. */
  private applyOp(v: string, op: string, operands: SyntaxNode[], operandText: (nodes: SyntaxNode[]) => string, _name: string, _ctx: Ctx): string | null {
    if (/[\uE000-\uE002]/.test(v)) return null;
    const named = operands.filter((c) => c.named);
    switch (op) {
      case '#': case '##': case '%': case '%%':
        return removePattern(v, op, operandText(operands));
      case '/': case '//': case '/#': case '/%': {
        const sep = operands.findIndex((c) => !c.named && c.type === '/');
        const pat = operandText(sep < 0 ? operands : operands.slice(0, sep));
        const rep = sep < 0 ? '' : operandText(operands.slice(sep + 1));
        return replacePattern(v, op, pat, rep);
      }
      case ':': {
        const sep = operands.findIndex((c) => !c.named && c.type === ':');
        const off = (sep < 0 ? named : operands.slice(0, sep).filter((c) => c.named)).map((c) => c.text).join('');
        const len = sep < 0 ? undefined : operands.slice(sep + 1).filter((c) => c.named).map((c) => c.text).join('');
        return substring(v, off, len);
      }
      case '^': case '^^': case ',': case ',,':
        return named.length > 0 ? null : caseConvert(v, op);
      case '@': {
        const t = operands.find((c) => !c.named)?.type ?? named[0]?.text ?? '';
        if (t === 'U' || t === 'L' || t === 'u') return caseConvert(v, t);
        if (t === 'Q') return shellQuote(v);
        if (t === 'E') return decodeAnsiC(v);
        return null;
      }
      default:
        return null;
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
      this.deny('recursive-delete', `${how} deletes a target that is not statically known (${display(text)}: computed at run time); list the paths literally, inside the project or a temp dir`);
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
    return this.nest(() => {
      // A word with alternative values (a variable set differently in branches): judge every reading.
      const variants = argvVariants(argv);
      let out: Flow = NONE;
      for (const v of variants) out = this.runInner(v, ctx, stdin, meta);
      const last = argv[argv.length - 1];
      ctx.lastArg = last === undefined || last.multi === true || variants.length > 1 ? null : worst(last.text);
      return out;
    });
  }

  private runInner(argv: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    this.tick();
    const first = argv[0];
    if (first === undefined) return NONE;
    if (first.multi === true) {
      const bad = worstFlow(first.flows);
      if (bad !== null && bad.k !== 'computed') this.flowDeny(bad, 'runs a command line produced by');
      else this.deny('computed-script', `runs a command that is not statically known (${display(first.text)}, set at run time and unquoted, so it can be a whole command line); write the command literally`);
      return NONE;
    }
    if (first.glob && isGlobPattern(first.text)) {
      this.deny('computed-script', `the command name ${display(first.text)} is a glob pattern: which program it runs (and with what arguments) is not statically known; write the name literally`);
      return NONE;
    }
    if (hasMarker(first.text)) return this.runDynamic(argv, ctx, stdin, meta);
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
        this.checkRead(first, ctx, `running ${display(p)}`);
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
    if (fn !== undefined && !ctx.callStack.includes(name)) return this.callFunction(name, fn, args, ctx, stdin);
    name = name.replace(/^(g)(rm|cp|mv|ln|dd|chmod|chown|install|tee|shred|sed|tar|find|xargs|timeout|stdbuf)$/, '$2');
    if (/^mkfs(\.|$)/.test(name)) name = 'mkfs';
    return this.dispatch(name, args, ctx, stdin, meta);
  }

  /** The command name is not statically known (a variable, a substitution). */
  private runDynamic(argv: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const first = argv[0] as Word;
    const bad = worstFlow(first.flows);
    if (bad !== null && bad.k !== 'computed') {
      this.flowDeny(bad, 'runs a command name produced by');
      return NONE;
    }
    // A known program in an unknown directory: `$(npm bin)/eslint`, `"$VENV"/bin/python`.
    const slash = first.text.lastIndexOf('/');
    const base = first.text.slice(slash + 1);
    if (slash >= 0 && base !== '' && !hasMarker(base)) return this.runInner([word(base), ...argv.slice(1)], ctx, stdin, meta);
    const t = worst(first.text);
    // Unknown only where a variable of the environment may be empty: `${PREFIX}rm`.
    if (t !== '' && !hasMarker(t)) {
      this.judgeUnknownCommand(argv.slice(1), ctx, `a command whose name depends on a variable (${display(first.text)})`);
      return this.runInner([word(t), ...argv.slice(1)], ctx, stdin, meta);
    }
    if (t === '' && argv.length > 1 && !first.text.includes(MARK_ANY)) {
      this.judgeUnknownCommand(argv.slice(1), ctx, `a command whose name depends on a variable (${display(first.text)})`);
      return this.runInner(argv.slice(1), ctx, stdin, meta);
    }
    this.judgeUnknownCommand(argv.slice(1), ctx, `a command whose name is not statically known (${display(first.text)})`);
    return { k: 'computed', by: 'a computed command' };
  }

  /**
   * A program the guard cannot name gets the arguments it is given judged against every rule that
   * could apply: recursive delete (with -r), writes to protected paths, reads of secrets, `-c` source.
   */
  private judgeUnknownCommand(args: Word[], ctx: Ctx, what: string): void {
    const recursive = args.some((a) => /^-[a-zA-Z]*[rR]/.test(a.text) || a.text === '--recursive');
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as Word;
      if (a.flows.length > 0) this.flowDeny(worstFlow(a.flows), 'passes');
      if (a.text === '-c' && args[i + 1] !== undefined) this.scriptWord(args[i + 1] as Word, ctx, [], what);
      if (a.text.startsWith('-')) continue;
      if (recursive) this.checkRecursiveDelete(a, ctx, what);
      else this.checkDestroyProtected(a, ctx, what);
    }
    this.checkGenericWrites(what, args, ctx);
  }

  private flowDeny(f: Flow | null, how: string): void {
    if (f === null) return;
    if (f.k === 'remote') this.deny('remote-code', `${how} downloaded content into a shell or interpreter; download to a file, review it, and run it in a separate step`);
    else if (f.k === 'decoded') this.deny('decode-to-shell', `${how} decoded or transformed text (base64, xxd, tr, …) into a shell; write the commands out literally`);
    else if (f.k === 'computed') this.deny('computed-script', `${how} text generated at run time (by ${f.by}) into a shell or eval; write the commands literally, or save them to a file and run it in a separate step`);
  }

  /**
   * A runner of RUNNERS: its shell-source options are analysed wherever they stand; the sudo rule
   * applies to the privileged ones; rows without a handler run their operands here.
   */
  private runRunner(name: string, r: Runner, args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow | null {
    const scriptOpts = r.scriptOpts ?? [];
    const short = `${r.short ?? ''}${scriptOpts.filter((o) => /^-[a-zA-Z]$/.test(o)).map((o) => o[1]).join('')}`;
    const long = [...(r.long ?? []), ...scriptOpts.filter((o) => o.startsWith('--'))];
    const p = skipOpts(args, short, long, r.numericOpt === true ? /^-\d+$/ : undefined, r.permute === true);
    // multi-letter short options such as zip's -TT
    for (let i = 0; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (scriptOpts.includes(t) && !/^-[a-zA-Z]$/.test(t) && !t.startsWith('--') && args[i + 1] !== undefined) this.scriptWord(args[i + 1] as Word, ctx, [], `${name} ${t}`);
    }
    let scripted = false;
    p.opts.forEach((o, i) => {
      const v = p.optValues[i];
      if (v !== undefined && scriptOpts.includes(o)) {
        scripted = true;
        this.scriptWord(v, ctx, [], `${name} ${o}`);
      }
    });
    // tar --checkpoint-action=exec=CMD
    for (const a of args) {
      const m = /^--checkpoint-action=exec=(.*)$/s.exec(a.text);
      if (m !== null) this.scriptWord(word(m[1] as string, { flows: a.flows }), ctx, [], `${name} --checkpoint-action`);
    }
    if (r.privileged === true && r.handler !== 'sudo') {
      if (!meta.sudo || !this.sudoAllowed(name)) this.deny('sudo', `${name} runs commands as another user or with other privileges; the agent may not change privileges (sudo is allowed only for: ${this.cfg.sudoAllow.join(', ')}). Ask the operator to run it`);
    }
    if (r.handler !== undefined) return null;
    const rest = p.rest.slice(r.skip ?? 0);
    const head = rest[0]?.text;
    if (head !== undefined && scriptOpts.includes(head) && rest[1] !== undefined) return this.scriptWord(rest[1], ctx, [], `${name} ${head}`);
    switch (r.kind) {
      case 'argv':
        if (rest.length === 0) return scripted ? NONE : ENV_SETUP.has(name) ? { k: 'envsetup' } : { k: 'computed', by: name };
        return this.run(rest, ctx, stdin, meta);
      case 'script':
        if (rest.length === 0) return NONE;
        return this.scriptWord(joinWords(rest), ctx, [], name);
      case 'scripts':
        // `concurrently 'npm:watch-*'` runs npm scripts, not a shell command
        for (const w of rest) if (!/^(npm|yarn|pnpm|bun):/.test(w.text)) this.scriptWord(w, ctx, [], name);
        return { k: 'computed', by: name };
      default:
        this.checkGenericWrites(name, rest, ctx);
        return { k: 'computed', by: name };
    }
  }

  private dispatch(name: string, args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const a = args.map((x) => x.text);
    const runner = RUNNERS[name];
    // reading a secret: any program that is given it, except those that show only names and sizes
    if ((runner === undefined || runner.kind === 'none') && !METADATA_ONLY.has(name)) this.checkReadArgs(name, args, ctx);
    if (runner !== undefined) {
      const out = this.runRunner(name, runner, args, ctx, stdin, meta);
      if (out !== null) return out;
    }
    switch (name) {
      // ---- runners with their own grammar (RUNNERS rows with a handler)
      case 'sudo': case 'doas': case 'pkexec': case 'run0': case 'sudoedit':
        return this.runSudo(name, args, ctx, stdin);
      case 'runuser': {
        const r = skipOpts(args, 'sgGwuc', ['--shell', '--group', '--supp-group', '--whitelist-environment', '--user', '--command', '--session-command']);
        if (r.opts.some((o) => o === '-u' || o === '--user') && r.rest.length > 0) return this.run(r.rest, ctx, stdin, meta);
        return NONE;
      }
      case 'capsh': {
        const dd = a.indexOf('--');
        if (dd >= 0) return this.runShell('bash', args.slice(dd + 1), ctx, stdin);
        return NONE;
      }
      case 'bwrap': {
        // bwrap's options take 1-3 values; the command follows the last option
        let i = 0;
        const three = new Set(['--bind-data', '--ro-bind-data', '--file', '--symlink', '--chmod', '--setenv']);
        while (i < args.length && (args[i] as Word).text.startsWith('--')) {
          const t = (args[i] as Word).text;
          i += ['--unshare-all', '--share-net', '--unshare-user', '--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup', '--new-session', '--die-with-parent', '--as-pid-1', '--clearenv'].includes(t) ? 1 : three.has(t) ? 3 : /^--(ro-|dev-)?bind(-try)?$|^--symlink$/.test(t) ? 3 : 2;
          if (t === '--') break;
        }
        return this.run(args.slice(i), ctx, stdin, meta);
      }
      case 'env': return this.runEnv(args, ctx, stdin, meta);
      case 'command': {
        const rest = skipOpts(args, '', ['-p']);
        if (rest.opts.some((o) => o === '-v' || o === '-V')) return { k: 'text', text: rest.rest[0]?.text ?? '' };
        return this.run(rest.rest, ctx, stdin, meta);
      }
      case 'watch': {
        const r = skipOpts(args, 'nqd', ['--interval', '--equexit', '--differences']);
        if (r.opts.some((o) => o === '-x' || o === '--exec')) return this.run(r.rest, ctx, stdin, meta);
        return this.scriptWord(joinWords(r.rest), ctx, [], 'watch');
      }
      case 'trap': {
        const r = skipOpts(args, '', []);
        if (r.opts.some((o) => o === '-p' || o === '-l' || o === '-P')) return { k: 'computed', by: 'trap' };
        if (r.rest.length >= 2 && r.rest[0]?.text !== '-') this.scriptWord(r.rest[0] as Word, ctx, [], 'trap');
        return NONE;
      }
      case 'eval': return this.scriptWord(joinWords(args), ctx, [], 'eval', true);
      case 'xargs': return this.runXargs(args, ctx, stdin, meta);
      case 'parallel': case 'sem': return this.runParallel(args, ctx, stdin, meta);
      case 'find': return this.runFind(args, ctx, meta);
      case 'tmux': return this.runTmux(args, ctx, 0);
      case 'screen': return this.runScreen(args, ctx, stdin, meta);
      case 'at': case 'batch': {
        const r = skipOpts(args, 'fqmMt', []);
        const fi = r.opts.indexOf('-f');
        if (fi >= 0 && r.optValues[fi] !== undefined) return this.execScriptFile(r.optValues[fi] as Word, ctx, 'sh');
        if (r.opts.some((o) => /^-[lrdc]$/.test(o))) return { k: 'computed', by: name };
        this.scriptFlow(stdin, ctx, 'sh', `${name} (which runs its input later)`);
        return NONE;
      }
      case 'ssh': return this.runSsh(args, ctx);
      case 'npx': return { k: 'computed', by: name };
      case 'sort': {
        const r = skipOpts(args, 'otkST', ['--output', '--field-separator', '--key', '--buffer-size', '--temporary-directory', '--files0-from', '--batch-size', '--parallel', '--random-source'], undefined, true);
        r.opts.forEach((o, i) => { if ((o === '-o' || o === '--output') && r.optValues[i] !== undefined) this.checkWrite(r.optValues[i] as Word, ctx, 'sort -o'); });
        return stdin.k === 'none' ? { k: 'computed', by: name } : stdin;
      }
      case 'vim': case 'vi': case 'nvim': case 'ex': case 'view': case 'ed': return this.runEditor(name, args, ctx, stdin);
      case 'less': return { k: 'computed', by: name };
      // ---- shell builtins that set variables
      case 'set': return this.runSet(args, ctx);
      case 'shift': {
        const n = a[0] === undefined ? 1 : Number(a[0]);
        if (ctx.positional !== 'unknown') ctx.positional = Number.isInteger(n) ? [ctx.positional[0] ?? '', ...ctx.positional.slice(1 + n)] : 'unknown';
        return NONE;
      }
      case 'read': return this.runRead(args, ctx, stdin);
      case 'mapfile': case 'readarray': {
        const r = skipOpts(args, 'dnOsuC', []);
        const target = r.rest[0]?.text ?? 'MAPFILE';
        const lines = stdin.k === 'text' && !r.opts.some((o) => o === '-d' || o === '-u' || o === '-C') ? stdin.text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === '')) : [MARK_ANY];
        ctx.arrays.set(this.resolveRef(target, ctx), lines);
        ctx.vars.delete(target);
        return NONE;
      }
      case 'getopts':
        if (args[1] !== undefined) this.setScalar(ctx, args[1].text, MARK_ANY);
        this.setScalar(ctx, 'OPTARG', MARK_ANY);
        return NONE;
      case 'let':
        for (const w of args) {
          const m = /^([A-Za-z_]\w*)\s*([-+*/%&|^]|<<|>>)?=/.exec(w.text) ?? /^(?:\+\+|--)?([A-Za-z_]\w*)(?:\+\+|--)?$/.exec(w.text);
          if (m !== null) this.setScalar(ctx, m[1] as string, '0');
        }
        return NONE;
      case 'printf':
        if (a[0] === '-v' && args[1] !== undefined) {
          const f = this.printfFlow(args.slice(2));
          const target = args[1].text;
          const value = f.k === 'text' ? f.text : MARK_ANY;
          if (/^[A-Za-z_]\w*\[.*\]$/.test(target)) ctx.arrays.set(target.slice(0, target.indexOf('[')), [MARK_ANY]);
          else this.setScalar(ctx, target, value);
          return NONE;
        }
        return this.printfFlow(args);
      case 'uv': case 'poetry': case 'pipenv': case 'pdm': case 'rye': case 'hatch': {
        if (a[0] === 'run') return this.run(skipOpts(args.slice(1), '', ['--with', '--python', '--env', '-p']).rest, ctx, stdin, meta);
        return { k: 'computed', by: name };
      }
      case 'bundle': case 'direnv': {
        if (a[0] === 'exec') return this.run(args.slice(name === 'direnv' ? 2 : 1), ctx, stdin, meta);
        return name === 'direnv' ? { k: 'envsetup' } : { k: 'computed', by: name };
      }
      case 'bunx': case 'pnpx': return { k: 'computed', by: name };
      case 'alias': {
        for (const w of args) {
          const m = /^([^=]+)=(.*)$/s.exec(w.text);
          if (m === null) continue;
          ctx.aliases.set(m[1] as string, m[2] as string);
          this.scriptWord(word(m[2] as string, { flows: w.flows }), this.clone(ctx), [], 'alias');
        }
        return NONE;
      }
      case 'source': case '.': {
        if (args[0] === undefined) return NONE;
        return this.execScriptFile(args[0], ctx, 'sh', stdin);
      }
      case 'cd': case 'pushd': case 'popd': case 'chdir':
        this.changeDir(name, args, ctx);
        return NONE;
      case 'pwd': return ctx.cwds.length === 1 && ctx.cwds[0] !== null ? { k: 'text', text: `${ctx.cwds[0]}\n` } : { k: 'computed', by: 'pwd' };
      case 'echo': return this.echoFlow(args);
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
      case 'touch': case 'truncate': case 'chattr': case 'setfacl': case 'mkdir': case 'mkfifo': case 'mknod': {
        const withArg: Record<string, string> = { touch: 'rdt', truncate: 'sr', mkdir: 'm', mkfifo: 'm', mknod: 'm', setfacl: 'mMxX', chattr: 'vp' };
        for (const f of skipOpts(args, withArg[name] ?? '', ['--size', '--reference', '--date', '--mode', '--context', '--modify', '--remove', '--set', '--set-file'], undefined, true).rest) this.checkWrite(f, ctx, name);
        return NONE;
      }
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
    // any other program may write to the paths it is given
    if (!READ_ONLY.has(name) && !PASS_THROUGH.has(name)) this.checkGenericWrites(name, args, ctx);
    if (isDecoder(name, a)) return { k: 'decoded' };
    if (DOWNLOADERS.has(name)) return { k: 'remote' };
    if (ENV_SETUP.has(name)) return { k: 'envsetup' };
    if (PASS_THROUGH.has(name)) return stdin.k === 'none' ? { k: 'computed', by: name } : stdin;
    return { k: 'computed', by: name };
  }

  /** Whether sudo may run `cmd` (allowlist entries may end with `*`: `apt*`). */
  private sudoAllowed(cmd: string): boolean {
    return this.cfg.sudoAllow.some((e) => (e.endsWith('*') ? cmd.startsWith(e.slice(0, -1)) : e === cmd));
  }

  private runSudo(name: string, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const r = skipOpts(args, 'ugCDhprtTUc', ['--user', '--group', '--close-from', '--chdir', '--host', '--prompt', '--role', '--type', '--other-user', '--command-timeout']);
    const inner = r.rest;
    const shellOpt = r.opts.some((o) => o === '-i' || o === '-s' || o === '--login' || o === '--shell');
    const editOpt = name === 'sudoedit' || r.opts.some((o) => o === '-e' || o === '--edit');
    if (inner.length === 0 && !shellOpt && !editOpt) {
      if (r.opts.every((o) => /^-(l|ll|k|K|v|V|h)$|^--(list|validate|reset-timestamp|remove-timestamp|version|help)$/.test(o))) return NONE;
    }
    const first = inner[0];
    const cmd = first === undefined ? '' : posix.basename(worst(first.text).replace(/^\\+/, ''));
    const allowed = first !== undefined && !hasMarker(first.text) && !first.glob && this.sudoAllowed(cmd) && !shellOpt && !editOpt;
    if (!allowed) {
      const what = shellOpt ? `${name} with a root shell` : editOpt ? `${name} -e (editing files as root)` : cmd === '' ? name : `${name} ${display(cmd, 40)}`;
      this.deny('sudo', `${what} is not allowed; the agent may use sudo only for: ${this.cfg.sudoAllow.join(', ')}. Ask the operator to run it`);
    } else this.checkSudoOptions(cmd, inner.slice(1));
    if (inner.length > 0) return this.run(inner, ctx, stdin, { sudo: true });
    return NONE;
  }

  /**
   * Allowlisted commands that can still run code as root through their options: apt's hooks
   * (`-o APT::Update::Pre-Invoke::=…`, `-c file`, a local .deb whose maintainer scripts run), systemctl
   * verbs that edit or link units, `install -m 4755` (a setuid copy).
   */
  private checkSudoOptions(cmd: string, args: Word[]): void {
    const a = args.map((w) => w.text);
    const deny = (what: string): void => this.deny('sudo', `sudo ${cmd} ${what} runs code as root; the allowlist covers ${cmd}'s ordinary use only. Ask the operator to run it`);
    if (/^(apt|apt-get|apt-cache|aptitude|apt-mark)$/.test(cmd)) {
      const safeOption = /^(APT::Get::Assume-Yes|APT::Install-Recommends|APT::Install-Suggests|APT::Get::Fix-Missing|APT::Get::Show-Versions|Acquire::Retries|Acquire::https?::Timeout|Acquire::ForceIPv[46]|Acquire::Languages|Dpkg::Use-Pty|Debug::[\w:-]+|quiet|Dpkg::Options::=--force-conf(def|old|new|miss))(=.*)?$/i;
      for (let i = 0; i < a.length; i++) {
        const x = a[i] as string;
        const val = x === '-o' || x === '--option' ? a[i + 1] : /^--option=(.*)$/s.exec(x)?.[1] ?? /^-o(.+)$/s.exec(x)?.[1];
        if (val !== undefined && !safeOption.test(val.replace(/\s+/g, ''))) { deny(`-o ${display(val, 60)} (an apt option can name a program to run)`); return; }
        if (x === '-c' || x === '--config-file' || x.startsWith('--config-file=') || /^-c./.test(x)) { deny('-c (a configuration file can name programs to run)'); return; }
        if (!x.startsWith('-') && (/\.deb$/.test(x) || x.includes('/'))) { deny(`with a local package ${display(x, 60)} (its maintainer scripts run as root)`); return; }
      }
      if (a.includes('source') && a.some((x) => x === '-b' || x === '--compile' || x === '--build')) deny('source --compile (builds the package as root)');
      return;
    }
    if (cmd === 'systemctl') {
      const verb = a.find((x) => !x.startsWith('-'));
      if (verb !== undefined && /^(edit|link|set-environment|import-environment|set-property|revert|preset-all)$/.test(verb)) deny(verb);
      else if (verb !== undefined && /^(enable|reenable|start|restart|link)$/.test(verb) && a.some((x) => !x.startsWith('-') && x.includes('/'))) deny(`${verb} with a unit file path (it can be any unit)`);
      return;
    }
    if (cmd === 'install' || cmd === 'cp') {
      for (let i = 0; i < a.length; i++) {
        const x = a[i] as string;
        const mode = x === '-m' || x === '--mode' ? a[i + 1] : /^--mode=(.*)$/.exec(x)?.[1] ?? /^-m(.+)$/.exec(x)?.[1];
        if (mode !== undefined && (/^0*[2-7][0-7]{3}$/.test(mode) || /[ug]?\+[^,]*s/.test(mode))) { deny(`-m ${mode} (a setuid or setgid copy)`); return; }
      }
    }
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
      const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(t);
      if (m !== null) {
        // `env X=/etc sh -c 'rm -rf "$X"'`: the command sees X
        if (sub === ctx) sub = this.clone(ctx);
        const w = args[i] as Word;
        this.setScalar(sub, m[1] as string, w.multi === true ? MARK_ANY : (m[2] as string));
        this.checkEnvCommands([m[1] as string], sub);
        continue;
      }
      break;
    }
    rest.push(...args.slice(i));
    if (rest.length === 0) return { k: 'computed', by: 'env' };
    return this.run(rest, sub, stdin, meta);
  }

  private splitString(s: Word, ctx: Ctx): Word[] {
    if (hasMarker(s.text)) return [word(MARK_ANY, { flows: s.flows, multi: true })];
    let root: SyntaxNode;
    try {
      root = this.cfg.parse(s.text, { deadline: this.cfg.deadline, now: this.cfg.now, maxNodes: MAX_PARSE_NODES });
    } catch (err) {
      if (err instanceof ParseLimitError) throw new GuardBudgetError(err.message);
      throw err;
    }
    if (hasSyntaxError(root)) {
      this.deny('parse-error', 'env -S is given a string that is not valid shell syntax, so the guard cannot check it');
      return [];
    }
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
    const before = ctx.cwds;
    const old = before.length === 1 ? (before[0] ?? MARK_ANY) : MARK_ANY;
    const oldpwd = this.scalarOf('OLDPWD', ctx)?.v ?? MARK_ANY;
    const go = (): void => {
      if (name === 'popd') { ctx.cwds = [null]; return; }
      const target = ops[0];
      if (target === undefined) { ctx.cwds = [this.cfg.env.home]; return; }
      if (target.text === '-') {
        const p = hasMarker(oldpwd) ? null : oldpwd;
        ctx.cwds = [p];
        return;
      }
      if (target.text.includes(MARK_ANY) || target.multi === true) { ctx.cwds = [null]; return; }
      const t = worst(target.text);
      if (t === '') { ctx.cwds = [null]; return; }
      const texts = [t, ...(target.alts ?? []).map(worst)];
      ctx.cwds = uniq(texts.flatMap((x) => before.map((c) => resolvePath(x, c)))).slice(0, 4);
    };
    go();
    ctx.vars.set('OLDPWD', old);
    ctx.alts.delete('OLDPWD');
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
      const setuid = mode !== undefined && (/^0*[2-7][0-7]{3}$/.test(mode.text) || /(^|,)[ugoa]*[+=][rwxXt]*s/.test(mode.text));
      if (!recursive && name === 'chmod' && (worldWritable || setuid)) {
        for (const p of this.resolveAll(t, ctx)) {
          const path = p ?? (t.text.startsWith('/') ? normalize(worst(t.text)) : null);
          if (path === null) continue;
          const reason = this.systemOrHome(path, t.glob);
          if (reason !== null) {
            this.deny('chmod-system', `chmod ${display(mode?.text ?? '')} on ${reason} makes it ${setuid ? 'run with its owner\'s privileges' : 'writable by any user'}; change the mode of your own files only`);
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

  /** A system path (anything under /etc, /usr, /bin, /var, /dev, …, but temp dirs), home itself or a critical part of it. */
  private systemOrHome(p: string, glob: boolean): string | null {
    const env = this.cfg.env;
    const r = criticalReason(p, env) ?? this.deleteReason(p, glob);
    if (r !== null && r !== 'the project root' && !r.startsWith('a parent of the project')) return r;
    if (isTempPath(p, env) || (env.project !== null && isUnder(p, env.project))) return null;
    const top = `/${p.split('/')[1] ?? ''}`;
    if (['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/boot', '/opt', '/srv', '/root', '/dev', '/proc', '/sys', '/run', '/var', '/snap', '/nix', '/System', '/Library'].includes(top)) {
      return `the system path ${p}`;
    }
    if (env.home !== null) for (const c of ['.ssh', '.gnupg', '.config', '.local/bin', '.claude']) if (isUnder(p, `${env.home}/${c}`)) return `~/${c}`;
    return null;
  }

  private runSed(args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const r = skipOpts(args, 'efl', ['--expression', '--file', '--line-length'], undefined, true);
    const inPlace = r.opts.some((o) => /^-[a-zA-Z]*i/.test(o) || o.startsWith('--in-place'));
    const scripts: Word[] = [];
    r.opts.forEach((o, i) => {
      const v = r.optValues[i];
      if ((o === '-e' || o === '--expression') && v !== undefined) scripts.push(v);
      if ((o === '-f' || o === '--file') && v !== undefined) {
        const f = this.fileFlow(v, ctx);
        scripts.push(f.k === 'text' ? word(f.text) : word(''));
      }
    });
    const hasScript = r.opts.some((o) => o === '-e' || o === '-f' || o.startsWith('--expression') || o.startsWith('--file'));
    if (!hasScript && r.rest[0] !== undefined) scripts.push(r.rest[0]);
    const files = hasScript ? r.rest : r.rest.slice(1);
    if (inPlace) for (const f of files) this.checkWrite(f, ctx, 'sed -i');
    for (const sc of scripts) this.sedScript(sc, ctx);
    void stdin;
    return { k: 'computed', by: 'sed' };
  }

  /**
   * GNU sed commands that reach outside: `e [command]` and the `e` flag of `s///` run shell commands,
   * `w file`/`s///w file` write files, `r file`/`R file` read them.
   */
  private sedScript(w: Word, ctx: Ctx): void {
    const src = w.text;
    if (src.includes(MARK_ANY)) {
      if (/[ew]/.test(src.replace(/\uE001/g, ''))) this.deny('computed-script', 'sed runs a script that is not statically known (its e and w commands run commands and write files); write the script literally');
      return;
    }
    let i = 0;
    const n = src.length;
    const restOfLine = (): string => {
      const end = src.indexOf('\n', i);
      const t = src.slice(i, end < 0 ? n : end);
      i = end < 0 ? n : end + 1;
      return t.trim();
    };
    const delimited = (d: string): string => {
      let out = '';
      while (i < n && src[i] !== d) {
        if (src[i] === '\\' && i + 1 < n) { out += src[i + 1] === d ? d : `\\${src[i + 1] as string}`; i += 2; continue; }
        if (src[i] === '\n' && d !== '\n') break;
        out += src[i];
        i++;
      }
      i++;
      return out;
    };
    for (let guard = 0; i < n && guard < 10_000; guard++) {
      const c = src[i] as string;
      if (/[\s;{}!]/.test(c)) { i++; continue; }
      // addresses
      if (/[\d$]/.test(c)) { while (i < n && /[\d$~+,]/.test(src[i] as string)) i++; continue; }
      if (c === '/') { i++; delimited('/'); continue; }
      if (c === '\\' && i + 1 < n) { const d = src[i + 1] as string; i += 2; delimited(d); continue; }
      if (c === ',') { i++; continue; }
      i++;
      switch (c) {
        case 's': case 'y': {
          const d = src[i] as string;
          i++;
          const pat = delimited(d);
          const rep = delimited(d);
          if (c === 'y') break;
          let flags = '';
          while (i < n && /[a-zA-Z0-9]/.test(src[i] as string)) {
            const f = src[i] as string;
            i++;
            if (f === 'w' || f === 'W') { const file = restOfLine(); this.checkWrite(word(file), ctx, 'sed s///w'); break; }
            flags += f;
          }
          if (flags.includes('e')) {
            const literal = rep.replace(/\\(.)/g, '$1');
            if (/&|\\[1-9]/.test(rep) || !/^\^?\.\*\$?$/.test(pat)) this.deny('computed-script', 'sed s///e runs the edited input line as a shell command (text built at run time); write the command literally');
            else this.scriptWord(word(literal), ctx, [], 'sed s///e');
          }
          break;
        }
        case 'e': {
          const cmd = restOfLine();
          if (cmd === '') this.deny('computed-script', 'sed e runs the input line as a shell command (text built at run time); write the command literally');
          else this.scriptWord(word(cmd), ctx, [], 'sed e');
          break;
        }
        case 'w': case 'W': this.checkWrite(word(restOfLine()), ctx, 'sed w'); break;
        case 'r': case 'R': this.checkRead(word(restOfLine()), ctx, 'sed r'); break;
        case 'a': case 'i': case 'c': case ':': case 'b': case 't': case 'T': case 'q': case 'Q': case 'l': case 'L': case 'v': case 'F': case 'z': case '=':
          if (c === 'a' || c === 'i' || c === 'c' || c === ':') restOfLine();
          else while (i < n && src[i] !== ';' && src[i] !== '\n' && src[i] !== '}') i++;
          break;
        default: break;
      }
    }
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
  /** git's own commands (anything else may be an alias or a `git-<name>` program). */
  private static readonly GIT_COMMANDS = new Set([
    'add', 'am', 'annotate', 'apply', 'archive', 'bisect', 'blame', 'branch', 'bundle', 'cat-file', 'check-ignore', 'checkout', 'cherry', 'cherry-pick', 'clean',
    'clone', 'commit', 'config', 'count-objects', 'describe', 'diff', 'difftool', 'fetch', 'filter-branch', 'format-patch', 'fsck', 'gc', 'grep', 'help', 'init',
    'log', 'ls-files', 'ls-remote', 'ls-tree', 'merge', 'merge-base', 'mergetool', 'mv', 'notes', 'pull', 'push', 'range-diff', 'rebase', 'reflog', 'remote',
    'repack', 'replace', 'reset', 'restore', 'rev-list', 'rev-parse', 'revert', 'rm', 'send-email', 'shortlog', 'show', 'show-ref', 'sparse-checkout', 'stash',
    'status', 'submodule', 'switch', 'tag', 'worktree', 'version', 'var', 'verify-commit', 'whatchanged', 'maintenance', 'prune', 'symbolic-ref', 'update-ref',
    'update-index', 'hash-object', 'for-each-ref', 'name-rev', 'credential', 'lfs', 'blame', 'instaweb', 'request-pull', 'citool', 'gui', 'gitk',
  ]);

  /** The repository a directory belongs to (its root, as the key for branch tracking) and its branch. */
  private repoOf(dir: string): { key: string; branch: string | null | undefined } {
    const cached = this.repoCache.get(dir);
    if (cached !== undefined) return cached;
    let out: { key: string; branch: string | null | undefined };
    if (this.cfg.readGit !== undefined) {
      const info = this.cfg.readGit(dir);
      out = info === null ? { key: dir, branch: null } : info === undefined ? { key: dir, branch: undefined } : { key: info.root, branch: info.branch };
    } else {
      // Only the branch of the call's working directory is known (PolicyOptions.gitBranch).
      const cwd = this.cfg.cwd;
      out = cwd !== null && (dir === cwd || dir.startsWith(`${cwd}/`)) ? { key: cwd, branch: this.cfg.branch } : { key: dir, branch: undefined };
    }
    this.repoCache.set(dir, out);
    return out;
  }

  private runGit(args: Word[], ctx: Ctx, stdin: Flow, depth = 0): Flow {
    let i = 0;
    let dirs: (string | null)[] = ctx.cwds;
    let repoUnknown = (ctx.vars.has('GIT_DIR') || ctx.vars.has('GIT_WORK_TREE')) ;
    const configs: string[] = [];
    const globals: Word[] = [];
    for (; i < args.length; i++) {
      const w = args[i] as Word;
      const t = w.text;
      if (t === '-C') {
        const d = args[i + 1];
        globals.push(w);
        if (d !== undefined) globals.push(d);
        i++;
        if (d !== undefined) dirs = hasMarker(d.text) ? [null] : dirs.map((c) => (c === null ? null : resolvePath(d.text, c)));
        continue;
      }
      if (t === '-c') { configs.push(args[i + 1]?.text ?? ''); globals.push(w); if (args[i + 1] !== undefined) globals.push(args[i + 1] as Word); i++; continue; }
      if (/^--(git-dir|work-tree)(=|$)/.test(t)) repoUnknown = true;
      if (t === '--config-env' || t === '--git-dir' || t === '--work-tree' || t === '--namespace' || t === '--exec-path' || t === '--super-prefix' || t === '--list-cmds' || t === '--attr-source') {
        globals.push(w);
        if (args[i + 1] !== undefined) globals.push(args[i + 1] as Word);
        i++;
        continue;
      }
      if (t.startsWith('-')) { globals.push(w); continue; }
      break;
    }
    const sub = args[i];
    const rest = args.slice(i + 1);
    const aliases = new Map(ctx.gitAliases);
    for (const c of configs) {
      this.checkGitConfig(c, ctx);
      const m = /^alias\.([^=]+)=(.*)$/is.exec(c);
      if (m !== null) aliases.set((m[1] as string).toLowerCase(), m[2] as string);
    }
    if (sub === undefined) return NONE;
    if (hasMarker(sub.text) || sub.multi === true) {
      const a = rest.map((w) => w.text);
      if (a.some((x) => x === '--force' || /^--ha/.test(x) || x.startsWith('+') || /^-[a-zA-Z]*f/.test(x) || x === '--mirror')) this.deny('git-computed', 'git with a subcommand that is not statically known and force/hard flags; write the subcommand literally');
      return { k: 'computed', by: 'git' };
    }
    // aliases: `git -c alias.p='push -f' p`, `git config alias.x '!rm …' && git x`
    const alias = Analyzer.GIT_COMMANDS.has(sub.text) ? undefined : aliases.get(sub.text.toLowerCase());
    if (alias !== undefined) {
      if (depth > 8 || hasMarker(alias)) {
        this.deny('computed-script', `the git alias ${display(sub.text)} is not statically known; write the git command literally`);
        return NONE;
      }
      if (alias.startsWith('!')) {
        // a shell alias runs in the repository's top directory (or in the -C directory outside one)
        const where = uniq(dirs.flatMap((d) => (d === null ? [null] : [d, this.repoOf(d).key]))).slice(0, 4);
        return this.scriptWord(word(`${alias.slice(1)} ${rest.map((w) => shellQuote(w.text)).join(' ')}`), this.withCwds(ctx, where), [], `the git alias ${display(sub.text)}`);
      }
      const expanded = this.splitString(word(alias), ctx);
      return this.runGit([...globals, ...expanded, ...rest], ctx, stdin, depth + 1);
    }
    const a = rest.map((w) => w.text);
    switch (sub.text) {
      case 'push': this.checkPush(rest); break;
      case 'reset': {
        if (a.some((x) => /^--ha(r(d)?)?$/.test(x))) {
          const targets = repoUnknown ? [null] : dirs;
          for (const d of targets) {
            if (d === null) {
              this.deny('git-reset-hard', 'git reset --hard in a repository the guard cannot determine (a computed directory, --git-dir, GIT_DIR); name the repository literally, or reset on a feature branch');
              break;
            }
            const repo = this.repoOf(d);
            const b = ctx.branches.has(repo.key) ? ctx.branches.get(repo.key) : repo.branch;
            if (b === undefined) {
              this.deny('git-reset-hard', `git reset --hard while the current branch of ${display(d)} is unknown to the guard; commit or stash first, or reset on a feature branch`);
              break;
            }
            if (b !== null && this.cfg.protectedBranches.includes(b)) {
              this.deny('git-reset-hard', `git reset --hard on ${b} (in ${display(d)}) discards work on a protected branch; create a branch (git switch -c fix) or use git revert`);
              break;
            }
          }
        }
        break;
      }
      case 'clean': {
        const flags = a.filter((x) => x.startsWith('-'));
        const letters = flags.filter((x) => /^-[a-zA-Z]+$/.test(x)).join('');
        const force = letters.includes('f') || flags.includes('--force');
        const dirsFlag = letters.includes('d');
        const ignored = letters.includes('x');
        if (force && dirsFlag && ignored && !letters.includes('n') && !flags.includes('--dry-run')) {
          const project = this.cfg.env.project;
          const pathspec = rest.filter((w) => !w.text.startsWith('-'));
          for (const d of dirs) {
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
        const dd = a.indexOf('--');
        if (dd >= 0) {
          for (const w of rest.slice(dd + 1)) this.checkWrite(w, this.withCwds(ctx, dirs), `git ${sub.text} (restoring a file)`);
          break;
        }
        const ci = a.findIndex((x) => x === '-b' || x === '-B' || x === '-c' || x === '-C' || x === '--orphan');
        const target = ci >= 0 ? a[ci + 1] : a.find((x) => !x.startsWith('-'));
        for (const d of repoUnknown ? [null] : dirs) {
          if (d === null) continue;
          const key = this.repoOf(d).key;
          if (target !== undefined && !hasMarker(target) && a.filter((x) => !x.startsWith('-')).length <= (ci >= 0 ? 2 : 1)) ctx.branches.set(key, target);
          else if (target !== undefined) ctx.branches.set(key, undefined);
        }
        break;
      }
      case 'restore': {
        for (const w of rest) if (!w.text.startsWith('-')) this.checkWrite(w, this.withCwds(ctx, dirs), 'git restore');
        break;
      }
      case 'mv': {
        const ops = rest.filter((w) => !w.text.startsWith('-'));
        const dest = ops[ops.length - 1];
        if (dest !== undefined) this.checkWrite(dest, this.withCwds(ctx, dirs), 'git mv');
        for (const w of ops.slice(0, -1)) this.checkDestroyProtected(w, this.withCwds(ctx, dirs), 'git mv');
        break;
      }
      case 'rm': {
        const recursive = a.some((x) => /^-[a-zA-Z]*r/.test(x));
        for (const w of rest) {
          if (w.text.startsWith('-')) continue;
          if (recursive) this.checkRecursiveDelete(w, this.withCwds(ctx, dirs), 'git rm -r');
          else this.checkDestroyProtected(w, this.withCwds(ctx, dirs), 'git rm');
        }
        break;
      }
      case 'config': {
        const ops: Word[] = [];
        for (let k = 0; k < rest.length; k++) {
          const t = (rest[k] as Word).text;
          if (/^(--file|-f|--blob|--type|--default|--comment|--value|--url)$/.test(t)) { k++; continue; }
          if (t.startsWith('-')) continue;
          ops.push(rest[k] as Word);
        }
        if (ops[0]?.text === 'set') ops.shift();
        const key = ops[0];
        const val = ops[1];
        if (key !== undefined && val !== undefined) {
          this.checkGitConfig(`${key.text}=${val.text}`, ctx);
          const m = /^alias\.(.+)$/i.exec(key.text);
          if (m !== null) ctx.gitAliases.set((m[1] as string).toLowerCase(), val.multi === true ? MARK_ANY : val.text);
        }
        break;
      }
      case 'clone': {
        const pos = rest.filter((w) => !w.text.startsWith('-'));
        const url = pos[0];
        if (url !== undefined && /^ext::/.test(url.text)) this.scriptWord(word(url.text.slice(5).replace(/%(.)/g, '$1'), { flows: url.flows }), ctx, [], 'git ext:: transport');
        const target = pos[1] ?? (url === undefined ? undefined : word(posix.basename(url.text.replace(/\.git$/, '').replace(/\/+$/, ''))));
        if (target !== undefined) {
          this.checkWrite(target, ctx, 'git clone');
          for (const p of this.resolveAll(target, ctx)) if (p !== null) ctx.remoteDirs.add(p);
        }
        break;
      }
      case 'submodule': {
        const fi = a.indexOf('foreach');
        if (fi >= 0) {
          const cmd = rest.slice(fi + 1).filter((w) => !/^--(recursive|quiet)$/.test(w.text));
          if (cmd.length > 0) this.scriptWord(joinWords(cmd), ctx, [], 'git submodule foreach');
        }
        break;
      }
      case 'bisect':
        if (a[0] === 'run' && rest.length > 1) this.run(rest.slice(1), ctx, NONE, { sudo: false });
        break;
      case 'rebase': case 'difftool': case 'filter-branch': case 'mergetool': {
        for (let k = 0; k < rest.length; k++) {
          const t = (rest[k] as Word).text;
          const eq = /^(--exec|--extcmd|--tool-cmd|--(?:env|tree|index|parent|msg|commit|tag-name)-filter)=(.*)$/s.exec(t);
          if (eq !== null) this.scriptWord(word(eq[2] as string, { flows: (rest[k] as Word).flows }), ctx, [], `git ${sub.text} ${eq[1]}`);
          else if (/^(-x|--exec|--extcmd|-t|--(?:env|tree|index|parent|msg|commit|tag-name)-filter)$/.test(t) && rest[k + 1] !== undefined) {
            if (t !== '-t') this.scriptWord(rest[k + 1] as Word, ctx, [], `git ${sub.text} ${t}`);
            k++;
          }
        }
        break;
      }
      default: break;
    }
    return { k: 'computed', by: 'git' };
  }

  /** A copy of ctx acting in `dirs` (git -C). */
  private withCwds(ctx: Ctx, dirs: (string | null)[]): Ctx {
    if (dirs === ctx.cwds) return ctx;
    const sub = this.clone(ctx);
    sub.cwds = dirs;
    return sub;
  }

  private checkPush(rest: Word[]): void {
    const a = rest.map((w) => w.text);
    let force = false;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as string;
      if (x === '--force' || /^--mi(r(r(or?)?)?)?$/.test(x) || /^--forc?e?$/.test(x)) force = true;
      else if (x.startsWith('--force-with-lease') || x.startsWith('--force-if-includes')) continue;
      else if (/^-[a-zA-Z]+$/.test(x) && x.includes('f')) force = true;
      else if (x === '-o' || x === '--push-option' || x === '--repo' || x === '--receive-pack' || x === '--exec') i++;
      else if (!x.startsWith('-') && x.startsWith('+')) force = true;
      else if (!x.startsWith('-') && hasMarker(x) && x.startsWith(MARK_EMPTYABLE) === false && x.includes('+')) force = true;
    }
    if (force) this.deny('git-force-push', 'git push --force / +refspec / --mirror can overwrite the remote history; use git push --force-with-lease, or push to a new branch');
  }

  private checkGitConfig(kv: string, ctx: Ctx): void {
    const m = /^([^=]+)=(.*)$/s.exec(kv);
    if (m === null) return;
    const key = (m[1] as string).toLowerCase();
    const val = m[2] as string;
    if (key.startsWith('alias.')) {
      // checked where it is used (with its arguments and directory); here as written, for `git config` that only defines it
      if (val.startsWith('!')) this.scriptWord(word(val.slice(1)), this.clone(ctx), [], 'git alias');
    } else if (/^(core\.(pager|sshcommand|editor|fsmonitor|hookspath|askpass|alternaterefscommand)|sequence\.editor|diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|pager\.\w+|credential\.helper|credential\..+\.helper|gpg\.program|gpg\.\w+\.program|uploadpack\.packobjectshook|core\.gitproxy|protocol\.ext\.allow|url\..+\.insteadof)$/.test(key)) {
      if (key === 'core.hookspath') this.deny('protected-path', 'git -c core.hooksPath points git at another hooks directory; ask the operator');
      else if (key === 'protocol.ext.allow' || key.endsWith('.insteadof')) {
        if (/^ext::/.test(val)) this.scriptWord(word(val.slice(5)), this.clone(ctx), [], `git ${key}`);
      } else if (key === 'core.fsmonitor' && /^(true|false)$/i.test(val)) {
        // the built-in monitor
      } else this.scriptWord(word(val.replace(/^!/, '')), this.clone(ctx), [], `git ${key}`);
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
  scriptWord(w: Word, ctx: Ctx, positional: string[], origin: string, sameShell = false): Flow {
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
    // eval runs in this shell: what it assigns or changes stays visible afterwards
    if (sameShell) return this.analyzeSource(src, ctx, `${origin} script`);
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
    else this.checkRead(w, ctx, 'running a script');
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
      if (code.length > MAX_CODE_LENGTH) {
        this.deny('budget-exceeded', `${origin} is a program of ${code.length} characters (limit ${MAX_CODE_LENGTH}), too long to check inline; write it to a file and run the file`);
        return;
      }
      const facts = analyzeCode(lang, code, () => {
        if (this.cfg.now() > this.cfg.deadline) throw new GuardBudgetError('evaluation exceeded the time budget');
      });
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
      const lits = stringLiterals(code).filter((l) => l !== '' && l.length < 4096 && !/[\n\0]/.test(l));
      // A program that writes files: a protected path anywhere among its strings is a target
      // (`Path('/root/.ssh/authorized_keys').write_text(…)`, `appendFileSync(homedir() + '/.bashrc', …)`).
      const api = facts.writes[0]?.api ?? facts.deletes[0]?.api;
      if (api !== undefined) {
        const home = this.cfg.env.home;
        const homeRef = home !== null && /homedir|expanduser|Path\s*\.\s*home|\bHOME\b|Dir\s*\.\s*home|~/.test(code);
        const before = this.findings.length;
        for (const lit of lits) {
          if (this.findings.length > before) break;
          this.tick();
          if (/\s/.test(lit) || !/[/.~]/.test(lit)) continue;
          this.checkWrite(word(lit.startsWith('~') ? this.tilde(lit, ctx) : lit), ctx, `${origin} (${api})`);
          if (homeRef && !lit.startsWith('~')) this.checkWrite(word(`${home}/${lit.replace(/^\/+/, '')}`), ctx, `${origin} (${api})`);
        }
        if (this.findings.length === before) {
          const joined = `/${lits.map((l) => l.replace(/^\/+|\/+$/g, '')).join('/')}`;
          const m = /(?:^|\/)(\.ssh\/authorized_keys2?|authorized_keys2?|\.bashrc|\.bash_profile|\.bash_login|\.profile|\.zshrc|\.zshenv|\.zprofile|sudoers(?:\.d)?|ld\.so\.preload|\.claude\/(?:settings[^/]*\.json|hooks)|crontab)(?:\/|$)/.exec(joined);
          if (m !== null) this.deny('protected-path', `${origin} writes files (${api}) to a path built from pieces that name ${m[1]}, which the safety guard protects; ask the operator to change it`);
        }
      }
      // A secret named anywhere in the program: reading it is the likely point.
      for (const lit of lits) {
        this.tick();
        if (/\s/.test(lit) || !lit.includes('/')) continue;
        if (this.checkRead(word(lit.startsWith('~') ? this.tilde(lit, ctx) : lit), ctx, origin)) break;
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
    let delim: string | null = null;
    r.opts.forEach((o, i) => {
      if (o === '-0' || o === '--null') delim = '\0';
      else if ((o === '-d' || o === '--delimiter') && r.optValues[i] !== undefined) delim = decodeAnsiC((r.optValues[i] as Word).text).charAt(0) || '\n';
    });
    let items: Word[];
    if (fromFile) {
      const fi = r.opts.findIndex((o) => o === '-a' || o.startsWith('--arg-file'));
      const fw = r.optValues[fi];
      items = fw === undefined ? [word(MARK_ANY)] : this.itemsFrom(this.fileFlow(fw, ctx), delim);
    } else items = this.itemsFrom(stdin, delim);
    const payload = r.rest.length === 0 ? [word('echo')] : r.rest;
    for (const item of items.slice(0, MAX_FANOUT)) {
      const argv = repl === null ? [...payload, item] : payload.map((w) => (w.text.includes(repl as string) ? word(w.text.split(repl as string).join(item.text), { glob: item.glob }) : w));
      this.run(argv, this.clone(ctx), NONE, meta);
    }
    return { k: 'computed', by: 'xargs' };
  }

  /** The items xargs (or `while read`) gets from a flow: split at blanks, or at `delim` (`-0`, `-d`). */
  private itemsFrom(f: Flow, delim: string | null = null): Word[] {
    if (f.k === 'text') {
      const items = (delim === null ? f.text.split(/\s+/) : f.text.split(delim)).map((x) => (delim === null ? x.replace(/^['"]|['"]$/g, '') : x)).filter((x) => x !== '');
      return items.length === 0 ? [word('')] : items.map((x) => word(x));
    }
    if (f.k === 'paths') return f.roots.map((root) => word(f.restricted ? `${root.replace(/\/$/, '')}/${MARK_NONEMPTY}` : root));
    if (f.k === 'none') return [word('')];
    return [word(MARK_ANY, { flows: [f] })];
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
    // without a name test, the payload gets the roots and everything under them
    const each = restricted ? matched : [...matched, ...matched.map((r) => word(`${r.text.replace(/\/$/, '')}/${MARK_NONEMPTY}`, { glob: r.glob }))];
    for (const p of payloads) {
      for (const m of each.slice(0, MAX_FANOUT)) {
        const argv = p.map((w) => (w.text.includes('{}') ? word(w.text.split('{}').join(m.text), { glob: m.glob }) : w));
        this.run(argv, this.clone(ctx), NONE, meta);
      }
    }
    const abs = rootPaths.map((p) => (p.startsWith('/') ? p : resolvePath(p, ctx.cwds[0] ?? null) ?? p));
    return { k: 'paths', roots: abs, restricted };
  }

  /**
   * Variables whose value a program runs (`GIT_SSH_COMMAND`, `PAGER`, `EDITOR`, …) or sources
   * (`BASH_ENV`, `ENV`), set for a command or exported: their value is judged as a command or script.
   */
  private checkEnvCommands(names: string[], ctx: Ctx): void {
    for (const n of names) {
      if (!COMMAND_ENV_VARS.has(n) && !SOURCE_ENV_VARS.has(n)) continue;
      const v = this.scalarOf(n, ctx)?.v;
      if (v === undefined || v === '') continue;
      if (COMMAND_ENV_VARS.has(n)) {
        this.scriptWord(word(v), ctx, [], `the command in ${n}`);
      } else if (n === 'BASH_ENV' || n === 'ENV') {
        this.execScriptFile(this.assignedWords.get(n) ?? word(v), ctx, 'sh');
      } else if (n === 'NODE_OPTIONS' || n === 'PERL5OPT' || n === 'RUBYOPT') {
        const m = /(?:--require|-r|--import|-M|-I)[ =]?(\S+)/.exec(v);
        if (m !== null) this.execScriptFile(word(m[1] as string), ctx, n === 'NODE_OPTIONS' ? 'node' : n === 'PERL5OPT' ? 'perl' : 'ruby');
      } else {
        for (const f of v.split(/[:\s]+/)) {
          if (f === '') continue;
          const p = resolvePath(worst(f), ctx.cwds[0] ?? null);
          if (hasMarker(f) || (p !== null && ctx.files.has(p))) {
            this.deny('write-then-run', `${n} loads ${display(f)}, a library written or computed in the same command; build and review it first, then use it in a separate call`);
            return;
          }
        }
      }
    }
  }

  /** Reading `w` (a file operand, an input redirection): denied when it may be a secret. */
  checkRead(w: Word, ctx: Ctx, how: string, recursive = false): boolean {
    if (this.cfg.env.secrets.length === 0) return false;
    const raw = worst(w.text);
    if (raw === '' || raw === '-') return false;
    for (const p of this.resolveAll(w, ctx)) {
      const path = p ?? (raw.startsWith('/') ? normalize(raw) : null);
      if (path === null) continue;
      const hit = secretHit(path.replace(/\uE001/g, '\uE002'), this.cfg.env, w.glob, recursive);
      if (hit !== null) {
        this.deny('secret-read', `${how} reads ${display(hit)}, a secret of the controller (its control-plane token or credentials); the safety guard keeps it from agents. Ask the operator if you need the control plane`);
        return true;
      }
    }
    return false;
  }

  /** The file operands (and `--opt=FILE`, `@FILE`) of a command that may read them. */
  private checkReadArgs(name: string, args: Word[], ctx: Ctx): void {
    if (this.cfg.env.secrets.length === 0) return;
    const recursive = /^(rg|ag|ack|tar|bsdtar|zip|7z|7za|rsync|scp|cpio|pax)$/.test(name) || args.some((a) => /^-[a-zA-Z]*[rRa]/.test(a.text) || a.text === '--recursive' || a.text === '--archive' || a.text === '-dir');
    for (const a of args) {
      const cands: Word[] = [];
      if (!a.text.startsWith('-')) cands.push(a);
      const eq = /^--?[\w-]+=(.+)$/s.exec(a.text);
      if (eq !== null) cands.push(word(eq[1] as string, { glob: a.glob }));
      if (a.text.startsWith('@')) cands.push(word(a.text.slice(1), { glob: a.glob }));
      for (const c of cands) if (this.checkRead(c, ctx, name, recursive)) return;
    }
  }

  /**
   * A command that is not known to only read its operands: any protected path among its arguments
   * (or `--opt=PATH` values) may be written (`sponge ~/.bashrc`, `patch ~/.profile`, `ex … file`).
   */
  checkGenericWrites(name: string, args: Word[], ctx: Ctx): void {
    for (const a of args) {
      const eq = /^--?[\w-]+=(.+)$/s.exec(a.text);
      const w = a.text.startsWith('-') ? (eq === null ? null : word(eq[1] as string, { glob: a.glob })) : a;
      if (w === null) continue;
      const raw = worst(w.text);
      if (raw === '' || raw.includes(MARK_ANY)) continue;
      for (const p of this.resolveAll(w, ctx)) {
        const path = p ?? normalize(raw);
        const hit = protectedHit(path, this.cfg.env, w.glob, false);
        if (hit !== null) {
          this.deny('protected-path', `${name} is given ${hit.what}, which the safety guard protects from writes (hooks, settings, credentials, shell start-up files, the controller's state), and it may write to it; ask the operator to change it`);
          return;
        }
      }
    }
  }

  /** `set -- a b`, `set a b`: the positional parameters. Options alone change nothing the guard follows. */
  private runSet(args: Word[], ctx: Ctx): Flow {
    let i = 0;
    let explicit = false;
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t === '--' || t === '-') { explicit = true; i++; break; }
      if (t === '-o' || t === '+o') { i++; continue; }
      if (/^[-+][a-zA-Z]+$/.test(t)) continue;
      explicit = true;
      break;
    }
    if (!explicit) return NONE;
    const rest = args.slice(i);
    const zero = ctx.positional === 'unknown' ? 'bash' : (ctx.positional[0] ?? 'bash');
    ctx.positional = rest.some((w) => w.multi === true) ? 'unknown' : [zero, ...rest.map((w) => w.text)];
    return NONE;
  }

  /** `read [-r] [-a arr] names…`: from a known input, its first line split by IFS; otherwise not statically known. */
  private runRead(args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const r = skipOpts(args, 'adinNptu', []);
    const arrIdx = r.opts.indexOf('-a');
    const arr = arrIdx >= 0 ? r.optValues[arrIdx]?.text : undefined;
    const names = r.rest.map((w) => w.text).filter((n) => /^[A-Za-z_]\w*$/.test(n));
    if (arr === undefined && names.length === 0) names.push('REPLY');
    const exotic = r.opts.some((o) => o === '-d' || o === '-n' || o === '-N' || o === '-u' || o === '-i');
    let fields: string[] | null = null;
    let line = '';
    if (stdin.k === 'text' && !exotic) {
      line = stdin.text.split('\n')[0] ?? '';
      const ifs = this.ifs(ctx);
      if (ifs !== null) fields = splitFields(line, ifs).fields;
    } else if (stdin.k === 'paths' || (stdin.k === 'text' && exotic)) {
      // `find … | while read f`: one of the paths
      fields = this.itemsFrom(stdin).map((w) => w.text);
      if (stdin.k === 'text') fields = [MARK_ANY];
    }
    if (arr !== undefined) {
      ctx.arrays.set(this.resolveRef(arr, ctx), fields ?? [MARK_ANY]);
      return NONE;
    }
    names.forEach((n, i) => {
      if (fields === null) { this.setScalar(ctx, n, MARK_ANY); return; }
      if (stdin.k === 'paths') { this.setScalar(ctx, n, i === 0 ? (fields[0] ?? '') : ''); return; }
      const v = i === names.length - 1 ? fields.slice(i).join(' ') : (fields[i] ?? '');
      this.setScalar(ctx, n, names.length === 1 && r.opts.includes('-r') ? line.trim() : v);
    });
    return NONE;
  }

  private runParallel(args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const sep = args.findIndex((w) => w.text === ':::' || w.text === '::::' || w.text === ':::+' || w.text === '::::+');
    const head = sep >= 0 ? args.slice(0, sep) : args;
    const r = skipOpts(head, 'jJSNnIaEdkLlPsX', ['--jobs', '--sshlogin', '--arg-file', '--delimiter', '--eof', '--max-args', '--max-lines', '--max-replace-args', '--workdir', '--results', '--joblog', '--tmpdir', '--timeout', '--delay', '--halt', '--colsep', '--env', '--tag', '--tagstring', '--basefile', '--return', '--transfer']);
    const cmd = r.rest;
    const fromFile = r.opts.some((o) => o === '-a' || o === '--arg-file') || args[sep]?.text.startsWith('::::') === true;
    const items = sep >= 0 && !fromFile ? args.slice(sep + 1).filter((w) => !/^:::/.test(w.text)) : fromFile ? [word(MARK_ANY)] : this.itemsFrom(stdin);
    if (cmd.length === 0) {
      // no command: every input is a command line
      if (sep < 0 && !fromFile) this.scriptFlow(stdin, ctx, 'sh', 'parallel (which runs each input line)');
      else for (const item of items.slice(0, MAX_FANOUT)) this.scriptWord(item, ctx, [], 'parallel');
      return { k: 'computed', by: 'parallel' };
    }
    for (const item of items.slice(0, MAX_FANOUT)) {
      const hasRepl = cmd.some((w) => /\{[./#%]*\}|\{\d+\}/.test(w.text));
      const argv = hasRepl ? cmd.map((w) => word(w.text.replace(/\{[./#%]*\}|\{\d+\}/g, item.text), { glob: item.glob, multi: item.multi })) : [...cmd, item];
      // parallel runs its command through a shell
      if (argv.length === 1 || cmd.length === 1) this.scriptWord(joinWords(argv), ctx, [], 'parallel');
      else this.run(argv, this.clone(ctx), NONE, meta);
    }
    return { k: 'computed', by: 'parallel' };
  }

  /**
   * tmux: global options (`-c shell-command`), then commands separated by `;`. Commands that take
   * shell source (new-session, split-window, run-shell, if-shell, display-popup, pipe-pane,
   * respawn-*, send-keys text) have it analysed; commands that take tmux commands (bind-key,
   * set-hook, if-shell's branches, confirm-before, command-prompt) are followed into them.
   */
  private runTmux(args: Word[], ctx: Ctx, depth: number): Flow {
    if (depth > 4) return { k: 'computed', by: 'tmux' };
    let i = 0;
    for (; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if (t === '-c' && args[i + 1] !== undefined) { this.scriptWord(args[i + 1] as Word, ctx, [], 'tmux -c'); i++; continue; }
      if (/^-[LSfT]$/.test(t)) { i++; continue; }
      if (/^-[a-zA-Z0-9]+$/.test(t)) continue;
      break;
    }
    // split the command sequence at ';' / '\;'
    const cmds: Word[][] = [];
    let cur: Word[] = [];
    for (const w of args.slice(i)) {
      if (w.text === ';' || w.text === '\\;') { cmds.push(cur); cur = []; continue; }
      if (w.text.endsWith(';') && w.text.length > 1 && !w.text.endsWith('\\;')) { cur.push(word(w.text.slice(0, -1), { flows: w.flows })); cmds.push(cur); cur = []; continue; }
      cur.push(w);
    }
    cmds.push(cur);
    for (const c of cmds) this.tmuxCommand(c, ctx, depth);
    return { k: 'computed', by: 'tmux' };
  }

  private tmuxCommand(c: Word[], ctx: Ctx, depth: number): void {
    const cmd = c[0]?.text;
    if (cmd === undefined) return;
    const opts: Record<string, string> = {
      'new-session': 'cefFnstxy', new: 'cefFnstxy', 'new-window': 'cenFt', neww: 'cenFt', 'split-window': 'celFtp', splitw: 'celFtp',
      'respawn-pane': 'cet', respawnp: 'cet', 'respawn-window': 'cet', respawnw: 'cet', 'run-shell': 'cdt', run: 'cdt',
      'display-popup': 'bcdehsStTwxy', popup: 'bcdehsStTwxy', 'pipe-pane': 't', pipep: 't', 'if-shell': 't', if: 't',
      'send-keys': 'Nt', send: 'Nt', 'bind-key': 'NTt', bind: 'NTt', 'set-hook': 't', 'confirm-before': 'ptc', confirm: 'ptc',
      'command-prompt': 'ITpt', 'set-option': 't', set: 't', 'set-window-option': 't', setw: 't', 'source-file': 't', source: 't',
    };
    const withArg = opts[cmd];
    if (withArg === undefined) return;
    const pos: Word[] = [];
    let i = 1;
    for (; i < c.length; i++) {
      const t = (c[i] as Word).text;
      if (t === '--') { i++; break; }
      if (!/^-[a-zA-Z]+$/.test(t)) break;
      if (withArg.includes(t[t.length - 1] as string)) i++;
    }
    pos.push(...c.slice(i));
    const shell = (w: Word | undefined, what: string): void => { if (w !== undefined) this.scriptWord(w, ctx, [], `tmux ${what}`); };
    const tmuxCmd = (w: Word | Word[] | undefined): void => {
      if (w === undefined) return;
      const ws = Array.isArray(w) ? w : [w];
      if (ws.length === 0) return;
      if (ws.some((x) => hasMarker(x.text))) { this.deny('computed-script', 'tmux is given a command built at run time; write it literally'); return; }
      // one string is a tmux command line; several words are one already split by the shell
      this.runTmux(ws.length === 1 ? this.splitString(ws[0] as Word, ctx) : ws, ctx, depth + 1);
    };
    switch (cmd) {
      case 'send-keys': case 'send': {
        const text = pos.filter((w) => !/^(Enter|C-m|C-j|KPEnter|Escape|C-c|C-d|Space|Tab|BSpace|Up|Down|Left|Right|q)$/.test(w.text));
        if (text.length > 0) this.scriptWord(joinWords(text), ctx, [], 'tmux send-keys');
        return;
      }
      case 'if-shell': case 'if':
        shell(pos[0], 'if-shell');
        tmuxCmd(pos[1]);
        tmuxCmd(pos[2]);
        return;
      case 'bind-key': case 'bind': tmuxCmd(pos.slice(1)); return;
      case 'set-hook': tmuxCmd(pos[1]); return;
      case 'confirm-before': case 'confirm': case 'command-prompt': tmuxCmd(pos[pos.length - 1]); return;
      case 'set-option': case 'set': case 'set-window-option': case 'setw':
        if (pos[0] !== undefined && /^(default-command|default-shell|lock-command|pane-border-format)$/.test(pos[0].text)) shell(pos[1], `set ${pos[0].text}`);
        return;
      case 'source-file': case 'source':
        for (const f of pos) this.execScriptFile(f, ctx, 'sh');
        return;
      default:
        if (pos.length > 0) shell(joinWords(pos), cmd);
    }
  }

  /** screen: `screen [opts] cmd args` runs cmd; `-X stuff`/`-X exec`/`-X screen` send commands to a session. */
  private runScreen(args: Word[], ctx: Ctx, stdin: Flow, meta: { sudo: boolean }): Flow {
    const r = skipOpts(args, 'SceEhpsTtLrxX', ['-Logfile']);
    const xi = r.opts.indexOf('-X');
    if (xi >= 0) {
      const sub = r.optValues[xi];
      const rest = r.rest;
      if (sub?.text === 'stuff' && rest[0] !== undefined) this.scriptWord(word(decodeAnsiC(rest[0].text), { flows: rest[0].flows }), ctx, [], 'screen stuff');
      else if ((sub?.text === 'exec' || sub?.text === 'screen') && rest.length > 0) this.run(rest.filter((w) => !/^[.!:|]+$/.test(w.text)), ctx, stdin, meta);
      return { k: 'computed', by: 'screen' };
    }
    const si = r.opts.indexOf('-s');
    if (si >= 0 && r.optValues[si] !== undefined) this.run([r.optValues[si] as Word], ctx, NONE, meta);
    if (r.rest.length > 0) return this.run(r.rest, ctx, stdin, meta);
    return { k: 'computed', by: 'screen' };
  }

  /**
   * ssh: the remote command runs on another host (out of scope) unless that host is this one; the
   * options that run a local command (ProxyCommand, LocalCommand, KnownHostsCommand) are judged.
   */
  private runSsh(args: Word[], ctx: Ctx): Flow {
    const r = skipOpts(args, 'BbcDEeFIiJLlmOopQRSWw', []);
    r.opts.forEach((o, i) => {
      const v = r.optValues[i];
      if (o !== '-o' || v === undefined) return;
      const m = /^\s*(ProxyCommand|LocalCommand|KnownHostsCommand|RemoteCommand)\s*[= ]\s*(.*)$/is.exec(v.text);
      if (m !== null && !/^RemoteCommand$/i.test(m[1] as string)) this.scriptWord(word(m[2] as string, { flows: v.flows }), ctx, [], `ssh ${m[1]}`);
    });
    const host = r.rest[0];
    const remote = r.rest.slice(1);
    if (host !== undefined && /^(?:[^@]*@)?(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/.test(host.text) && remote.length > 0) {
      this.scriptWord(joinWords(remote), ctx, [], 'ssh to this host');
    }
    return { k: 'remote' };
  }

  /** vim/vi/nvim/ex/view: `-c cmd`, `--cmd cmd`, `+cmd` with `!…` (a shell command) or `w`/`wq` into a protected file. */
  private runEditor(name: string, args: Word[], ctx: Ctx, stdin: Flow): Flow {
    const cmds: Word[] = [];
    // ex/ed read their commands from stdin too
    if (stdin.k === 'text' && (name === 'ex' || name === 'ed' || args.some((a) => a.text === '-s' || a.text === '-e' || a.text === '-es'))) {
      for (const line of stdin.text.split('\n')) cmds.push(word(line));
    }
    const files: Word[] = [];
    for (let i = 0; i < args.length; i++) {
      const t = (args[i] as Word).text;
      if ((t === '-c' || t === '--cmd' || t === '-S') && args[i + 1] !== undefined) { cmds.push(args[i + 1] as Word); i++; continue; }
      if (t.startsWith('+') && t.length > 1) { cmds.push(word(t.slice(1), { flows: (args[i] as Word).flows })); continue; }
      if (/^-[a-zA-Z]+$/.test(t) && /[sutTiwWo]$/.test(t) && !/^-[a-zA-Z]*[es]$/.test(t) && args[i + 1] !== undefined && /^-[uUTiwWo]$/.test(t)) { i++; continue; }
      if (t.startsWith('-')) continue;
      files.push(args[i] as Word);
    }
    for (const c of cmds) {
      for (const part of c.text.split('|')) {
        const m = /^\s*:?\s*(?:silent!?\s*)?(?:!|r(?:ead)?\s*!|w(?:rite)?\s*!|call\s+system\(|exe(?:cute)?\s+["']!)(.*)$/s.exec(part);
        if (m !== null) this.scriptWord(word((m[1] as string).replace(/["')]+\s*$/, ''), { flows: c.flows }), ctx, [], `${name} -c`);
        const wm = /^\s*:?\s*(?:w|write|wq|x|saveas|sav)!?\s+(\S+)/.exec(part);
        if (wm !== null) this.checkWrite(word(wm[1] as string), ctx, `${name} :write`);
      }
    }
    if (name !== 'view') this.checkGenericWrites(name, files, ctx);
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

/** The argv once per combination of its words' alternative texts (bounded; see Word.alts). */
function argvVariants(argv: Word[]): Word[][] {
  if (!argv.some((w) => w.alts !== undefined)) return [argv];
  let out: Word[][] = [[]];
  for (const w of argv) {
    const texts = [w.text, ...(w.alts ?? [])];
    const next: Word[][] = [];
    for (const prefix of out) for (const t of texts) next.push([...prefix, t === w.text ? w : { ...w, text: t, alts: undefined }]);
    out = next.slice(0, MAX_ALTS * MAX_ALTS);
  }
  return out;
}

function joinWords(ws: Word[]): Word {
  return { text: ws.map((w) => w.text).join(' '), glob: ws.some((w) => w.glob), flows: ws.flatMap((w) => w.flows), procSubst: false, ...(ws.some((w) => w.multi === true) ? { multi: true } : {}) };
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

/** `body` with `redirects` appended to its last simple command (null when it does not end in one). */
function moveRedirects(body: SyntaxNode, redirects: SyntaxNode[]): SyntaxNode | null {
  return appendToLast(body, redirects);
}

/** `body` with `nodes` (redirections, arguments) appended to its last simple command, or null. */
function appendToLast(body: SyntaxNode, nodes: SyntaxNode[]): SyntaxNode | null {
  if (body.type === 'command') return { ...body, children: [...body.children, ...nodes] };
  if (body.type !== 'pipeline' && body.type !== 'list') return null;
  const idx = body.children.map((c) => c.named).lastIndexOf(true);
  const last = body.children[idx];
  if (last === undefined) return null;
  const moved = appendToLast(last, nodes);
  if (moved === null) return null;
  const children = [...body.children];
  children[idx] = moved;
  return { ...body, children };
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


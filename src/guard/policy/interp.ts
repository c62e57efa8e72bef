/**
 * Heuristics for inline interpreter programs (`python -c`, `node -e`, `perl -e`, `ruby -e`, awk ...).
 * We do not parse Python or JavaScript: we look for the few APIs that delete trees, run shell
 * commands, write files or fork, and pull the string literals out of their arguments so the shell
 * policy can judge them. A dangerous API whose argument is not a literal is reported as computed.
 */
import type { Lang } from './tables.js';

export interface CodeCall {
  /** The API that matched, e.g. `shutil.rmtree`. */
  api: string;
  /** String literals found in the call's arguments. */
  literals: string[];
  /** The arguments reference something computed (a variable, the home dir, the environment). */
  computed: boolean;
  /** For shell-outs: the literals form an argv list (`["rm", "-rf", "/"]`) rather than one command string. */
  argvList: boolean;
}

export interface CodeFacts {
  deletes: CodeCall[];
  shellOuts: CodeCall[];
  writes: CodeCall[];
  forkBomb: boolean;
}

interface ApiSpec {
  re: RegExp;
  api: string;
}

const DELETE: Partial<Record<Lang, ApiSpec[]>> = {
  python: [{ re: /\b(shutil\s*\.\s*)?rmtree\s*\(/g, api: 'shutil.rmtree' }, { re: /\bos\s*\.\s*removedirs\s*\(/g, api: 'os.removedirs' }],
  node: [
    { re: /\b(rmSync|rmdirSync|rimraf(?:Sync)?|removeSync|emptyDirSync)\s*\(/g, api: 'fs.rmSync' },
    { re: /\.\s*(rm|rmdir|remove|emptyDir)\s*\(/g, api: 'fs.rm' },
    { re: /\bDeno\s*\.\s*remove(Sync)?\s*\(/g, api: 'Deno.remove' },
  ],
  perl: [{ re: /\b(rmtree|remove_tree)\b\s*\(?/g, api: 'File::Path::rmtree' }],
  ruby: [{ re: /\b(rm_rf|rm_r|remove_dir|remove_entry(?:_secure)?|rmtree|rm_f)\b\s*\(?/g, api: 'FileUtils.rm_rf' }],
  php: [{ re: /\b(rmdir|unlink)\s*\(/g, api: 'rmdir' }],
  lua: [{ re: /\bos\s*\.\s*remove\s*\(/g, api: 'os.remove' }],
};

const SHELL: Partial<Record<Lang, ApiSpec[]>> = {
  python: [
    { re: /\bos\s*\.\s*(system|popen|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)\s*\(/g, api: 'os.system' },
    { re: /\bsubprocess\s*\.\s*(run|call|check_call|check_output|Popen|getoutput|getstatusoutput)\s*\(/g, api: 'subprocess' },
    { re: /\b(pty\s*\.\s*spawn|commands\s*\.\s*getoutput|create_subprocess_(shell|exec))\s*\(/g, api: 'subprocess' },
    { re: /(?<![\w.])(check_output|check_call|getoutput|Popen|system|popen)\s*\(/g, api: 'subprocess' },
  ],
  node: [
    { re: /\b(execSync|execFileSync|spawnSync|exec|execFile|spawn|fork)\s*\(/g, api: 'child_process' },
    { re: /\b(Bun\s*\.\s*spawn(Sync)?|Bun\s*\.\s*\$|new\s+Deno\s*\.\s*Command|Deno\s*\.\s*run)\s*\(?/g, api: 'child_process' },
    { re: /(?<![\w.])\$`/g, api: 'zx' },
  ],
  perl: [
    { re: /\b(system|exec)\b\s*\(?/g, api: 'system' },
    { re: /\bqx\s*[({[/|!]/g, api: 'qx' },
    { re: /`/g, api: 'backticks' },
    { re: /\bopen\s*\(?[^;]{0,200}?["']\s*\|/g, api: 'open|' },
    { re: /\bopen\s*\(?[^;]{0,200}?\|\s*["']/g, api: 'open|' },
  ],
  ruby: [
    { re: /\b(system|exec|spawn|syscall)\b\s*\(?/g, api: 'system' },
    { re: /%x\s*[({[/|!]/g, api: '%x' },
    { re: /`/g, api: 'backticks' },
    { re: /\b(IO\s*\.\s*popen|Open3\s*\.\s*\w+|Process\s*\.\s*spawn|PTY\s*\.\s*spawn)\s*\(?/g, api: 'popen' },
  ],
  php: [
    { re: /\b(system|exec|shell_exec|passthru|proc_open|popen|pcntl_exec)\s*\(/g, api: 'system' },
    { re: /`/g, api: 'backticks' },
  ],
  lua: [{ re: /\b(os\s*\.\s*execute|io\s*\.\s*popen)\s*\(/g, api: 'os.execute' }],
  awk: [
    { re: /\bsystem\s*\(/g, api: 'system' },
    { re: /\|\s*(?=")/g, api: 'print |' },
    { re: /"\s*\|\s*getline/g, api: 'getline' },
  ],
  r: [{ re: /\b(system2?|shell)\s*\(/g, api: 'system' }],
};

const WRITE: Partial<Record<Lang, ApiSpec[]>> = {
  python: [
    { re: /\bopen\s*\([^)]{0,200}?,\s*(mode\s*=\s*)?['"][^'"]{0,8}[wax+][^'"]{0,8}['"]/g, api: 'open(w)' },
    { re: /\.\s*(write_text|write_bytes|symlink_to|hardlink_to|unlink|chmod|rename|replace|touch)\s*\(/g, api: 'Path.write' },
    { re: /\b(os\s*\.\s*(remove|unlink|rename|replace|symlink|link|chmod|truncate)|shutil\s*\.\s*(copy\w*|move))\s*\(/g, api: 'os.write' },
  ],
  node: [{ re: /\b(writeFile|appendFile|createWriteStream|copyFile|cp|rename|symlink|link|unlink|chmod|truncate|writeTextFile|outputFile)(Sync)?\s*\(/g, api: 'fs.writeFile' }, { re: /\bBun\s*\.\s*write\s*\(/g, api: 'Bun.write' }],
  perl: [{ re: /\bopen\s*\(?[^;]{0,200}?['"]\s*\+?(>>?|\+<)/g, api: 'open(>)' }, { re: /\b(unlink|rename|symlink|link|chmod)\b\s*\(?/g, api: 'unlink' }],
  ruby: [{ re: /\b(File\s*\.\s*(write|open|delete|unlink|rename|symlink|chmod)|FileUtils\s*\.\s*(cp|mv|ln_s|ln|touch|install|chmod))\b\s*\(?/g, api: 'File.write' }],
  php: [{ re: /\b(file_put_contents|fopen|unlink|rename|symlink|chmod|copy)\s*\(/g, api: 'file_put_contents' }],
  lua: [{ re: /\bio\s*\.\s*open\s*\([^)]{0,200}?['"][wa]/g, api: 'io.open' }],
  awk: [{ re: />\s*"/g, api: 'print >' }],
};

const COMPUTED_HINTS = /\b(expanduser|expandvars|homedir|Path\s*\.\s*home|os\s*\.\s*environ|getenv|process\s*\.\s*env|ENV\s*\[|\$ENV\s*\{|Dir\s*\.\s*home|os\s*\.\s*getcwd|process\s*\.\s*cwd|__dirname|__file__|glob\s*\(|sys\s*\.\s*argv|process\s*\.\s*argv|ARGV|input\s*\()/;

/** String literals in a piece of code, with simple escapes resolved. */
export function stringLiterals(code: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(code)) !== null) {
    const s = m[1] ?? m[2] ?? m[3] ?? '';
    out.push(s.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c)));
  }
  return out;
}

/** The argument text of a call starting at `from` (just after the API name): balanced (...) or up to `;`/newline. */
function argumentText(code: string, from: number): string {
  let i = from;
  while (i < code.length && /\s/.test(code[i] as string)) i++;
  const open = code[i];
  const closeOf: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  if (open !== undefined && open in closeOf) {
    const close = closeOf[open] as string;
    let depth = 0;
    let quote: string | null = null;
    for (let j = i; j < code.length && j < i + 20000; j++) {
      const c = code[j] as string;
      if (quote !== null) {
        if (c === '\\') j++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '"' || c === "'" || c === '`') quote = c;
      else if (c === open) depth++;
      else if (c === close) {
        depth--;
        if (depth === 0) return code.slice(i + 1, j);
      }
    }
    return code.slice(i + 1, i + 20000);
  }
  const window = code.slice(i, i + 2000);
  const end = window.search(/[;\n]/);
  return end < 0 ? window : window.slice(0, end);
}

function calls(code: string, specs: ApiSpec[] | undefined, kind: 'delete' | 'shell' | 'write', check: () => void): CodeCall[] {
  const out: CodeCall[] = [];
  if (specs === undefined) return out;
  for (const spec of specs) {
    check();
    spec.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let guard = 0;
    while ((m = spec.re.exec(code)) !== null && guard++ < 200) {
      if ((guard & 15) === 0) check();
      const at = m.index + m[0].length;
      let args: string;
      if (spec.api === 'backticks' || spec.api === 'zx') {
        const end = code.indexOf('`', at);
        if (end < 0) continue;
        args = `"${code.slice(at, end)}"`;
        spec.re.lastIndex = end + 1;
      } else if (spec.api === 'qx' || spec.api === '%x') {
        const open = code[at - 1] as string;
        const close = ({ '(': ')', '{': '}', '[': ']' } as Record<string, string>)[open] ?? open;
        const end = code.indexOf(close, at);
        args = `"${code.slice(at, end < 0 ? undefined : end)}"`;
      } else if (spec.api === 'print |' || spec.api === 'getline') {
        const lits = stringLiterals(code.slice(spec.api === 'getline' ? Math.max(0, code.lastIndexOf('"', m.index - 1) - 2000) : at, spec.api === 'getline' ? m.index + 1 : at + 4000));
        const lit = spec.api === 'getline' ? lits[lits.length - 1] : lits[0];
        out.push({ api: spec.api, literals: lit === undefined ? [] : [lit], computed: lit === undefined, argvList: false });
        continue;
      } else if (m[0].includes('(')) {
        args = argumentText(code, m.index + m[0].indexOf('('));
      } else {
        args = argumentText(code, at);
      }
      const literals = stringLiterals(args);
      const stripped = args.replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, '');
      const hasIdentifier = /[A-Za-z_$][\w$]*/.test(stripped.replace(/\b(shell|check|text|capture_output|encoding|stdout|stderr|cwd|env|input|True|False|true|false|null|None|recursive|force|ignore_errors|stdio|maxRetries|retryDelay|universal_newlines|timeout|sync|utf-?8|inherit|pipe|PIPE|subprocess|DEVNULL|STDOUT|lambda|\w+\s*=)\b/g, ''));
      const computed = literals.length === 0 || COMPUTED_HINTS.test(args) || (kind !== 'write' && hasIdentifier && /[+%]|\bformat\b|\$\{|\bf["']/.test(args)) || (kind === 'delete' && hasIdentifier && literals.every((l) => !l.includes('/') && l !== '.' && l !== '~'));
      const argvList = kind === 'shell' && /^\s*[[(]/.test(args) && literals.length > 1;
      out.push({ api: spec.api, literals, computed, argvList });
    }
  }
  return out;
}

/** Longest inline program scanned; a longer one is not judged (the caller denies it). */
export const MAX_CODE_LENGTH = 128 * 1024;

/**
 * Scans an inline program. `check` is called between the scans (and may throw to stop at a time
 * budget). Programs longer than MAX_CODE_LENGTH are not scanned: the caller must not allow them.
 */
export function analyzeCode(lang: Lang, code: string, check: () => void = () => undefined): CodeFacts {
  if (code.length > MAX_CODE_LENGTH) throw new RangeError(`an inline program longer than ${MAX_CODE_LENGTH} characters`);
  const src = code;
  const forkBomb =
    /\bfork\s+while\s+fork\b/.test(src) ||
    /while\s*(\(\s*(1|true)\s*\)|\s+(True|1|true)\s*:?)[^]{0,80}?\bfork\s*\(/i.test(src) ||
    /\bloop\s*\{[^}]{0,200}\bfork\b/.test(src) ||
    /(os\.fork\(\)[^]{0,40}){3,}/.test(src);
  check();
  const deletes = calls(src, DELETE[lang], 'delete', check);
  const shellOuts = calls(src, SHELL[lang], 'shell', check);
  const writes = calls(src, WRITE[lang], 'write', check);
  return { deletes, shellOuts, writes, forkBomb };
}

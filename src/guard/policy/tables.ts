/**
 * Command tables: which names are shells, interpreters, downloaders, decoders, wrappers.
 * One place to edit when a new tool appears.
 */

export const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'yash', 'rbash', 'posh', 'fish', 'csh', 'tcsh', 'oksh', 'loksh', 'busybox-sh']);

export type Lang = 'python' | 'node' | 'perl' | 'ruby' | 'php' | 'lua' | 'awk' | 'r';

export function interpreterLang(name: string): Lang | null {
  if (/^(python|pypy)(\d+(\.\d+)*)?$/.test(name)) return 'python';
  if (name === 'node' || name === 'nodejs' || name === 'bun' || name === 'deno' || name === 'tsx' || name === 'ts-node') return 'node';
  if (/^perl(\d+(\.\d+)*)?$/.test(name)) return 'perl';
  if (/^ruby(\d+(\.\d+)*)?$/.test(name) || name === 'jruby') return 'ruby';
  if (/^php(\d+(\.\d+)*)?$/.test(name)) return 'php';
  if (/^lua(jit|\d+(\.\d+)*)?$/.test(name)) return 'lua';
  if (name === 'awk' || name === 'gawk' || name === 'mawk' || name === 'nawk' || name === 'busybox-awk') return 'awk';
  if (name === 'Rscript') return 'r';
  return null;
}

/** Flags that take the inline program for each interpreter. */
export const CODE_FLAGS: Record<Lang, readonly string[]> = {
  python: ['-c'],
  node: ['-e', '--eval', '-p', '--print', 'eval'],
  perl: ['-e', '-E'],
  ruby: ['-e'],
  php: ['-r'],
  lua: ['-e'],
  awk: [],
  r: ['-e'],
};

export const DOWNLOADERS = new Set(['curl', 'wget', 'fetch', 'aria2c', 'http', 'https', 'xh', 'xhs', 'lynx', 'links', 'w3m', 'nc', 'ncat', 'netcat', 'socat', 'ftp', 'tftp', 'scp', 'sftp', 'rsync', 'gh', 'telnet']);

/** Commands whose output is their input decoded (base64, hex, compression). */
export function isDecoder(name: string, args: readonly string[]): boolean {
  const has = (...f: string[]): boolean => args.some((a) => f.includes(a) || (/^-[a-zA-Z]+$/.test(a) && f.some((x) => x.length === 2 && a.includes(x[1] as string))));
  switch (name) {
    case 'base64': case 'base32': case 'basenc': case 'gbase64':
      return args.some((a) => a === '-d' || a === '--decode' || a === '-D' || (/^-[a-zA-Z]+$/.test(a) && /[dD]/.test(a)));
    case 'xxd': return has('-r') || args.includes('-revert');
    case 'uudecode': case 'zcat': case 'gunzip': case 'bzcat': case 'bunzip2': case 'xzcat': case 'unxz': case 'zstdcat': case 'unzstd': case 'lz4cat': case 'unlzma': case 'lzcat':
      return true;
    case 'gzip': case 'bzip2': case 'xz': case 'zstd': case 'lz4': case 'brotli': case 'lzma':
      return has('-d') || args.includes('--decompress') || args.includes('--uncompress');
    case 'openssl':
      return args.includes('-d') || args[0] === 'base64' || args[0] === 'enc';
    case 'rev': case 'tr': case 'od': case 'hexdump': case 'iconv': case 'recode':
      return name === 'rev' || name === 'tr';
    default:
      return false;
  }
}

/**
 * Generators whose output is routinely eval'ed to set up a shell (`eval "$(ssh-agent -s)"`).
 * Feeding their output to a shell is allowed; any other generated text is not.
 */
export const ENV_SETUP = new Set([
  'ssh-agent', 'gpg-agent', 'keychain', 'dbus-launch', 'direnv', 'pyenv', 'rbenv', 'nodenv', 'jenv', 'goenv', 'plenv', 'phpenv',
  'brew', 'conda', 'mamba', 'micromamba', 'opam', 'dircolors', 'starship', 'zoxide', 'fnm', 'mise', 'rtx', 'asdf', 'luarocks',
  'thefuck', 'resize', 'tset', 'locale', 'register-python-argcomplete', 'kubectl', 'helm', 'gh', 'rustup', 'npm', 'pnpm', 'poetry',
  'pipenv', 'uv', 'nvm', 'volta', 'atuin', 'mcfly', 'oh-my-posh', 'fzf', 'broot', 'just', 'task', 'deno', 'bun', 'docker', 'minikube',
  'kind', 'aws', 'gcloud', 'az', 'terraform', 'ng', 'pip', 'rye', 'hatch', 'pdm', 'stack', 'ghcup', 'sdk', 'cargo',
]);

/** Commands that only pass their stdin through (possibly filtered): the flow keeps its kind. */
export const PASS_THROUGH = new Set(['cat', 'tee', 'head', 'tail', 'sort', 'uniq', 'grep', 'egrep', 'fgrep', 'rg', 'less', 'more', 'dos2unix', 'unix2dos', 'cut', 'fold', 'fmt', 'col', 'expand', 'unexpand', 'nl', 'stdbuf', 'pv', 'buffer', 'mbuffer']);

export const DB_CLIENTS = new Set(['psql', 'mysql', 'mariadb', 'sqlite3', 'sqlite', 'sqlcmd', 'clickhouse-client', 'clickhouse', 'duckdb', 'cqlsh', 'cockroach', 'pgcli', 'mycli', 'litecli', 'usql', 'snowsql', 'bq', 'trino', 'presto', 'isql', 'db2', 'sqlplus', 'mongosh', 'mongo']);

export const DISK_TOOLS = new Set(['mkfs', 'mke2fs', 'mkswap', 'wipefs', 'blkdiscard', 'fdisk', 'sfdisk', 'cfdisk', 'gdisk', 'sgdisk', 'cgdisk', 'parted', 'hdparm', 'sg_format', 'nvme', 'cryptsetup', 'zpool', 'pvcreate', 'vgremove', 'lvremove', 'mdadm', 'badblocks', 'e2fsck', 'fsck', 'tune2fs', 'resize2fs']);

/** Warn-class commands (allowed, logged). */
export const WARN_SUBCOMMANDS: Record<string, readonly string[]> = {
  kubectl: ['delete', 'drain'],
  oc: ['delete'],
  helm: ['uninstall', 'delete', 'del', 'un'],
  terraform: ['destroy'],
  tofu: ['destroy'],
  terragrunt: ['destroy', 'run-all'],
  pulumi: ['destroy', 'down'],
  cdk: ['destroy'],
  serverless: ['remove'],
  sls: ['remove'],
  eksctl: ['delete'],
  gcloud: ['delete'],
  aws: ['delete-stack', 'rb', 'terminate-instances', 'delete-db-instance', 'delete-bucket'],
  docker: ['system', 'volume'],
  dropdb: [''],
};

export const SQL_DANGER: readonly { re: RegExp; what: string }[] = [
  { re: /\bDROP\s+(TABLE|DATABASE|SCHEMA|KEYSPACE|COLLECTION)\b/i, what: 'DROP TABLE/DATABASE' },
  { re: /\bTRUNCATE\s+(TABLE\s+)?[`"\w]/i, what: 'TRUNCATE TABLE' },
  { re: /\bDELETE\s+FROM\s+[`"\w.]+\s*(;|$|\bWHERE\s+(1\s*=\s*1|TRUE|'1'\s*=\s*'1')\b)/im, what: 'DELETE FROM without a real WHERE clause' },
  { re: /\.drop\(\)|dropDatabase\(\)/, what: 'drop()' },
];

/**
 * Commands that run another command given to them: as their remaining arguments (`nice rm -rf /`),
 * as shell source in an option (`su -c '…'`, `script -qc '…'`) or in their operands (`watch 'rm …'`).
 * The guard analyses that command like any other; a new runner is one row here.
 *
 * - `kind`: what the operands after the options are: `argv` a command and its arguments, `script`
 *   shell source (joined), `scripts` one shell command per operand, `none` no command;
 * - `short`/`long`: options that take a value (so the value is not taken for the command);
 * - `skip`: operands before the command (timeout's DURATION, chroot's NEWROOT, flock's lock file);
 * - `scriptOpts`: options whose value is shell source (recognised wherever they stand);
 * - `permute`: options may follow operands (`su user -c '…'`);
 * - `privileged`: runs as another user or with privileges: the sudo rule applies;
 * - `handler`: a dedicated part of the analyzer follows this one (it needs more than the above:
 *   reading stdin, per-subcommand options, substituting `{}`); the row lists it so that this table is
 *   the complete list.
 */
export interface Runner {
  kind: 'argv' | 'script' | 'scripts' | 'none';
  short?: string;
  long?: readonly string[];
  /** `nice -10 cmd`: a numeric option. */
  numericOpt?: boolean;
  skip?: number;
  scriptOpts?: readonly string[];
  permute?: boolean;
  privileged?: boolean;
  handler?: string;
}

export const RUNNERS: Readonly<Record<string, Runner>> = {
  // privilege
  sudo: { kind: 'argv', handler: 'sudo', privileged: true },
  doas: { kind: 'argv', handler: 'sudo', privileged: true },
  pkexec: { kind: 'argv', handler: 'sudo', privileged: true },
  run0: { kind: 'argv', handler: 'sudo', privileged: true },
  sudoedit: { kind: 'none', handler: 'sudo', privileged: true },
  su: { kind: 'none', short: 'sgGw', long: ['--shell', '--group', '--supp-group', '--whitelist-environment'], scriptOpts: ['-c', '--command', '--session-command'], permute: true, privileged: true },
  runuser: { kind: 'none', handler: 'runuser', short: 'sgGwu', long: ['--shell', '--group', '--supp-group', '--whitelist-environment', '--user'], scriptOpts: ['-c', '--command', '--session-command'], permute: true, privileged: true },
  sg: { kind: 'script', skip: 1, scriptOpts: ['-c'], permute: true, privileged: true },
  setpriv: { kind: 'argv', long: ['--reuid', '--regid', '--ruid', '--euid', '--rgid', '--egid', '--groups', '--inh-caps', '--ambient-caps', '--bounding-set', '--securebits', '--pdeathsig', '--selinux-label', '--apparmor-profile', '--landlock-access', '--landlock-rule'], privileged: true },
  capsh: { kind: 'none', handler: 'capsh', privileged: true },
  // wrappers: the rest of the line is the command
  env: { kind: 'argv', handler: 'env' },
  command: { kind: 'argv', handler: 'command' },
  builtin: { kind: 'argv' },
  exec: { kind: 'argv', short: 'a' },
  nice: { kind: 'argv', short: 'n', long: ['--adjustment'], numericOpt: true },
  ionice: { kind: 'argv', short: 'cnpPu', long: ['--class', '--classdata', '--pid', '--pgid', '--uid'] },
  nohup: { kind: 'argv' },
  setsid: { kind: 'argv' },
  timeout: { kind: 'argv', short: 'ks', long: ['--kill-after', '--signal'], skip: 1 },
  gtimeout: { kind: 'argv', short: 'ks', long: ['--kill-after', '--signal'], skip: 1 },
  time: { kind: 'argv', short: 'fo', long: ['--format', '--output'] },
  stdbuf: { kind: 'argv', short: 'ioe', long: ['--input', '--output', '--error'] },
  taskset: { kind: 'argv', skip: 1 },
  chrt: { kind: 'argv', skip: 1 },
  chroot: { kind: 'argv', long: ['--userspec', '--groups'], skip: 1 },
  flock: { kind: 'argv', short: 'wE', long: ['--wait', '--timeout', '--conflict-exit-code'], skip: 1, scriptOpts: ['-c', '--command'] },
  strace: { kind: 'argv', short: 'oepsSEIuaPbX', long: ['--output', '--expression', '--attach', '--string-limit', '--user', '--env'] },
  ltrace: { kind: 'argv', short: 'oepsSEIuaPbXnAlLuwx', long: ['--output'] },
  valgrind: { kind: 'argv' },
  busybox: { kind: 'argv' },
  toybox: { kind: 'argv' },
  unbuffer: { kind: 'argv' },
  catchsegv: { kind: 'argv' },
  caffeinate: { kind: 'argv', short: 'tw' },
  chronic: { kind: 'argv' },
  torsocks: { kind: 'argv' },
  proxychains: { kind: 'argv', short: 'f' },
  proxychains4: { kind: 'argv', short: 'f' },
  firejail: { kind: 'argv' },
  bwrap: { kind: 'argv', handler: 'bwrap' },
  unshare: { kind: 'argv', long: ['--map-user', '--map-group', '--map-users', '--map-groups', '--setgroups', '--propagation', '--wd', '--root', '--setuid', '--setgid'] },
  nsenter: { kind: 'argv', short: 'tSGrw', long: ['--target', '--setuid', '--setgid', '--root', '--wd'] },
  fakeroot: { kind: 'argv', short: 'is', long: ['--lib', '--faked'] },
  fakechroot: { kind: 'argv' },
  'dbus-run-session': { kind: 'argv', long: ['--config-file', '--dbus-daemon'] },
  'xvfb-run': { kind: 'argv', short: 'efnpsw', long: ['--error-file', '--server-num', '--xauth-protocol', '--server-args', '--wait', '--auth-file'] },
  cgexec: { kind: 'argv', short: 'g' },
  numactl: { kind: 'argv', short: 'CNmpiP', long: ['--physcpubind', '--cpunodebind', '--membind', '--preferred', '--interleave'] },
  prlimit: { kind: 'argv', short: 'p', long: ['--pid'] },
  rlwrap: { kind: 'argv', short: 'abcCDefFHiIlmnNoOpPqrRsStvwWz' },
  nq: { kind: 'argv' },
  ts: { kind: 'argv' },
  'ssh-agent': { kind: 'argv', short: 'aEPt' },
  'systemd-run': { kind: 'argv', short: 'upEMHd', long: ['--unit', '--property', '--setenv', '--description', '--slice', '--uid', '--gid', '--machine', '--host', '--working-directory', '--nice', '--on-active', '--on-boot', '--on-startup', '--on-unit-active', '--on-unit-inactive', '--on-calendar', '--timer-property', '--path-property', '--socket-property', '--service-type', '--expand-environment'] },
  dtach: { kind: 'argv', short: 'cAnNeEprz', skip: 0 },
  abduco: { kind: 'argv', short: 'cAnNe', skip: 0 },
  // shell source given as an option or as the operands
  script: { kind: 'none', short: 'EIOBTt', long: ['--echo', '--log-in', '--log-out', '--log-io', '--log-timing', '--logging-format', '--output-limit'], scriptOpts: ['-c', '--command'], permute: true },
  watch: { kind: 'script', handler: 'watch', short: 'nqd', long: ['--interval', '--equexit', '--differences'] },
  entr: { kind: 'argv', scriptOpts: ['-s'] },
  nodemon: { kind: 'none', long: ['--watch', '--ext', '--ignore', '--delay', '--signal', '--config'], scriptOpts: ['-x', '--exec'], permute: true },
  concurrently: { kind: 'scripts', short: 'nNcpkPs', long: ['--names', '--name-separator', '--prefix', '--prefix-colors', '--kill-others-on-fail', '--success', '--restart-tries', '--restart-after', '--max-processes'] },
  'nix-shell': { kind: 'none', short: 'pIA', long: ['--packages', '--attr', '--arg', '--argstr'], scriptOpts: ['--run', '--command'], permute: true },
  npx: { kind: 'none', handler: 'computed', scriptOpts: ['-c', '--call'], permute: true },
  trap: { kind: 'none', handler: 'trap' },
  eval: { kind: 'script', handler: 'eval' },
  at: { kind: 'none', handler: 'at' },
  batch: { kind: 'none', handler: 'at' },
  // runners with their own grammar
  xargs: { kind: 'argv', handler: 'xargs' },
  parallel: { kind: 'argv', handler: 'parallel' },
  sem: { kind: 'argv', handler: 'parallel' },
  find: { kind: 'argv', handler: 'find' },
  tmux: { kind: 'script', handler: 'tmux' },
  screen: { kind: 'argv', handler: 'screen' },
  git: { kind: 'none', handler: 'git' },
  sed: { kind: 'none', handler: 'sed' },
  ssh: { kind: 'none', handler: 'ssh' },
  // options of ordinary programs that run a shell command
  tar: { kind: 'none', handler: 'tar', short: 'IF', long: ['--to-command', '--use-compress-program', '--rsh-command', '--info-script', '--new-volume-script'], scriptOpts: ['-I', '-F', '--to-command', '--use-compress-program', '--rsh-command', '--info-script', '--new-volume-script'], permute: true },
  rsync: { kind: 'none', handler: 'copy', scriptOpts: ['-e', '--rsh', '--rsync-path'], permute: true },
  scp: { kind: 'none', scriptOpts: ['-S'], permute: true },
  zip: { kind: 'none', scriptOpts: ['-TT', '--unzip-command'], permute: true },
  sort: { kind: 'none', handler: 'sort', scriptOpts: ['--compress-program'], permute: true },
  split: { kind: 'none', scriptOpts: ['--filter'], permute: true },
  man: { kind: 'none', short: 'MSsLmCe', scriptOpts: ['-P', '--pager', '-H', '--html'], permute: true },
  less: { kind: 'none', handler: 'read' },
  vim: { kind: 'none', handler: 'editor' },
  vi: { kind: 'none', handler: 'editor' },
  nvim: { kind: 'none', handler: 'editor' },
  ex: { kind: 'none', handler: 'editor' },
  view: { kind: 'none', handler: 'editor' },
  ed: { kind: 'none', handler: 'editor' },
};

/**
 * Environment variables whose value a program runs as a command (`GIT_SSH_COMMAND='…' git fetch`)
 * or sources as a script (`BASH_ENV=x.sh bash y.sh`).
 */
export const COMMAND_ENV_VARS = new Set([
  'GIT_SSH_COMMAND', 'GIT_SSH', 'GIT_PAGER', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'GIT_EXTERNAL_DIFF', 'GIT_ASKPASS', 'GIT_PROXY_COMMAND', 'PAGER', 'MANPAGER',
  'EDITOR', 'VISUAL', 'SUDO_EDITOR', 'SYSTEMD_EDITOR', 'SUDO_ASKPASS', 'SSH_ASKPASS', 'LESSOPEN', 'LESSCLOSE', 'BROWSER', 'PROMPT_COMMAND', 'RSYNC_RSH',
  'CVS_RSH', 'FCEDIT', 'TAR_COMPRESS_PROGRAM', 'SYSTEMD_PAGER',
]);
export const SOURCE_ENV_VARS = new Set(['BASH_ENV', 'ENV', 'ZDOTDIR', 'PERL5OPT', 'PYTHONSTARTUP', 'NODE_OPTIONS', 'LD_PRELOAD', 'LD_AUDIT', 'RUBYOPT']);

/**
 * Commands that only read their file operands (or print names): a protected or secret path among
 * their arguments is not a write. Everything else is assumed to possibly write to any path it is given.
 */
export const READ_ONLY = new Set([
  'cat', 'tac', 'less', 'more', 'most', 'head', 'tail', 'grep', 'egrep', 'fgrep', 'rg', 'ag', 'ack', 'wc', 'diff', 'cmp', 'comm', 'file', 'stat', 'ls', 'll', 'dir',
  'tree', 'du', 'df', 'md5sum', 'sha1sum', 'sha224sum', 'sha256sum', 'sha384sum', 'sha512sum', 'b2sum', 'cksum', 'sum', 'od', 'hexdump', 'xxd', 'strings', 'nl',
  'cut', 'column', 'fold', 'fmt', 'pr', 'paste', 'join', 'expand', 'unexpand', 'rev', 'jq', 'yq', 'bat', 'batcat', 'test', '[', 'realpath', 'readlink', 'dirname',
  'basename', 'echo', 'printf', 'true', 'false', ':', 'type', 'which', 'whereis', 'command', 'lsattr', 'getfacl', 'namei', 'id', 'groups', 'getent', 'diff3',
  'colordiff', 'zcat', 'zless', 'zgrep', 'bzcat', 'xzcat', 'tr', 'look', 'locate', 'lsof', 'fuser', 'tput', 'expr', 'seq', 'date', 'sleep', 'wait',
  'exit', 'return', 'shift', 'source', '.',
]);

/**
 * Commands that never read file contents (they show names, sizes, types, or change metadata, or
 * delete): a secret among their operands is not a read. (Writes and deletes are judged on their own.)
 */
export const METADATA_ONLY = new Set([
  'rm', 'rmdir', 'unlink', 'shred', 'srm', 'trash-put', 'mkdir', 'chattr', 'setfacl', 'truncate', 'cd', 'pushd', 'popd', 'kill', 'pkill',
  'ls', 'll', 'dir', 'stat', 'file', 'du', 'df', 'test', '[', 'realpath', 'readlink', 'dirname', 'basename', 'namei', 'lsattr', 'getfacl', 'tree', 'find',
  'locate', 'lsof', 'fuser', 'touch', 'chmod', 'chown', 'chgrp', 'echo', 'printf', 'wc', 'true', 'false', ':', 'type', 'which',
]);

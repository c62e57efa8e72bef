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

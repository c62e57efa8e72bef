#!/usr/bin/env bash
# claude-failover plan for any CI: validate the manifests, then print what the controller would
# change (`reconcile --once --dry-run`), and write a Markdown summary of the plan.
#
#   examples/ci/plan.sh [--detailed-exitcode] [--out DIR] [MANIFESTS...]     (default: manifests)
#
# Safe anywhere: the dry-run starts no tmux server and writes no state; accounts, directories and
# servers named in the manifests need not exist on the CI machine.
#
# Exit codes: 0  manifests valid; plan computed (changes or not)
#             2  manifests valid and the plan has changes (only with --detailed-exitcode)
#             1  invalid manifests, or the plan could not be computed
#
# Files written to --out (default ./claude-failover-plan): validate.json, plan.json (the Plan
# object, formatVersion 1), plan.txt (the terraform-style text), summary.md (Markdown).
# The summary is also appended to $GITHUB_STEP_SUMMARY when set (GitHub Actions), and
# diagnostics become ::error annotations on GitHub.
#
# Environment: CLAUDE_FAILOVER  the command to run (default: claude-failover on PATH), e.g.
#              CLAUDE_FAILOVER="npx --yes claude-failover" or "node /opt/cf/dist/cli/main.js".
#              RECONCILE_ARGS   extra options for reconcile, e.g. "--state-dir /srv/cf/state".
set -euo pipefail

detailed=0
out=claude-failover-plan
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --detailed-exitcode) detailed=1 ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --out=*) out="${1#--out=}" ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "plan.sh: unknown option $1" >&2; exit 1 ;;
    *) paths+=("$1") ;;
  esac
  shift
done
[ ${#paths[@]} -gt 0 ] || paths=(manifests)

read -r -a cf <<< "${CLAUDE_FAILOVER:-claude-failover}"
read -r -a rargs <<< "${RECONCILE_ARGS:-}"
if ! command -v "${cf[0]}" >/dev/null 2>&1; then
  echo "plan.sh: ${cf[0]} not found; install claude-failover or set CLAUDE_FAILOVER" >&2
  exit 1
fi
command -v node >/dev/null 2>&1 || { echo "plan.sh: node is required" >&2; exit 1; }

fargs=()
for p in "${paths[@]}"; do fargs+=(-f "$p"); done
mkdir -p "$out"

# Markdown (and GitHub annotations) from the JSON files; node is there since claude-failover needs it.
render() {
  node - "$out" "${paths[*]}" "$1" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const [out, target, stage] = process.argv.slice(2);
const read = (f) => { try { return fs.readFileSync(path.join(out, f), 'utf8'); } catch { return ''; } };
const esc = (s) => String(s).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const md = [];
if (stage === 'invalid') {
  const v = JSON.parse(read('validate.json') || '{"diagnostics":[]}');
  md.push(`## claude-failover: \`${target}\` is invalid`, '', `${v.diagnostics.length} problem(s); nothing was planned.`, '');
  md.push('| Where | Code | Problem |', '| --- | --- | --- |');
  for (const d of v.diagnostics) {
    md.push(`| \`${esc(d.file)}:${d.line}:${d.col}\` | ${esc(d.code)} | ${esc(d.message)} |`);
    if (process.env.GITHUB_ACTIONS === 'true') {
      const msg = String(d.message).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
      process.stderr.write(`::error file=${d.file},line=${d.line},col=${d.col},title=${d.code}::${msg}\n`);
    }
  }
} else if (stage === 'error') {
  md.push(`## claude-failover: the plan for \`${target}\` failed`, '', '```text', read('plan.err').trim(), '```');
} else {
  const plan = JSON.parse(read('plan.json'));
  const s = plan.summary;
  const sym = { create: '+', update: '~', delete: '-', replace: '-/+' };
  md.push(`## claude-failover plan: \`${target}\``, '');
  md.push(plan.changes.length === 0
    ? '**No changes.** Actual state matches the manifests.'
    : `**Plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy.**`);
  if (plan.revision) md.push('', `Manifests revision \`${plan.revision}\`.`);
  if (plan.changes.length > 0) {
    md.push('', '| | Object | Resource | Why |', '| --- | --- | --- | --- |');
    for (const c of plan.changes) md.push(`| \`${sym[c.action] ?? c.action}\` | ${esc(c.key)} | ${esc(c.resource)} | ${esc(c.reason)} |`);
  }
  if (plan.drift.length > 0) {
    md.push('', '### Drift', '');
    for (const d of plan.drift) md.push(`- **${esc(d.key)}**: ${esc(d.message)}`);
  }
  if (plan.notes.length > 0) {
    md.push('', '### Notes', '');
    for (const n of plan.notes) md.push(`- ${n.level === 'warning' ? '⚠️ ' : ''}${n.key ? `**${esc(n.key)}**: ` : ''}${esc(n.message)}`);
  }
  md.push('', '<details><summary>Text plan</summary>', '', '```text', read('plan.txt').trimEnd(), '```', '', '</details>');
}
const text = `${md.join('\n')}\n`;
fs.writeFileSync(path.join(out, 'summary.md'), text);
if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, text);
JS
}

# 1. validate: schema and cross-references, every problem as FILE:LINE:COL.
set +e
"${cf[@]}" validate "${fargs[@]}" -o json > "$out/validate.json"
vcode=$?
set -e
if [ "$vcode" -ne 0 ]; then
  "${cf[@]}" validate "${fargs[@]}" >&2 || true
  render invalid
  echo "plan.sh: the manifests are invalid (see above); summary in $out/summary.md" >&2
  exit 1
fi
"${cf[@]}" validate "${fargs[@]}"

# 2. the plan, as data and as text. Exit code 2 means "changes present", not failure.
set +e
"${cf[@]}" reconcile --once --dry-run --detailed-exitcode -o json "${fargs[@]}" ${rargs[@]+"${rargs[@]}"} > "$out/plan.json" 2> "$out/plan.err"
pcode=$?
set -e
if [ "$pcode" -ne 0 ] && [ "$pcode" -ne 2 ]; then
  cat "$out/plan.err" >&2
  render error
  echo "plan.sh: reconcile --dry-run failed with exit code $pcode" >&2
  exit 1
fi
"${cf[@]}" reconcile --once --dry-run "${fargs[@]}" ${rargs[@]+"${rargs[@]}"} > "$out/plan.txt" 2>> "$out/plan.err" || true
render plan
cat "$out/plan.txt"
echo "plan.sh: summary in $out/summary.md"

if [ "$pcode" -eq 2 ] && [ "$detailed" -eq 1 ]; then exit 2; fi
exit 0

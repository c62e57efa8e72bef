/**
 * The plain syntax tree the policy walks. Node types are tree-sitter-bash's; the parser adapter
 * (src/guard/parser/) converts the parser's tree into these plain objects, so the policy does not
 * depend on the native or WASM binding.
 */
import type { CfErrorCode } from '../../core/error-codes.js';

export interface SyntaxNode {
  type: string;
  /** Named node (false for punctuation/keyword tokens such as `|`, `&&`, `$(`). */
  named: boolean;
  /** Field name in the parent (`name`, `argument`, `redirect`, `body`, ...), or null. */
  field: string | null;
  /** Source text of the node. */
  text: string;
  children: SyntaxNode[];
  /** The parser inserted this node to recover from an error. */
  missing: boolean;
  /**
   * Set on a root by parsers that know it in O(1) (tree-sitter's `hasError`): the tree contains an
   * ERROR or MISSING node. A root with `errors: true` may come without children (no need to convert
   * a tree that is denied anyway).
   */
  errors?: boolean;
}

/** Limits for one parse: the parser stops (and throws ParseLimitError) past them. */
export interface ParseLimits {
  /** Clock reading (`now()`) after which parsing is abandoned. */
  deadline: number;
  now: () => number;
  /** Most syntax nodes a tree may have; a bigger tree is not converted. */
  maxNodes: number;
}

/** A parse stopped by its limits: the command is too big or too slow to check (the guard denies). */
export class ParseLimitError extends Error {
  readonly code: CfErrorCode = 'CF_ERR_GUARD_BUDGET';
}

/** True when the tree contains an ERROR or MISSING node (the source is not valid shell). */
export function hasSyntaxError(root: SyntaxNode): boolean {
  if (root.errors !== undefined) return root.errors;
  const stack: SyntaxNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop() as SyntaxNode;
    if (n.type === 'ERROR' || n.missing) return true;
    for (const c of n.children) stack.push(c);
  }
  return false;
}

export function namedChildren(n: SyntaxNode): SyntaxNode[] {
  return n.children.filter((c) => c.named);
}

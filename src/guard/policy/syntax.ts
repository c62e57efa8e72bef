/**
 * The plain syntax tree the policy walks. Node types are tree-sitter-bash's; the parser adapter
 * (src/guard/parser/) converts the parser's tree into these plain objects, so the policy does not
 * depend on the native or WASM binding.
 */
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
}

/** True when the tree contains an ERROR or MISSING node (the source is not valid shell). */
export function hasSyntaxError(root: SyntaxNode): boolean {
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

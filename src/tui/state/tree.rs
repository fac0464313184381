//! Step 4's view of the census tree: which nodes are open, where the
//! cursor is (by path, so it survives opening and closing), and the rows
//! that are visible under the filter.

use std::collections::BTreeSet;

use crate::analysis::{CallTree, NodeKind, TreeNode};

/// One visible row of the tree.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The node.
    pub node: &'a TreeNode,
    /// Depth (root = 0).
    pub depth: usize,
    /// Whether its children are shown.
    pub open: bool,
}

impl<'a> Row<'a> {
    /// The node's key: its path (`""` for the root).
    pub fn key(&self) -> &'a str {
        &self.node.path
    }
}

/// Open nodes and the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// Paths of open nodes (the root, `""`, is open at first).
    pub open: BTreeSet<String>,
    /// Path of the node under the cursor.
    pub cursor: String,
    /// Patterns typed by hand for the cursor node (`e`), replacing its own.
    pub edited: Option<(String, Vec<String>)>,
}

impl Default for Drill {
    fn default() -> Drill {
        Drill {
            open: BTreeSet::from([String::new()]),
            cursor: String::new(),
            edited: None,
        }
    }
}

fn subtree_matches(node: &TreeNode, filter: &str) -> bool {
    node.path.to_lowercase().contains(filter)
        || node.children.iter().any(|c| subtree_matches(c, filter))
}

impl Drill {
    /// The visible rows: open nodes' children, or under a filter every node
    /// whose subtree has a path containing it (case-insensitive).
    pub fn rows<'a>(&self, tree: &'a CallTree, filter: &str) -> Vec<Row<'a>> {
        let filter = filter.to_lowercase();
        let mut rows = Vec::new();
        let mut stack = vec![(&tree.root, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            if !filter.is_empty() && depth > 0 && !subtree_matches(node, &filter) {
                continue;
            }
            let open = !node.children.is_empty()
                && (self.open.contains(&node.path)
                    || (!filter.is_empty() && !node.path.to_lowercase().contains(&filter)));
            rows.push(Row { node, depth, open });
            if open {
                for child in node.children.iter().rev() {
                    stack.push((child, depth + 1));
                }
            }
        }
        rows
    }

    /// Index of the cursor among `rows` (0 when it is not visible).
    pub fn cursor_index(&self, rows: &[Row<'_>]) -> usize {
        rows.iter()
            .position(|r| r.key() == self.cursor)
            .unwrap_or(0)
    }

    /// Moves the cursor by `delta` rows, clamped.
    pub fn move_by(&mut self, tree: &CallTree, filter: &str, delta: isize) {
        let rows = self.rows(tree, filter);
        if rows.is_empty() {
            return;
        }
        let at = self.cursor_index(&rows) as isize;
        let to = (at + delta).clamp(0, rows.len() as isize - 1) as usize;
        self.cursor = rows[to].key().to_owned();
    }

    /// Moves the cursor to the first or last row.
    pub fn move_to_end(&mut self, tree: &CallTree, filter: &str, last: bool) {
        let rows = self.rows(tree, filter);
        let row = if last { rows.last() } else { rows.first() };
        if let Some(row) = row {
            self.cursor = row.key().to_owned();
        }
    }

    /// Right / `l`: open the node; if already open, go to its first child.
    pub fn right(&mut self, tree: &CallTree) {
        let Some(node) = tree.find(&self.cursor) else {
            return;
        };
        if node.children.is_empty() {
            return;
        }
        if self.open.insert(self.cursor.clone()) {
            return;
        }
        if let Some(first) = node.children.first() {
            self.cursor = first.path.clone();
        }
    }

    /// Left / `h`: close the node; if closed (or a leaf), go to its parent.
    pub fn left(&mut self, tree: &CallTree, filter: &str) {
        let has_children = tree
            .find(&self.cursor)
            .is_some_and(|n| !n.children.is_empty());
        if has_children && self.open.remove(&self.cursor) {
            return;
        }
        let rows = self.rows(tree, filter);
        let at = self.cursor_index(&rows);
        let depth = rows.get(at).map_or(0, |r| r.depth);
        if let Some(parent) = rows[..at].iter().rev().find(|r| r.depth + 1 == depth) {
            self.cursor = parent.key().to_owned();
        }
    }

    /// Enter: open or close the node.
    pub fn toggle(&mut self, tree: &CallTree) {
        let has_children = tree
            .find(&self.cursor)
            .is_some_and(|n| !n.children.is_empty());
        if has_children && !self.open.remove(&self.cursor) {
            self.open.insert(self.cursor.clone());
        }
    }

    /// The patterns for the cursor node: typed by hand, or the node's own.
    pub fn patterns(&self, tree: &CallTree) -> Vec<String> {
        if let Some((path, patterns)) = &self.edited {
            if *path == self.cursor {
                return patterns.clone();
            }
        }
        tree.find(&self.cursor)
            .map(|n| n.patterns.clone())
            .unwrap_or_else(|| vec!["*:*".into()])
    }
}

/// How a node is labelled in the tree and in candidate lists.
pub fn node_label(node: &TreeNode) -> String {
    match node.kind {
        NodeKind::Root => "*:* (everything)".into(),
        _ => node.name.clone(),
    }
}

/// A short tag for a node's kind.
pub fn kind_tag(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Root => "all",
        NodeKind::Package => "pkg",
        NodeKind::Module => "mod",
        NodeKind::Class => "cls",
        NodeKind::Function => "fn",
    }
}

/// The key of a ranking of `node`'s children (`*` for the root), as
/// [`RankResult::under`](crate::experiment::RankResult) says.
pub fn under_key(path: &str) -> String {
    if path.is_empty() {
        "*".into()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::CensusEntry;

    fn tree() -> CallTree {
        let e = |name: &str, calls| CensusEntry {
            name: name.into(),
            calls,
            injected_ns: 0,
            own_ns: 0,
        };
        CallTree::from_census(&[
            e("__main__:prepare_inputs", 300),
            e("__main__:schedule", 200),
            e("pkg.sub:C.f", 50),
        ])
    }

    #[test]
    fn keyboard_reaches_a_function_from_the_root() {
        let t = tree();
        let mut d = Drill::default();
        assert_eq!(d.rows(&t, "").len(), 3); // root, __main__, pkg
        d.move_by(&t, "", 1);
        assert_eq!(d.cursor, "__main__");
        d.right(&t);
        d.right(&t);
        assert_eq!(d.cursor, "__main__:prepare_inputs");
        d.left(&t, "");
        assert_eq!(d.cursor, "__main__");
        d.left(&t, "");
        assert_eq!(d.rows(&t, "").len(), 3);
        d.move_by(&t, "", 100);
        assert_eq!(d.cursor, "pkg");
    }

    #[test]
    fn filter_shows_matches_with_their_ancestors() {
        let t = tree();
        let d = Drill::default();
        let keys: Vec<&str> = d.rows(&t, "C.F").iter().map(|r| r.key()).collect();
        assert_eq!(keys, ["", "pkg", "pkg.sub", "pkg.sub:C", "pkg.sub:C.f"]);
    }
}

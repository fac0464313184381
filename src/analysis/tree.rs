//! Discovery: the tree of functions a census saw, and the pattern that
//! selects any node's subtree (ARCHITECTURE.md, "Drill-down").
//!
//! A census is a window with `*:*` at delay 0: every Python function that ran,
//! as `module:qualname`, with its call count. The tree is
//!
//! ```text
//! root → package → … → module → class → … → function → (<locals>) function
//! ```
//!
//! Module names split on dots (`vllm.worker.model_runner`); a module node
//! with submodules is a *package* (its own `__init__` code sits beside
//! them). Qualnames split on dots; a `<locals>` segment is not a node: what
//! follows it is nested in the function before it (`f.<locals>.g` is `g`
//! inside `f`). A code node with direct (non-`<locals>`) children is a
//! *class*, otherwise a *function*. `__mp_main__` (multiprocessing spawn
//! children) is merged into `__main__`, as the hook matches it.
//!
//! Every node carries its calls summed over its subtree, and the patterns
//! that select exactly its subtree:
//!
//! | node | patterns |
//! |---|---|
//! | root | `*:*` |
//! | package `pkg` | `pkg.*:*` (a trailing `.*` also matches `pkg` itself) |
//! | module `pkg.mod` | `pkg.mod:*` |
//! | class `pkg.mod:C` | `pkg.mod:C.*`, plus `pkg.mod:C` when the census saw the class body run |
//! | function `pkg.mod:f` | `pkg.mod:f`, plus `pkg.mod:f.<locals>.*` when it has nested functions |
//!
//! Decision on class bodies: `C.*` does not match the body's own code
//! (qualname `C`, run once at import); the census counts it under the class,
//! so the class node adds `pkg.mod:C` to stay exact. Its single call at
//! import changes nothing in a measurement. Glob characters in names are
//! escaped ([`escape_glob`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One function seen by a census.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusEntry {
    /// `module:qualname`, e.g. `vllm.worker.model_runner:ModelRunner.execute_model`.
    pub name: String,
    /// Calls counted in the census window.
    pub calls: u64,
    /// Injected delay, nanoseconds (0 in a census at delay 0).
    #[serde(default)]
    pub injected_ns: u64,
    /// Own time, nanoseconds: time inside the pattern it matched, entered
    /// through it (0 unless the census asked for own time; docs/ranking.md).
    #[serde(default)]
    pub own_ns: u64,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Everything.
    Root,
    /// A module with submodules.
    Package,
    /// A module without submodules.
    Module,
    /// A qualname prefix with members.
    Class,
    /// A function (or method, lambda, generator, module body `<module>`).
    Function,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// What it is.
    pub kind: NodeKind,
    /// Its own segment: `model_runner`, `ModelRunner`, `execute_model`.
    pub name: String,
    /// Full name: the dotted module (`vllm.worker`) for packages and
    /// modules, `module:qualname` for classes and functions, empty for the
    /// root.
    pub path: String,
    /// Calls in the whole subtree.
    pub calls: u64,
    /// Calls of this node's own code (a function's, a class body's), when
    /// the census saw it run; `None` for packages, modules and classes
    /// seen only through their members.
    pub own_calls: Option<u64>,
    /// Injected delay in the whole subtree, nanoseconds.
    pub injected_ns: u64,
    /// Census entries in the whole subtree.
    pub functions: usize,
    /// Whether this node hangs below a `<locals>` segment of its parent.
    pub via_locals: bool,
    /// Patterns (target-file lines) that select exactly this subtree.
    pub patterns: Vec<String>,
    /// Children, by calls (descending), then name.
    pub children: Vec<TreeNode>,
}

/// A node offered as the next thing to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The node's path (see [`TreeNode::path`]).
    pub label: String,
    /// The node's kind.
    pub kind: NodeKind,
    /// Patterns selecting exactly its subtree.
    pub patterns: Vec<String>,
    /// Calls in its subtree during the census.
    pub calls: u64,
    /// Its share of its parent's calls (0 to 1).
    pub share: f64,
    /// Census entries in its subtree.
    pub functions: usize,
}

/// The tree built from a census.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallTree {
    /// The root (`*:*`).
    pub root: TreeNode,
    /// Census entries that were not `module:qualname` and were skipped.
    pub skipped: usize,
    /// Calls of those entries: mostly `<other>`, the functions a full
    /// function table could not name. Not in the tree, but never dropped
    /// silently ([`crate::report::text::census_other`] says how many).
    #[serde(default)]
    pub other_calls: u64,
}

#[derive(Default)]
struct Builder {
    own: Option<(u64, u64)>,
    modules: BTreeMap<String, Builder>,
    code: BTreeMap<String, Builder>,
    locals: BTreeMap<String, Builder>,
}

impl Builder {
    fn add_own(&mut self, calls: u64, injected_ns: u64) {
        let (c, i) = self.own.unwrap_or((0, 0));
        self.own = Some((c.saturating_add(calls), i.saturating_add(injected_ns)));
    }
}

/// Escapes glob characters so that `name` matches only itself: `*`, `?`
/// and `[` become one-character classes (`[*]`); characters the grammar
/// cannot hold at all (`#`, `:`, whitespace) become `?` (any one
/// character), which is exact in practice.
pub fn escape_glob(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[') {
            out.push('[');
            out.push(c);
            out.push(']');
        } else if c == '#' || c == ':' || c.is_whitespace() {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn finish_code(
    module: &str,
    qualname: String,
    name: String,
    via_locals: bool,
    b: Builder,
) -> TreeNode {
    let kind = if b.code.is_empty() {
        NodeKind::Function
    } else {
        NodeKind::Class
    };
    let (m, q) = (escape_glob(module), escape_glob(&qualname));
    let mut patterns = Vec::new();
    if b.own.is_some() {
        patterns.push(format!("{m}:{q}"));
    }
    if !b.code.is_empty() {
        patterns.push(format!("{m}:{q}.*"));
    } else if !b.locals.is_empty() {
        patterns.push(format!("{m}:{q}.<locals>.*"));
    }
    let mut children: Vec<TreeNode> = b
        .code
        .into_iter()
        .map(|(n, c)| finish_code(module, format!("{qualname}.{n}"), n, false, c))
        .collect();
    children.extend(
        b.locals
            .into_iter()
            .map(|(n, c)| finish_code(module, format!("{qualname}.<locals>.{n}"), n, true, c)),
    );
    node(
        kind,
        name,
        format!("{module}:{qualname}"),
        via_locals,
        patterns,
        b.own,
        children,
    )
}

fn finish_module(module: String, name: String, b: Builder) -> TreeNode {
    let kind = if b.modules.is_empty() {
        NodeKind::Module
    } else {
        NodeKind::Package
    };
    let m = escape_glob(&module);
    let patterns = vec![if kind == NodeKind::Package {
        format!("{m}.*:*")
    } else {
        format!("{m}:*")
    }];
    let mut children: Vec<TreeNode> = b
        .modules
        .into_iter()
        .map(|(n, c)| finish_module(format!("{module}.{n}"), n, c))
        .collect();
    children.extend(
        b.code
            .into_iter()
            .map(|(n, c)| finish_code(&module, n.clone(), n, false, c)),
    );
    node(kind, name, module, false, patterns, b.own, children)
}

fn node(
    kind: NodeKind,
    name: String,
    path: String,
    via_locals: bool,
    patterns: Vec<String>,
    own: Option<(u64, u64)>,
    mut children: Vec<TreeNode>,
) -> TreeNode {
    children.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
    let (own_calls, own_injected) = own.unwrap_or((0, 0));
    TreeNode {
        kind,
        name,
        path,
        own_calls: own.map(|(c, _)| c),
        calls: children
            .iter()
            .fold(own_calls, |s, c| s.saturating_add(c.calls)),
        injected_ns: children
            .iter()
            .fold(own_injected, |s, c| s.saturating_add(c.injected_ns)),
        functions: children.iter().map(|c| c.functions).sum::<usize>() + usize::from(own.is_some()),
        via_locals,
        patterns,
        children,
    }
}

impl TreeNode {
    /// This node's children as candidates, by calls (descending).
    pub fn candidates(&self) -> Vec<Candidate> {
        self.children
            .iter()
            .map(|c| Candidate {
                label: c.path.clone(),
                kind: c.kind,
                patterns: c.patterns.clone(),
                calls: c.calls,
                share: if self.calls > 0 {
                    c.calls as f64 / self.calls as f64
                } else {
                    0.0
                },
                functions: c.functions,
            })
            .collect()
    }
}

impl CallTree {
    /// Builds the tree from census entries (duplicates are summed; entries
    /// without `:` or with an empty side are skipped and counted).
    pub fn from_census(entries: &[CensusEntry]) -> CallTree {
        let mut root = Builder::default();
        let mut skipped = 0;
        let mut other_calls = 0u64;
        for entry in entries {
            let Some((module, qualname)) = entry.name.split_once(':') else {
                skipped += 1;
                other_calls = other_calls.saturating_add(entry.calls);
                continue;
            };
            let module = if module == "__mp_main__" {
                "__main__"
            } else {
                module
            };
            if module.is_empty() || qualname.is_empty() || module.split('.').any(str::is_empty) {
                skipped += 1;
                other_calls = other_calls.saturating_add(entry.calls);
                continue;
            }
            let mut at = &mut root;
            for segment in module.split('.') {
                at = at.modules.entry(segment.to_owned()).or_default();
            }
            let mut via_locals = false;
            for segment in qualname.split('.') {
                if segment == "<locals>" {
                    via_locals = true;
                    continue;
                }
                let map = if via_locals {
                    &mut at.locals
                } else {
                    &mut at.code
                };
                at = map.entry(segment.to_owned()).or_default();
                via_locals = false;
            }
            at.add_own(entry.calls, entry.injected_ns);
        }
        let children: Vec<TreeNode> = root
            .modules
            .into_iter()
            .map(|(n, b)| finish_module(n.clone(), n, b))
            .collect();
        let root = node(
            NodeKind::Root,
            String::new(),
            String::new(),
            false,
            vec!["*:*".into()],
            None,
            children,
        );
        CallTree {
            root,
            skipped,
            other_calls,
        }
    }

    /// The node at `path`: `""` for the root, a dotted module (`vllm.worker`)
    /// or `module:qualname` (`pkg.mod:Class.method`, `pkg.mod:f.<locals>.g`).
    pub fn find(&self, path: &str) -> Option<&TreeNode> {
        if path.is_empty() || path == "*" {
            return Some(&self.root);
        }
        let (module, qualname) = match path.split_once(':') {
            Some((m, q)) => (if m == "__mp_main__" { "__main__" } else { m }, Some(q)),
            None => (path, None),
        };
        let is_module = |n: &&TreeNode| matches!(n.kind, NodeKind::Package | NodeKind::Module);
        let mut at = &self.root;
        for segment in module.split('.') {
            at = at
                .children
                .iter()
                .filter(is_module)
                .find(|c| c.name == segment)?;
        }
        let Some(qualname) = qualname.filter(|q| !q.is_empty() && *q != "*") else {
            return Some(at);
        };
        let mut via_locals = false;
        for segment in qualname.split('.') {
            if segment == "<locals>" {
                via_locals = true;
                continue;
            }
            at = at
                .children
                .iter()
                .filter(|c| !is_module(c) && c.via_locals == via_locals)
                .find(|c| c.name == segment)?;
            via_locals = false;
        }
        Some(at)
    }

    /// The children of the node at `path` as candidates, by calls
    /// (descending); `None` when there is no such node.
    pub fn candidates(&self, path: &str) -> Option<Vec<Candidate>> {
        self.find(path).map(TreeNode::candidates)
    }

    /// Step 3's candidates ("which subsystem?"): the top-level packages and
    /// modules, `__main__` included, by calls.
    pub fn top_level_candidates(&self) -> Vec<Candidate> {
        self.root.candidates()
    }
}

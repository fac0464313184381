//! Discovery: the census tree, its candidates, and patterns that select
//! exactly each node's subtree, checked against the real pattern matcher.

use speedbump::analysis::tree::{CallTree, CensusEntry, NodeKind, TreeNode, escape_glob};
use speedbump::pattern::parse_pattern;

fn census() -> Vec<CensusEntry> {
    let e = |name: &str, calls| CensusEntry {
        name: name.into(),
        calls,
        injected_ns: 0,
        own_ns: 0,
    };
    vec![
        e("__main__:main", 1),
        e("__main__:<module>", 1),
        e("__mp_main__:work", 40),
        e("vllm:<module>", 1),
        e("vllm:init", 2),
        e("vllm.worker:<module>", 1),
        e("vllm.worker.model_runner:ModelRunner", 1),
        e("vllm.worker.model_runner:ModelRunner.execute_model", 500),
        e("vllm.worker.model_runner:ModelRunner.prepare", 1500),
        e(
            "vllm.worker.model_runner:ModelRunner.prepare.<locals>.pad",
            3000,
        ),
        e(
            "vllm.worker.model_runner:ModelRunner.prepare.<locals>.<lambda>",
            10,
        ),
        e("vllm.worker.cache:evict", 50),
        e("vllm.engine:Engine.step", 500),
        e("vllm.engine:Engine.Stats.update", 500),
        e("vllm.engine:run.<locals>.loop", 1),
        e("vllmx:fake", 7),
        e("numpy.core.multiarray:array", 9000),
        e("zmq.sugar.socket:Socket.send", 1000),
        e("zmq.sugar.socket:Socket.send", 24), // a second process: summed
        e("no colon here", 5),
        e("weird:odd[1]*", 3),
    ]
}

/// Every census name in the subtree of `node`.
fn names_in(node: &TreeNode, out: &mut Vec<String>) {
    if node.own_calls.is_some() {
        out.push(node.path.clone());
    }
    for c in &node.children {
        names_in(c, out);
    }
}

fn all_nodes<'a>(node: &'a TreeNode, out: &mut Vec<&'a TreeNode>) {
    out.push(node);
    for c in &node.children {
        all_nodes(c, out);
    }
}

#[test]
fn every_nodes_patterns_select_exactly_its_subtree() {
    let tree = CallTree::from_census(&census());
    assert_eq!(tree.skipped, 1);
    let mut everything = Vec::new();
    names_in(&tree.root, &mut everything);
    let mut nodes = Vec::new();
    all_nodes(&tree.root, &mut nodes);
    for node in nodes {
        let patterns: Vec<_> = node
            .patterns
            .iter()
            .map(|p| parse_pattern("test", p).unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect();
        let mut inside = Vec::new();
        names_in(node, &mut inside);
        for name in &everything {
            let (module, qualname) = name.split_once(':').unwrap();
            let selected = patterns.iter().any(|p| p.matches(module, "", qualname));
            assert_eq!(
                selected,
                inside.contains(name),
                "node {} {:?} on {name}",
                node.path,
                node.patterns
            );
        }
    }
}

#[test]
fn kinds_counts_and_patterns() {
    let tree = CallTree::from_census(&census());
    let vllm = tree.find("vllm").unwrap();
    assert_eq!(vllm.kind, NodeKind::Package);
    assert_eq!(vllm.patterns, ["vllm.*:*"]);
    assert_eq!(
        vllm.calls,
        1 + 2 + 1 + 1 + 500 + 1500 + 3000 + 10 + 50 + 500 + 500 + 1
    );
    let runner = tree.find("vllm.worker.model_runner").unwrap();
    assert_eq!(
        (runner.kind, runner.patterns.as_slice()),
        (
            NodeKind::Module,
            &["vllm.worker.model_runner:*".to_owned()][..]
        )
    );
    let class = tree.find("vllm.worker.model_runner:ModelRunner").unwrap();
    assert_eq!(class.kind, NodeKind::Class);
    assert_eq!(class.own_calls, Some(1));
    assert_eq!(
        class.patterns,
        [
            "vllm.worker.model_runner:ModelRunner",
            "vllm.worker.model_runner:ModelRunner.*"
        ]
    );
    let prepare = tree
        .find("vllm.worker.model_runner:ModelRunner.prepare")
        .unwrap();
    assert_eq!(prepare.kind, NodeKind::Function);
    assert_eq!(prepare.calls, 1500 + 3000 + 10);
    assert_eq!(
        prepare.patterns,
        [
            "vllm.worker.model_runner:ModelRunner.prepare",
            "vllm.worker.model_runner:ModelRunner.prepare.<locals>.*"
        ]
    );
    let pad = tree
        .find("vllm.worker.model_runner:ModelRunner.prepare.<locals>.pad")
        .unwrap();
    assert!(
        pad.via_locals
            && pad.patterns == ["vllm.worker.model_runner:ModelRunner.prepare.<locals>.pad"]
    );
    // A function seen only through its nested function.
    let run = tree.find("vllm.engine:run").unwrap();
    assert_eq!(
        (run.own_calls, run.patterns.as_slice()),
        (None, &["vllm.engine:run.<locals>.*".to_owned()][..])
    );
    // A class inside a class.
    assert_eq!(
        tree.find("vllm.engine:Engine.Stats").unwrap().kind,
        NodeKind::Class
    );
    // Spawn children's main module is __main__.
    assert_eq!(tree.find("__main__").unwrap().calls, 42);
    assert_eq!(tree.find("__mp_main__:work").unwrap().calls, 40);
    assert_eq!(
        tree.find("zmq.sugar.socket:Socket.send").unwrap().calls,
        1024
    );
    assert_eq!(
        tree.find("weird:odd[1]*").unwrap().patterns,
        ["weird:odd[[]1][*]"]
    );
    assert!(tree.find("vllm.nothing").is_none());
    assert!(tree.find("vllm:init.x").is_none());
}

#[test]
fn candidates_are_ranked_by_call_volume() {
    let tree = CallTree::from_census(&census());
    let top: Vec<(String, u64)> = tree
        .top_level_candidates()
        .into_iter()
        .map(|c| (c.label, c.calls))
        .collect();
    assert_eq!(
        top,
        [
            ("numpy".to_owned(), 9000),
            ("vllm".to_owned(), 6066),
            ("zmq".to_owned(), 1024),
            ("__main__".to_owned(), 42),
            ("vllmx".to_owned(), 7),
            ("weird".to_owned(), 3),
        ]
    );
    let under = tree.candidates("vllm").unwrap();
    let labels: Vec<&str> = under.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        ["vllm.worker", "vllm.engine", "vllm:init", "vllm:<module>"]
    );
    assert_eq!(under[0].kind, NodeKind::Package);
    assert!((under.iter().map(|c| c.share).sum::<f64>() - 1.0).abs() < 1e-12);
    let methods = tree
        .candidates("vllm.worker.model_runner:ModelRunner")
        .unwrap();
    assert_eq!(
        methods[0].label,
        "vllm.worker.model_runner:ModelRunner.prepare"
    );
    assert_eq!(methods[0].calls, 4510);
    assert!(tree.candidates("nope").is_none());
}

#[test]
fn escaping_round_trips_through_the_grammar() {
    for (name, other) in [
        ("a*b", "axxb"),
        ("x?y", "x_y"),
        ("[z]", "z"),
        ("plain.name", "plain_name"),
    ] {
        let p = parse_pattern("t", &format!("m:{}", escape_glob(name))).unwrap();
        assert!(p.matches("m", "", name), "{name}");
        assert!(!p.matches("m", "", other), "{name} matched {other}");
    }
    // '#' cannot appear in a pattern: it becomes '?'.
    let p = parse_pattern("t", &format!("m:{}", escape_glob("h#i"))).unwrap();
    assert!(p.matches("m", "", "h#i"));
}

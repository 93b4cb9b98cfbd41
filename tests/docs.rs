//! The generated documentation (docs/parameters.md, docs/man/*.8) must
//! match what the agents' parameter tables generate now, and the
//! reference-parameter lists must match the reference agents' metadata.

use std::path::Path;

use instance_ha::docs;

#[test]
fn generated_docs_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, text) in docs::generated() {
        match std::fs::read_to_string(root.join(&rel)) {
            Ok(current) if current == text => {}
            Ok(current) => {
                let line = current.lines().zip(text.lines()).position(|(a, b)| a != b).map(|i| i + 1);
                stale.push(format!(
                    "{rel} differs (first at line {})",
                    line.map_or("end".to_string(), |l| l.to_string())
                ));
            }
            Err(e) => stale.push(format!("{rel}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "generated documentation is stale:\n  {}\nRun `cargo run --example gen-docs` and commit the result.",
        stale.join("\n  ")
    );
}

/// The canonical names in a fence-agents metadata file: entries that are
/// not `deprecated="1"` (the deprecated spellings are `old_name`s).
fn canonical_names(xml: &str) -> Vec<String> {
    xml.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("<parameter name=\"")?;
            if l.contains("deprecated=\"1\"") {
                return None;
            }
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[test]
fn reference_lists_match_the_golden_metadata() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (file, list) in [
        ("fence_compute.debian-4.12.1.xml", docs::REFERENCE_FENCE_COMPUTE),
        ("fence_evacuate.debian-4.12.1.xml", docs::REFERENCE_FENCE_EVACUATE),
    ] {
        let xml = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut golden = canonical_names(&xml);
        let mut ours: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        golden.sort();
        ours.sort();
        assert_eq!(ours, golden, "src/docs.rs reference list for {file}");
    }
}

#[test]
fn every_agent_and_parameter_is_documented() {
    let files = docs::generated();
    let md = &files.iter().find(|(p, _)| p == "docs/parameters.md").expect("parameters.md").1;
    for a in docs::agents() {
        let man = &files.iter().find(|(p, _)| p.ends_with(&a.man_file)).expect("man page").1;
        for p in a.table {
            assert!(md.contains(&format!("| `{}` |", p.name)), "{}: {} not in parameters.md", a.name, p.name);
            assert!(
                man.contains(&format!("\\fB{}\\fR", p.name.replace('-', "\\-"))),
                "{}: {} not in its man page",
                a.name,
                p.name
            );
        }
    }
}

//! Regenerate the documentation built from the agents' parameter tables:
//! `docs/parameters.md` and the agents' man pages under `docs/man/`.
//!
//!     cargo run --example gen-docs            # write the files
//!     cargo run --example gen-docs -- --check # exit 1 if any is stale
//!
//! tests/docs.rs runs the same check in `cargo test`.

use std::path::Path;

fn main() {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = 0;
    for (rel, text) in instance_ha::docs::generated() {
        let path = root.join(&rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            println!("unchanged {rel}");
            continue;
        }
        if check {
            println!("stale     {rel}");
            stale += 1;
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        println!("wrote     {rel}");
    }
    if stale > 0 {
        eprintln!("{stale} generated file(s) are stale: run `cargo run --example gen-docs`");
        std::process::exit(1);
    }
}

//! The layering, read from the sources: capability folders of
//! `crates/server/src` import each other without a circle, the shared kit
//! (the top-level files below `app.rs`) imports no capability, and neither
//! `domain` nor `store` imports the server. Read as text, so a rename that
//! breaks the rule fails here before anyone draws the graph by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level files that assemble the capabilities; they may import any of them.
const ASSEMBLY: &[&str] = &["app", "demo", "lib", "jobs"];

/// Folders that are shared kit, not capabilities.
const KIT_FOLDERS: &[&str] = &["settings"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source folder") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without `//` comments, so a doc comment that names a
/// module is not an import.
fn code_of(path: &Path) -> String {
    strip_comments(&std::fs::read_to_string(path).expect("read source file"))
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first-level modules a file names through `crate::`: `crate::a::b`,
/// `crate::{a, b::c}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `ihos_crate::` or similar
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for part in split_top_level(&group[..end]) {
                if let Some(name) = ident_at(part.trim()) {
                    found.insert(name);
                }
            }
        } else if let Some(name) = ident_at(rest) {
            found.insert(name);
        }
    }
    found
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn ident_at(s: &str) -> Option<String> {
    let name: String = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The module a source file belongs to: its folder, or its own name at the top.
fn owner(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component");
    let first = first.as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

struct Layout {
    capabilities: BTreeSet<String>,
    /// module -> modules it names, with one file that does so for each.
    imports: BTreeMap<String, BTreeMap<String, PathBuf>>,
}

fn read_layout(root: &Path) -> Layout {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let capabilities = std::fs::read_dir(root)
        .expect("read src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .filter(|name| !KIT_FOLDERS.contains(&name.as_str()))
        .collect();
    let mut imports: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let from = owner(&file);
        for to in crate_modules(&code_of(&file)) {
            if to != from {
                imports
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| file.clone());
            }
        }
    }
    Layout {
        capabilities,
        imports,
    }
}

/// Circles among capability folders (strongly connected components with
/// more than one member), each as its members in order.
fn capability_circles(layout: &Layout) -> Vec<Vec<String>> {
    let caps: Vec<&String> = layout.capabilities.iter().collect();
    let edges = |from: &str| -> Vec<&String> {
        layout
            .imports
            .get(from)
            .map(|m| {
                m.keys()
                    .filter(|k| layout.capabilities.contains(*k))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Reachability is enough at this size (a dozen folders).
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(n) = todo.pop() {
            for next in edges(&n) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        caps.iter().map(|c| (*c, reach(c))).collect();
    let mut circles: Vec<Vec<String>> = Vec::new();
    let mut placed = BTreeSet::new();
    for c in &caps {
        if placed.contains(*c) || !reaches[c].contains(*c) {
            continue;
        }
        let circle: Vec<String> = caps
            .iter()
            .filter(|o| reaches[c].contains(**o) && reaches[*o].contains(*c))
            .map(|o| o.to_string())
            .collect();
        placed.extend(circle.iter().cloned());
        circles.push(circle);
    }
    circles
}

fn describe(layout: &Layout, circle: &[String]) -> String {
    let mut lines = vec![format!("circle: {}", circle.join(" <-> "))];
    for from in circle {
        for (to, file) in layout.imports.get(from).into_iter().flatten() {
            if circle.contains(to) {
                lines.push(format!("  {from} -> {to} (e.g. {})", file.display()));
            }
        }
    }
    lines.join("\n")
}

#[test]
fn capability_folders_import_each_other_without_a_circle() {
    let layout = read_layout(&src());
    assert!(
        layout.capabilities.len() >= 10,
        "expected the capability folders under src/, found {:?}",
        layout.capabilities
    );
    let circles = capability_circles(&layout);
    let text: Vec<String> = circles.iter().map(|c| describe(&layout, c)).collect();
    assert!(circles.is_empty(), "{}", text.join("\n"));
}

#[test]
fn the_shared_kit_imports_no_capability() {
    let layout = read_layout(&src());
    let mut wrong = Vec::new();
    for (from, tos) in &layout.imports {
        if layout.capabilities.contains(from) || ASSEMBLY.contains(&from.as_str()) {
            continue;
        }
        for (to, file) in tos {
            if layout.capabilities.contains(to) || ASSEMBLY.contains(&to.as_str()) {
                wrong.push(format!("{from} -> {to} ({})", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "kit files import capabilities or assembly:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn capabilities_do_not_import_the_assembly() {
    let layout = read_layout(&src());
    let mut wrong = Vec::new();
    for cap in &layout.capabilities {
        for (to, file) in layout.imports.get(cap).into_iter().flatten() {
            if ASSEMBLY.contains(&to.as_str()) {
                wrong.push(format!("{cap} -> {to} ({})", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn domain_and_store_never_import_the_server() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut wrong = Vec::new();
    for krate in ["domain", "store"] {
        let dir = crates.join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        if manifest.contains("ihos-server") {
            wrong.push(format!("{krate}/Cargo.toml depends on ihos-server"));
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for f in files {
            if code_of(&f).contains("ihos_server") {
                wrong.push(f.display().to_string());
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_nested_imports() {
    let code = "use crate::{a, b::c, d::{e, f}};\nfn x() { crate::g::h(); }\n// crate::comment\nlet s = ihos_crate::z;";
    let found: Vec<String> = crate_modules(&strip_comments(code)).into_iter().collect();
    assert_eq!(found, ["a", "b", "d", "g"]);
}

#[test]
fn a_circle_is_found_and_named() {
    let mut imports: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (from, to) in [
        ("payment", "pharmacy"),
        ("pharmacy", "consultation"),
        ("consultation", "payment"),
        ("nursing", "payment"),
    ] {
        imports
            .entry(from.into())
            .or_default()
            .insert(to.into(), PathBuf::from(format!("{from}/x.rs")));
    }
    let layout = Layout {
        capabilities: ["payment", "pharmacy", "consultation", "nursing"]
            .map(String::from)
            .into(),
        imports,
    };
    let circles = capability_circles(&layout);
    assert_eq!(
        circles,
        vec![vec![
            "consultation".to_string(),
            "payment".into(),
            "pharmacy".into()
        ]]
    );
    assert!(describe(&layout, &circles[0]).contains("payment -> pharmacy"));
}

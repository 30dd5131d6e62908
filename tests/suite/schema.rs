//! Editor support: `runner schema` prints JSON Schemas generated from the spec types;
//! the shipped copies in schema/ are what it prints now, every shipped spec names its
//! schema on its first line (`#:schema`, taplo's directive) and validates against it,
//! and the schema refuses what the parser refuses where it can (unknown keys, unknown
//! enum values).

use super::common::{root, runner};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SPEC_SCHEMA: &str = "schema/spec.schema.json";
const SWEEP_SCHEMA: &str = "schema/sweep.schema.json";

fn printed(args: &[&str]) -> String {
    let out = runner(args, &[]);
    assert_eq!(out.code, 0, "runner {args:?} failed:\n{}", out.stderr);
    out.stdout
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(schema_file: &str) -> jsonschema::Validator {
    jsonschema::draft7::new(&read_json(&root().join(schema_file)))
        .unwrap_or_else(|e| panic!("{schema_file} is not a valid draft-07 schema: {e}"))
}

/// A TOML text as JSON, the form the schema describes.
fn as_json(text: &str, what: &str) -> Value {
    toml::from_str::<Value>(text).unwrap_or_else(|e| panic!("{what}: not TOML: {e}"))
}

/// Every schema error as `path: message` (an empty list when the text is valid).
fn problems(validator: &jsonschema::Validator, text: &str, what: &str) -> Vec<String> {
    let instance = as_json(text, what);
    validator.iter_errors(&instance).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn tomls_in(dir: &str) -> Vec<PathBuf> {
    let dir = root().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_shipped_schemas_are_what_runner_schema_prints() {
    for (file, args) in [(SPEC_SCHEMA, vec!["schema"]), (SWEEP_SCHEMA, vec!["schema", "--sweep"])] {
        let shipped = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let now = printed(&args);
        assert!(
            shipped == now,
            "{file} is stale (the spec types changed); regenerate it with\n  cargo run --release -- {} -o {file}",
            args.join(" ")
        );
    }
}

#[test]
fn schema_writes_to_a_file_with_o() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    printed(&["schema", "--sweep", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), printed(&["schema", "--sweep"]));
    let refused = runner(&["schema", "-o", dir.path().join("no/such/dir/s.json").to_str().unwrap()], &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("no/such/dir/s.json"), "names the file: {}", refused.stderr);
}

#[test]
fn the_schemas_say_what_they_are_and_refuse_unknown_keys() {
    for (file, title) in [(SPEC_SCHEMA, "runner experiment spec"), (SWEEP_SCHEMA, "runner sweep file")] {
        let schema = read_json(&root().join(file));
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#", "{file}");
        assert_eq!(schema["title"], title, "{file}");
        assert_eq!(schema["additionalProperties"], false, "{file}");
        // Every table of the format is closed (deny_unknown_fields), so editors flag typos.
        for (name, def) in schema["definitions"].as_object().unwrap() {
            if def.get("properties").is_some() {
                assert_eq!(def["additionalProperties"], false, "{file}: {name} takes unknown keys");
            }
        }
    }
    let spec = read_json(&root().join(SPEC_SCHEMA));
    let defs = &spec["definitions"];
    // Enumerated values are `enum`s, so an editor completes them; the variants' docs
    // ride along for taplo.
    let ops = defs["LayerOp"]["enum"].as_array().unwrap();
    assert!(ops.contains(&"conv2d".into()) && ops.contains(&"maxpool2d".into()) && ops.len() == 21, "{ops:?}");
    assert_eq!(defs["LossKind"]["enum"], serde_json::json!(["mse", "sse", "bce", "cross_entropy"]));
    assert_eq!(defs["OptimizerKind"]["enum"], serde_json::json!(["sgd", "adam", "adamw", "rmsprop"]));
    assert_eq!(defs["DType"]["enum"], serde_json::json!(["f32", "f64"]));
    let kinds = defs["DataKind"]["enum"].as_array().unwrap();
    assert!(kinds.contains(&"mnist".into()) && kinds.contains(&"idx".into()), "the alias too: {kinds:?}");
    let docs = defs["ProbeKind"]["x-taplo"]["docs"]["enumValues"].as_array().unwrap();
    assert_eq!(docs.len(), defs["ProbeKind"]["enum"].as_array().unwrap().len());
    assert!(docs.iter().all(Value::is_string), "every probe kind has its doc: {docs:?}");
    // Docs become descriptions; defaults are the parser's.
    let train = &defs["TrainSpec"]["properties"];
    assert!(train["lr"]["description"].as_str().unwrap().contains("Learning rate"));
    assert_eq!(train["lr"]["default"], 0.01);
    assert_eq!(train["batch_size"]["default"], "all");
}

/// The relative path of a shipped file's `#:schema` line, resolved against its folder.
fn schema_named_by(path: &Path) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or("");
    let named = first
        .strip_prefix("#:schema ")
        .unwrap_or_else(|| panic!("{}: the first line is not `#:schema <path>`: {first:?}", path.display()));
    let resolved = path.parent().unwrap().join(named.trim());
    resolved.canonicalize().unwrap_or_else(|e| panic!("{}: #:schema {named}: {e}", path.display()))
}

#[test]
fn every_shipped_spec_names_its_schema_and_is_valid() {
    let specs = tomls_in("experiments");
    let sweeps = tomls_in("experiments/sweeps");
    assert!(specs.len() >= 15 && sweeps.len() >= 3, "{specs:?} {sweeps:?}");
    let mut failures = vec![];
    for (files, schema_file) in [(&specs, SPEC_SCHEMA), (&sweeps, SWEEP_SCHEMA)] {
        let validator = validator(schema_file);
        let expected = root().join(schema_file).canonicalize().unwrap();
        for path in files {
            assert_eq!(schema_named_by(path), expected, "{}: names the wrong schema", path.display());
            let text = std::fs::read_to_string(path).unwrap();
            for p in problems(&validator, &text, &path.display().to_string()) {
                failures.push(format!("{}: {p}", path.strip_prefix(root()).unwrap_or(path).display()));
            }
        }
    }
    assert!(failures.is_empty(), "shipped specs the schema refuses:\n{}", failures.join("\n"));
}

/// The golden runs' spec.toml files are resolved specs (every default written out, a
/// `[diff]` table added): the schema must take those as well.
#[test]
fn resolved_specs_are_valid_too() {
    let validator = validator(SPEC_SCHEMA);
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("tests/golden")).unwrap() {
        let path = entry.unwrap().path().join("spec.toml");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let found = problems(&validator, &text, &path.display().to_string());
        assert!(found.is_empty(), "{}:\n{}", path.display(), found.join("\n"));
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} golden specs found");
}

/// The README's whole spec is what a reader copies to start one: the schema takes it.
#[test]
fn the_readme_spec_is_valid() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("## A spec, whole").expect("the README shows a whole spec")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    assert!(block.contains("[[model.layers]]"), "{block}");
    assert_eq!(problems(&validator(SPEC_SCHEMA), block, "README"), Vec::<String>::new());
}

const XOR: &str = r#"
name = "xor"
[data]
kind = "xor"
[[model.layers]]
name = "out"
op = "dense"
units = 1
[train]
loss = "mse"
iterations = 10
"#;

/// `XOR` with one line replaced; the parser and the schema must both refuse it.
fn broken(from: &str, to: &str) -> String {
    assert!(XOR.contains(from), "{from}");
    XOR.replacen(from, to, 1)
}

#[test]
fn typos_and_unknown_values_fail_where_they_are() {
    let validator = validator(SPEC_SCHEMA);
    assert_eq!(problems(&validator, XOR, "xor"), Vec::<String>::new());
    assert!(runner::spec::load_str("xor.toml", XOR, &[], None).is_ok());
    let cases = [
        (broken("iterations = 10", "iteration = 10"), "/train", "iteration"),
        (broken("units = 1", "unit = 1"), "/model/layers/0", "unit"),
        (broken("name = \"xor\"", "name = \"xor\"\nseeed = 3"), "", "seeed"),
        (broken("loss = \"mse\"", "loss = \"mae\""), "/train/loss", "mae"),
        (broken("op = \"dense\"", "op = \"Dense\""), "/model/layers/0/op", "Dense"),
        (broken("kind = \"xor\"", "kind = \"xor\"\ntest_fraction = 1.0"), "/data/test_fraction", "1.0"),
        (broken("iterations = 10", "iterations = 10\nbatch_size = \"half\""), "/train/batch_size", "half"),
    ];
    for (text, path, shown) in &cases {
        let found = problems(&validator, text, path);
        assert!(
            found.len() == 1 && found[0].starts_with(&format!("{path}: ")) && found[0].contains(shown),
            "one error at {path:?} naming {shown:?}, found {found:?}"
        );
        assert!(runner::spec::load_str("x.toml", text.as_str(), &[], None).is_err(), "the parser takes:\n{text}");
    }
}

/// taplo (the language server behind Even Better TOML; `pip install taplo` for its
/// command line) finds each shipped file's schema through its `#:schema` line, takes
/// the valid ones and refuses a typo, so the directive's syntax and paths are right.
#[test]
fn taplo_checks_specs_through_their_directive() {
    let taplo = |args: &[&str]| std::process::Command::new("taplo").args(args).current_dir(root()).output();
    if taplo(&["--version"]).is_err() {
        eprintln!(
            "skipped: schema::taplo_checks_specs_through_their_directive: no `taplo` on PATH (pip install taplo)"
        );
        return;
    }
    let mut files: Vec<String> = tomls_in("experiments")
        .into_iter()
        .chain(tomls_in("experiments/sweeps"))
        .map(|p| p.display().to_string())
        .collect();
    files.insert(0, "check".into());
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = taplo(&args).unwrap();
    assert!(out.status.success(), "taplo check refuses shipped specs:\n{}", String::from_utf8_lossy(&out.stderr));
    // The same layout in a temporary folder, with a misspelt key: refused at it.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("schema")).unwrap();
    std::fs::create_dir_all(tmp.path().join("experiments")).unwrap();
    std::fs::copy(root().join(SPEC_SCHEMA), tmp.path().join(SPEC_SCHEMA)).unwrap();
    let text = std::fs::read_to_string(root().join("experiments/xor.toml")).unwrap();
    assert!(text.contains("\niterations = "), "{text}");
    let bad = tmp.path().join("experiments/bad.toml");
    std::fs::write(&bad, text.replace("\niterations = ", "\niteration = ")).unwrap();
    let out = taplo(&["check", bad.to_str().unwrap()]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("'iteration' was unexpected"), "{stderr}");
}

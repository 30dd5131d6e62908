//! JSON Schemas of the spec format and of sweep files, generated from the spec types
//! (`schemars` reads their serde attributes and doc comments), for editors: a TOML file
//! whose first line is `#:schema ../schema/spec.schema.json` gets completion, hover docs
//! and checks in any editor that uses taplo (VS Code's Even Better TOML, Helix, Zed…).
//!
//! The schema describes what the parser accepts (unknown keys are refused, enumerated
//! values are `enum`s), not every cross-key rule of `validate` (which settings a layer
//! op or a data kind takes): `runner check` has the final word.

use super::sweep::SweepFile;
use super::Spec;
use schemars::generate::SchemaSettings;
use schemars::transform::{transform_subschemas, Transform};
use schemars::Schema;
use serde_json::{json, Map, Value};

/// Which file format a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// An experiment spec (`experiments/*.toml`), `[sweep]` table included.
    Spec,
    /// A sweep file: `base = "spec.toml"` and a `[sweep]` table (`experiments/sweeps/*.toml`).
    Sweep,
}

/// The schema as `runner schema` prints it: pretty JSON with a final newline.
pub fn schema_text(kind: SchemaKind) -> String {
    let mut text = serde_json::to_string_pretty(&json_schema(kind)).unwrap_or_default();
    text.push('\n');
    text
}

pub fn json_schema(kind: SchemaKind) -> Value {
    // Draft 7: what taplo (the TOML language server) and most editors implement fully.
    let mut settings = SchemaSettings::draft07();
    settings.transforms.push(Box::new(ForEditors));
    let generator = settings.into_generator();
    let (schema, title, description) = match kind {
        SchemaKind::Spec => (
            generator.into_root_schema_for::<Spec>(),
            "runner experiment spec",
            "One experiment for `runner run`: the data, the model as named layers, training, metrics, outputs and probes.",
        ),
        SchemaKind::Sweep => (
            generator.into_root_schema_for::<SweepFile>(),
            "runner sweep file",
            "A sweep for `runner sweep`: a base spec and the settings to vary. (A spec with a `[sweep]` table is a spec.)",
        ),
    };
    let mut value = schema.to_value();
    if let Some(root) = value.as_object_mut() {
        root.insert("title".into(), title.into());
        root.insert("description".into(), description.into());
    }
    value
}

/// Shapes schemars' output for TOML editors:
/// - a string enum whose variants have docs comes out as `oneOf` of `const`s; it
///   becomes one `enum` (which editors complete) with the docs in taplo's
///   `x-taplo.docs.enumValues` (shown beside each completion);
/// - `format` (`uint`, `double`…) is Rust's type, not a JSON Schema format: dropped;
/// - TOML has no null, so `null` is never a valid value: taken out of `type`, and an
///   optional table's `anyOf: [table, null]` becomes the table.
#[derive(Clone)]
struct ForEditors;

impl Transform for ForEditors {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(object) = schema.as_object_mut() else { return };
        object.remove("format");
        if let Some(Value::Array(types)) = object.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                object.insert("type".into(), only);
            }
        }
        if object.get("default").is_some_and(Value::is_null) {
            object.remove("default");
        }
        for key in ["oneOf", "anyOf"] {
            without_null_choice(object, key);
            if let Some(Value::Array(choices)) = object.get(key) {
                if let Some((values, docs)) = string_choices(choices) {
                    object.remove(key);
                    object.insert("type".into(), "string".into());
                    object.insert("enum".into(), Value::Array(values));
                    if docs.iter().any(|d| !d.is_null()) {
                        object.insert("x-taplo".into(), json!({ "docs": { "enumValues": docs } }));
                    }
                }
            }
        }
    }
}

/// The values and docs of choices that are all plain strings (`const` or `enum`, with an
/// optional description); `None` when any choice is something else.
fn string_choices(choices: &[Value]) -> Option<(Vec<Value>, Vec<Value>)> {
    let mut values = vec![];
    let mut docs = vec![];
    for choice in choices {
        let c: &Map<String, Value> = choice.as_object()?;
        if c.keys().any(|k| !matches!(k.as_str(), "type" | "const" | "enum" | "description")) {
            return None;
        }
        if c.get("type").is_some_and(|t| t != "string") {
            return None;
        }
        let these: Vec<Value> = match (c.get("const"), c.get("enum")) {
            (Some(v), None) => vec![v.clone()],
            (None, Some(Value::Array(vs))) => vs.clone(),
            _ => return None,
        };
        if !these.iter().all(Value::is_string) {
            return None;
        }
        let doc = c.get("description").cloned().unwrap_or(Value::Null);
        docs.extend(std::iter::repeat_n(doc, these.len()));
        values.extend(these);
    }
    (!values.is_empty()).then_some((values, docs))
}

/// Drops `{ "type": "null" }` from `object[key]`; a single choice left is merged in.
fn without_null_choice(object: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(choices)) = object.get_mut(key) else { return };
    choices.retain(|c| c != &json!({ "type": "null" }));
    if choices.len() != 1 {
        return;
    }
    let Some(Value::Array(mut choices)) = object.remove(key) else { return };
    match choices.remove(0) {
        // Draft 7 ignores the siblings of a `$ref`: keep it in an `allOf`.
        only if only.get("$ref").is_some() => {
            object.insert("allOf".into(), Value::Array(vec![only]));
        }
        Value::Object(only) => {
            for (k, v) in only {
                object.entry(k).or_insert(v);
            }
        }
        other => {
            object.insert("allOf".into(), Value::Array(vec![other]));
        }
    }
}

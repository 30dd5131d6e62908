//! The numbers a run's summary prints (`[output] print`): the course printed its
//! softmax table, truth tables, θ and gradients, so a run prints them too, as tables.
//! The tables are made with the run's files (the summary only renders them), so they
//! never depend on `--quiet`.

use super::table::{number, theta, Table};
use super::Prepared;
use crate::backend::{Backend, Element, Map};
use crate::data::Dataset;
use crate::graph::{Dag, NodeOp};
use crate::layers::Model;
use crate::results::{element_names, Columns};
use crate::spec::{PrintItem, Split};
use crate::train;

/// The default prints outputs when the model's output on the split shown has at most
/// this many values: the feed-forward softmax table (21) and the truth tables (4), not
/// a 100-row regression.
pub const MAX_DEFAULT_OUTPUTS: usize = 48;
/// The default prints parameters for models with at most this many: the regression's
/// θ (3) and the logic gates' weights (12), not the feed-forward's 40.
pub const MAX_DEFAULT_PARAMS: usize = 12;
/// At most this many rows of a table are printed; the note says where the rest is.
const MAX_ROWS: usize = 48;
/// Nodes whose columns fit together share one table; wider sets get one table each.
const MAX_SHARED_COLUMNS: usize = 8;
/// A node wider than this is left out of the printed tables (its values are in the CSV).
const MAX_NODE_COLUMNS: usize = 16;
/// Inputs with at most this many named features label each row by its values.
const MAX_LABEL_FEATURES: usize = 8;

/// What a run's summary prints besides its status line.
#[derive(Debug, Clone, Default)]
pub struct Printed {
    /// Print the final metrics.
    pub metrics: bool,
    pub tables: Vec<Table>,
}

/// The split whose outputs are printed: test when there is one, else train (as the
/// confusion matrix).
fn shown_split(p: &Prepared) -> (Split, Option<&Dataset>) {
    let split = if p.data.test.is_some() { Split::Test } else { Split::Train };
    (split, train::split_data(&p.data, split))
}

/// The spec's `[output] print`, or the default for this model and data.
pub fn items(p: &Prepared) -> Vec<PrintItem> {
    let spec = &p.loaded.spec;
    if let Some(list) = &spec.output.print {
        return list.clone();
    }
    let mut out = vec![PrintItem::Metrics];
    let dag = &p.dag;
    let out_node = &dag.nodes[dag.output];
    let rows = shown_split(p).1.map_or(0, Dataset::len);
    let values = if out_node.batched { rows * out_node.width().max(1) } else { 1 };
    if rows > 0 && values <= MAX_DEFAULT_OUTPUTS {
        out.push(PrintItem::Outputs);
    }
    if (1..=MAX_DEFAULT_PARAMS).contains(&dag.param_count()) {
        out.push(PrintItem::Params);
    }
    if !spec.output.gradients.is_empty() {
        out.push(PrintItem::Gradients);
    }
    out
}

/// The tables for `items`, from the trained (or given) model.
pub fn tables<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, p: &Prepared, items: &[PrintItem]) -> Printed {
    let mut printed = Printed { metrics: items.contains(&PrintItem::Metrics), tables: vec![] };
    for item in items {
        match item {
            PrintItem::Metrics => {}
            PrintItem::Outputs => printed.tables.extend(output_tables(be, model, p)),
            PrintItem::Params => printed.tables.extend(params_table(&final_params(be, model), &model.dag, p)),
            PrintItem::Gradients => printed.tables.extend(gradient_tables(be, model, p)),
        }
    }
    printed
}

/// Every parameter element by name (`theta.weight[0][1]`) with its value.
pub fn final_params<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (name, shape, buf) in model.named_params() {
        let values = be.download(buf);
        let values: Vec<f64> = values.iter().map(|v| v.as_f64()).collect();
        out.extend(element_names(&name, &shape).into_iter().zip(values));
    }
    out
}

/// The file [`params_final_csv`] goes to.
pub const PARAMS_FINAL_FILE: &str = "params_final.csv";

/// params_final.csv: params.csv's columns (one per parameter element, same names) and
/// one row, the values the run ended with. Written where params.csv is not (a
/// closed-form fit has no steps to record), so the printed θ is always in a CSV.
pub fn params_final_csv(params: &[(String, f64)], dtype: crate::backend::DType) -> String {
    let mut cols = Columns::new(1);
    let values: Vec<f64> = params.iter().map(|(_, v)| *v).collect();
    cols.push_block(&values, values.len(), |j| params[j].0.clone());
    cols.to_csv(dtype)
}

/// One row per parameter element. A one-unit dense layer reading the input directly
/// (a linear model) also names its weights θᵢ after the input feature i they multiply,
/// in the data's feature order; its bias, when it has one, is θ₀ (the intercept) and
/// the weights then start at θ₁.
fn params_table(params: &[(String, f64)], dag: &Dag, p: &Prepared) -> Option<Table> {
    if params.is_empty() {
        return None;
    }
    let linear = linear_model(dag);
    let element_names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    let course = course_names(&element_names, dag, &p.data.train);
    let mut rows = Vec::new();
    for (k, (name, value)) in params.iter().enumerate() {
        let mut row = vec![];
        if let Some(names) = &course {
            let (symbol, input) = names[k].clone();
            row.extend([symbol, input]);
        }
        row.extend([name.clone(), number(*value)]);
        rows.push(row);
    }
    let header: Vec<String> = match linear {
        Some(_) => ["", "input", "parameter", "value"].map(String::from).to_vec(),
        None => ["parameter", "value"].map(String::from).to_vec(),
    };
    let labels = header.len() - 1;
    let title = format!("parameters ({})", params.len());
    Some(Table { title, header, labels, rows, note: None })
}

/// The course's name of each parameter element (`theta.weight[0][1]`) of a linear
/// model, as the printed table and the params picture show them: (θᵢ, the input it
/// multiplies). None where the model is not linear; ("", "") for an element that is
/// not a coefficient.
pub fn course_names(elements: &[String], dag: &Dag, d: &Dataset) -> Option<Vec<(String, String)>> {
    let (layer, bias) = linear_model(dag)?;
    let names = &d.feature_names;
    let features = d.features;
    let name_of = |name: &String| {
        if name == &format!("{layer}.bias[0]") {
            return (theta(0), "(intercept)".to_string());
        }
        let i = name.rsplit('[').next().and_then(|s| s.trim_end_matches(']').parse::<usize>().ok());
        match i {
            Some(i) if i < features => {
                (theta(i + usize::from(bias)), names.get(i).cloned().unwrap_or_else(|| format!("x{i}")))
            }
            _ => (String::new(), String::new()),
        }
    };
    Some(elements.iter().map(name_of).collect())
}

/// Each parameter element's label for pictures (`θ₁ (x1)` for a linear model, the
/// element name otherwise) and, where the data generator knows it (`kind = "linear"`,
/// inputs not normalised), the true value it should reach.
pub fn param_labels(elements: &[String], dag: &Dag, p: &Prepared) -> (Vec<String>, Vec<Option<f64>>) {
    let Some(course) = course_names(elements, dag, &p.data.train) else {
        return (elements.to_vec(), vec![None; elements.len()]);
    };
    let spec = crate::data::resolve_defaults(p.loaded.spec.data.get_ref());
    let known = spec.kind == Some(crate::spec::DataKind::Linear) && spec.normalize.is_none();
    let truth = |input: &str| -> Option<f64> {
        if !known {
            return None;
        }
        match input {
            "(intercept)" | "bias" => spec.intercept,
            _ => {
                let j: usize = input.strip_prefix('x')?.parse().ok()?;
                spec.coefficients.as_ref()?.get(j.checked_sub(1)?).copied()
            }
        }
    };
    let labels = course
        .iter()
        .zip(elements)
        .map(|((symbol, input), raw)| if symbol.is_empty() { raw.clone() } else { format!("{symbol} ({input})") })
        .collect();
    (labels, course.iter().map(|(_, input)| truth(input)).collect())
}

/// The layer of a linear model (one dense layer with one unit reading the input, the
/// only layer with parameters) and whether it has a bias.
fn linear_model(dag: &Dag) -> Option<(String, bool)> {
    let with_params: Vec<_> = dag.nodes.iter().filter(|n| n.param_count() > 0).collect();
    match with_params.as_slice() {
        [n] => match n.op {
            NodeOp::Dense { units: 1, bias } if n.inputs == [0] => Some((n.name.clone(), bias)),
            _ => None,
        },
        _ => None,
    }
}

/// `[output] nodes` (the model's output by default) on the split shown.
fn output_tables<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, p: &Prepared) -> Vec<Table> {
    let (split, Some(d)) = shown_split(p) else { return vec![] };
    let dag = &model.dag;
    let nodes: Vec<usize> = match &p.loaded.spec.output.nodes {
        n if n.is_empty() => vec![dag.output],
        n => n.iter().filter_map(|name| dag.find(name)).collect(),
    };
    let (shown, truncated) = first_rows(d);
    let values = train::node_values(be, model, &shown.inputs.values(), &shown.sample_shape(), &nodes);
    // A binary classifier's sigmoid units print as the course's rounded truth table.
    let rounds = |i: usize| {
        let n = &dag.nodes[i];
        d.classes == Some(2) && n.width() == 1 && matches!(n.op, NodeOp::Map(Map::Sigmoid))
    };
    let rounded = nodes.iter().any(|&i| rounds(i));
    let blocks: Vec<Block> = nodes
        .iter()
        .zip(values)
        .filter_map(|(&i, v)| Block::of(dag, i, v, shown.len(), truncated, "", rounds(i)))
        .collect();
    let mut note = row_note(d.len(), truncated, p.loaded.spec.output.predictions, "predictions.csv");
    if rounded {
        let exact = "sigmoid outputs rounded at 0.5; the exact values are in predictions.csv";
        note = Some(match note {
            Some(n) => format!("{n}; {exact}"),
            None if p.loaded.spec.output.predictions => exact.into(),
            None => "sigmoid outputs rounded at 0.5; `[output] predictions = true` writes the exact values".into(),
        });
    }
    let title = format!("outputs ({}, {} rows)", split.name(), d.len());
    layout(&title, &shown, blocks, note)
}

/// `[output] gradients` on the training split, as gradients.csv holds them.
fn gradient_tables<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, p: &Prepared) -> Vec<Table> {
    let d = &p.data.train;
    let dag = &model.dag;
    let nodes: Vec<usize> = p.loaded.spec.output.gradients.iter().filter_map(|n| dag.find(n)).collect();
    if nodes.is_empty() {
        return vec![];
    }
    let (shown, truncated) = first_rows(d);
    let grads = train::input_gradients(be, model, &shown, &nodes);
    let blocks: Vec<Block> = nodes
        .iter()
        .zip(grads)
        .filter_map(|(&i, g)| Block::of(dag, i, g, shown.len(), truncated, "∂", false))
        .collect();
    let out = &dag.nodes[dag.output].name;
    let title = format!("gradients of sum({out}) (train, {} rows)", d.len());
    layout(&title, &shown, blocks, row_note(d.len(), truncated, true, "gradients.csv"))
}

/// The first [`MAX_ROWS`] rows of `d`, and whether that is fewer than all.
fn first_rows(d: &Dataset) -> (Dataset, bool) {
    if d.len() <= MAX_ROWS {
        (d.clone(), false)
    } else {
        (d.select(&(0..MAX_ROWS).collect::<Vec<_>>()), true)
    }
}

fn row_note(rows: usize, truncated: bool, in_file: bool, file: &str) -> Option<String> {
    let rest = if in_file { format!("all in {file}") } else { "not all printed".to_string() };
    truncated.then(|| format!("the first {MAX_ROWS} of {rows} rows; {rest}"))
}

/// One node's columns in a printed table.
struct Block {
    node: String,
    names: Vec<String>,
    /// rows × names.len(), already formatted.
    cells: Vec<String>,
}

impl Block {
    /// `prefix` goes before each column name (`∂` for gradients). None for a node too
    /// wide to print, or a reduction over the batch when only some rows were computed.
    fn of(dag: &Dag, i: usize, v: Vec<f64>, rows: usize, partial: bool, prefix: &str, round: bool) -> Option<Block> {
        let node = &dag.nodes[i];
        let name = &node.name;
        let show = |x: f64| if round { number((x >= 0.5) as u8 as f64) } else { number(x) };
        if !node.batched {
            // Repeated on every row, as in predictions.csv.
            let value = show(*v.first()?);
            return (!partial).then(|| Block {
                names: vec![format!("{prefix}{name}")],
                cells: vec![value; rows],
                node: name.clone(),
            });
        }
        let w = node.width().max(1);
        if w > MAX_NODE_COLUMNS || v.len() != rows * w {
            return None;
        }
        let names = if w == 1 {
            vec![format!("{prefix}{name}")]
        } else {
            (0..w).map(|j| format!("{prefix}{name}_{j}")).collect()
        };
        Some(Block { names, cells: v.into_iter().map(show).collect(), node: name.clone() })
    }
}

/// The blocks side by side in one table when they fit, else one table per block; each
/// row labelled by its inputs (a few named features) or its number.
fn layout(title: &str, d: &Dataset, blocks: Vec<Block>, note: Option<String>) -> Vec<Table> {
    if blocks.is_empty() {
        return vec![];
    }
    let named = d.features <= MAX_LABEL_FEATURES && d.feature_names.len() == d.features;
    let label_header: Vec<String> = if named { d.feature_names.clone() } else { vec!["row".into()] };
    let label = |r: usize| -> Vec<String> {
        if named {
            d.input_row(r).iter().map(|&x| number(x)).collect()
        } else {
            vec![r.to_string()]
        }
    };
    let table_of = |title: String, blocks: &[Block], note: Option<String>| {
        let mut header = label_header.clone();
        header.extend(blocks.iter().flat_map(|b| b.names.iter().cloned()));
        let rows = (0..d.len())
            .map(|r| {
                let mut row = label(r);
                for b in blocks {
                    let w = b.names.len();
                    row.extend(b.cells[r * w..(r + 1) * w].iter().cloned());
                }
                row
            })
            .collect();
        // Input values are numbers too: right-aligned; a row number is a label.
        let labels = usize::from(!named);
        Table { title, header, labels, rows, note }
    };
    let columns: usize = blocks.iter().map(|b| b.names.len()).sum();
    if columns <= MAX_SHARED_COLUMNS || blocks.len() == 1 {
        return vec![table_of(title.to_string(), &blocks, note)];
    }
    let last = blocks.len() - 1;
    blocks
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let title = format!("{title}: {}", b.node);
            table_of(title, std::slice::from_ref(b), if k == last { note.clone() } else { None })
        })
        .collect()
}

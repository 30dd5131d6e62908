//! The layer table `runner check` prints, like Keras' `summary()`.

use super::Dag;
use crate::error::clip;

/// The widest a name or list of inputs is shown; a longer one is cut with `…`.
const SHOWN_NAME_CHARS: usize = 40;

pub fn summary_table(dag: &Dag) -> String {
    let mut rows: Vec<[String; 5]> =
        vec![["layer".into(), "op".into(), "inputs".into(), "output shape".into(), "params".into()]];
    for node in &dag.nodes {
        let inputs: Vec<&str> = node.inputs.iter().filter_map(|&i| dag.nodes.get(i)).map(|n| n.name.as_str()).collect();
        let shape = if node.shape.is_empty() {
            "scalar".to_string()
        } else {
            let dims: Vec<String> = node.shape.iter().map(|d| d.to_string()).collect();
            format!("[batch, {}]", dims.join(", "))
        };
        let inputs = clip(&inputs.join(", "), SHOWN_NAME_CHARS);
        rows.push([
            clip(&node.name, SHOWN_NAME_CHARS),
            node.op_name.clone(),
            inputs,
            shape,
            node.param_count().to_string(),
        ]);
    }
    let mut widths = [0usize; 5];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>w4$}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        )
    };
    let rule = "-".repeat(widths.iter().sum::<usize>() + 8) + "\n";
    let mut out = line(&rows[0]);
    out += &rule;
    for r in &rows[1..] {
        out += &line(r);
    }
    out += &rule;
    out += &format!("total parameters: {}\n", dag.param_count());
    let output = dag.nodes.get(dag.output).map(|n| clip(&n.name, SHOWN_NAME_CHARS)).unwrap_or_default();
    out += &format!("output: {output}\n");
    out
}

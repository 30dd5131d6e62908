//! The layer table `runner check` prints, like Keras' `summary()`.

use super::Dag;

/// The most characters a table cell shows: format widths above 65,535 panic, and a
/// table with a 65,536-character layer name is unreadable anyway.
const MAX_CELL: usize = 60;

fn cut(cell: &str) -> String {
    if cell.chars().count() > MAX_CELL {
        format!("{}…", cell.chars().take(MAX_CELL - 1).collect::<String>())
    } else {
        cell.to_string()
    }
}

pub fn summary_table(dag: &Dag) -> String {
    let mut rows: Vec<[String; 5]> =
        vec![["layer".into(), "op".into(), "inputs".into(), "output shape".into(), "params".into()]];
    for node in &dag.nodes {
        let inputs: Vec<&str> = node.inputs.iter().map(|&i| dag.nodes[i].name.as_str()).collect();
        let shape = if node.shape.is_empty() {
            "scalar".to_string()
        } else {
            let dims: Vec<String> = node.shape.iter().map(|d| d.to_string()).collect();
            format!("[batch, {}]", dims.join(", "))
        };
        let cells = [node.name.clone(), node.op_name.clone(), inputs.join(", "), shape, node.param_count().to_string()];
        rows.push(cells.map(|c| cut(&c)));
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
    out += &format!("output: {}\n", cut(&dag.nodes[dag.output].name));
    out
}

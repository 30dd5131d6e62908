//! What each picture and file of a run folder shows, from its name: probe files are
//! named `<kind>[_<part>][_<split>].png` (see `probes::file_stem`).

/// Probe kinds with what their picture shows, longest names first where one name
/// begins another.
const KINDS: [(&str, &str); 16] = [
    ("curves", "Metric curves over training steps, one panel per metric, one line per split."),
    ("params", "The path of every learned parameter over training steps."),
    ("dataset", "The 2-D data set, coloured by class."),
    ("decision_boundary", "The classifier's decision regions, with the data on top."),
    ("truth_vs_prediction", "True/false positives and negatives of the classifier in the input plane."),
    ("confusion", "The confusion matrix: true class by row, predicted class by column."),
    ("misclassified", "Misclassified images with their true and predicted labels."),
    ("filters", "The learned convolution kernels of a layer, as images."),
    ("activations", "Feature maps of a layer for a few chosen images."),
    ("saliency", "Saliency: how much each input pixel moves the class score (∂score/∂input)."),
    ("input_x_gradient", "Input × gradient: each pixel's contribution to the class score."),
    ("deconvnet", "Deconvnet attribution: the score's gradient with ReLUs passing back positive signals only."),
    ("guided_backprop", "Guided backprop: positive gradients through active ReLUs only."),
    ("gradient_ascent", "Inputs optimised to excite each class (or a layer's channel) most."),
    ("occlusion", "Occlusion: how much hiding each patch lowers the true class's probability."),
    ("adversarial", "Adversarial attacks: accuracy and confidence as the perturbation ε grows."),
];

const SPLITS: [&str; 2] = ["test", "validation"];

/// A picture's caption: what it shows, then where it comes from (probe kind, layer or
/// part, split). None for a file name that no probe writes.
pub struct Caption {
    pub shows: String,
    pub source: String,
}

pub fn picture(name: &str) -> Caption {
    let stem = name.strip_suffix(".png").unwrap_or(name);
    if stem == "layers" {
        return Caption {
            shows: "Per-layer statistics recorded by the hooks during training (activations and gradients).".into(),
            source: "[[hooks]]".into(),
        };
    }
    // The longest kind name the stem starts with (`input_x_gradient`, not a shorter one).
    let kind =
        KINDS.iter().filter(|(k, _)| stem == *k || stem.starts_with(&format!("{k}_"))).max_by_key(|(k, _)| k.len());
    let Some((kind, shows)) = kind else {
        return Caption { shows: "A picture in the run folder.".into(), source: String::new() };
    };
    let mut rest: Vec<&str> = stem[kind.len()..].split('_').filter(|s| !s.is_empty()).collect();
    let split = rest.last().copied().filter(|s| SPLITS.contains(s));
    if split.is_some() {
        rest.pop();
    }
    let mut shows = shows.to_string();
    let mut source = format!("probe {kind}");
    if *kind == "adversarial" && rest == ["examples"] {
        shows = "Adversarial examples: images perturbed until the model changes its answer.".into();
    } else if !rest.is_empty() {
        source += &format!(", layer {}", rest.join("_"));
    }
    // Curves, params and filters are not of one split (file_stem names none).
    if !matches!(*kind, "curves" | "params" | "filters") {
        source += &format!(", {} split", split.unwrap_or("train"));
    }
    Caption { shows, source }
}

/// A line on what a file of the run holds, where it is one runner always names so.
pub fn file(name: &str) -> &'static str {
    match name {
        "spec.toml" => "the resolved spec: run it again with `runner run spec.toml`",
        "manifest.json" => "what ran: versions, seed, times, status, final metrics, files",
        "metrics.csv" => "every recorded metric per step and split",
        "params.csv" => "every parameter per step",
        "params_final.csv" => "the final parameters",
        "layers.csv" => "per-layer statistics from the hooks",
        "model.safetensors" => "the trained parameters (safetensors; Python's safetensors reads it)",
        "predictions.csv" => "the model's outputs per sample and split",
        "gradients.csv" => "gradients of the output with respect to the chosen nodes",
        "confusion.csv" => "the confusion matrix (counts)",
        "classes.csv" => "precision, recall, F1 and support per class",
        "sweep.csv" => "one row per run: settings, seed, status, final metrics, folder",
        "summary.csv" => "per setting: mean, std and count over seeds of each final metric",
        "runs.jsonl" => "the run list, one JSON object a line",
        _ if name.ends_with(".csv") => "the numbers behind a picture",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_name_the_probe_the_layer_and_the_split() {
        assert_eq!(picture("activations_conv1_test.png").source, "probe activations, layer conv1, test split");
        assert_eq!(picture("input_x_gradient_test.png").source, "probe input_x_gradient, test split");
        assert_eq!(picture("filters_conv2.png").source, "probe filters, layer conv2");
        assert_eq!(picture("curves.png").source, "probe curves");
        assert_eq!(picture("decision_boundary.png").source, "probe decision_boundary, train split");
        let ex = picture("adversarial_examples_test.png");
        assert_eq!(ex.source, "probe adversarial, test split");
        assert!(ex.shows.starts_with("Adversarial examples"));
        assert_eq!(picture("layers.png").source, "[[hooks]]");
        assert_eq!(picture("whatever.png").source, "");
    }
}

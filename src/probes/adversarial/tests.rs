use super::attack::{sign, Pgd, Setup};
use super::testkit::{class_means, csv_rows, fixture, mnist_spec, LINEAR, SMALL_CNN};
use crate::inspect::Inspect;
use crate::probes::scores::Scores;
use crate::spec::{Attack, ProbeKind, ProbeSpec, Split};
use std::collections::HashMap;

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("{s} is a number"))
}

/// FGSM on a linear model: class 0 reads the pixels with weights w, every other class
/// scores 0. ∂CE/∂x = (p₀ − [y = 0])·w, so each pixel moves by ε·sign(w) for a digit
/// that is not a 0 and by −ε·sign(w) for a 0; zero weights move nothing; then the
/// pixel is clamped to [0, 1].
#[test]
fn fgsm_on_a_linear_model_moves_each_pixel_by_epsilon_times_the_weight_sign() {
    let f = 784;
    let w: Vec<f64> = (0..f).map(|j| ((j * 7919 % 13) as f64 - 6.0) * 0.002).collect();
    let mut weight = vec![0.0; 10 * f];
    weight[..f].copy_from_slice(&w);
    let given = HashMap::from([("fc.weight".to_string(), weight), ("fc.bias".to_string(), vec![0.0; 10])]);
    let fix = fixture(&mnist_spec(16, 24, LINEAR), Some(&given));
    let inspector = fix.inspector();
    let d = fix.p.data.test.as_ref().expect("a test split");
    let scale = fix.p.data.scale;
    let setup = Setup { model: &inspector, scores: Scores::of(inspector.dag()), scale, mask: vec![true; f] };
    let raw: Vec<f64> = d.inputs.iter().map(|v| scale.to_raw(v)).collect();
    let labels: Vec<usize> = d.targets.iter().map(|t| *t as usize).collect();
    assert!(labels.contains(&0) && labels.iter().any(|&y| y != 0), "both cases occur: {labels:?}");
    let eps = 0.1;
    let pgd = Pgd { steps: 10, step_size: None, random_start: true };
    let mut rng = crate::rng::stream(1, "attack");
    let adv = setup.sweep(Attack::Fgsm, &raw, &labels, &[eps], pgd, &mut rng).swap_remove(0).adv;
    let mut clamped = 0;
    for (i, &y) in labels.iter().enumerate() {
        let away = if y == 0 { -1.0 } else { 1.0 };
        for j in 0..f {
            let moved = raw[i * f + j] + eps * (away * sign(w[j]));
            clamped += usize::from(!(0.0..=1.0).contains(&moved));
            assert_eq!(adv[i * f + j], moved.clamp(0.0, 1.0), "sample {i} (label {y}), pixel {j}");
        }
    }
    assert!(clamped > 1000, "the test crosses the valid range often: {clamped} clamped pixels");
    assert!(w.iter().filter(|v| **v == 0.0).count() > 20, "some weights are zero and move nothing");
}

/// The diamond with one sigmoid unit on (x, y, bias): the only change FGSM makes moves x
/// and y by ε·sign(w) against the label, never the bias column, so the logit's margin
/// falls by exactly ε·(|w_x| + |w_y|). A sample stays right while its margin exceeds
/// that: accuracy at each ε is known, never rises, and equals the clean accuracy at 0.
/// PGD (10 steps of 2.5ε/10) reaches the same corner of the box from any start.
#[test]
fn attacks_on_a_linear_unit_follow_the_margin_and_pgd_at_zero_keeps_clean_accuracy() {
    let spec = "name = \"lin2d\"\nseed = 3\n[data]\nkind = \"diamond\"\nn = 400\nrange = [-1.0, 1.0]\n\
                bias_column = \"last\"\n\n[[model.layers]]\nname = \"logit\"\nop = \"dense\"\nunits = 1\nbias = false\n\n\
                [[model.layers]]\nname = \"out\"\nop = \"sigmoid\"\n";
    let w = [0.8, -0.3, 0.4];
    let given = HashMap::from([("logit.weight".to_string(), w.to_vec())]);
    let fix = fixture(spec, Some(&given));
    let eps = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0];
    let probe = ProbeSpec { epsilons: Some(eps.to_vec()), ..ProbeSpec::of(ProbeKind::Adversarial) };
    let files = fix.render(&probe, Split::Train).expect("the probe runs");
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["adversarial.csv", "adversarial.png"], "2-D data has no example grid");
    let rows = csv_rows(&files, "adversarial.csv");
    assert_eq!(rows.len(), 2 * eps.len());
    let d = &fix.p.data.train;
    let margins: Vec<f64> = (0..d.len())
        .map(|i| {
            let x = d.input_row(i);
            let logit: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
            if d.targets[i] == 1.0 {
                logit
            } else {
                -logit
            }
        })
        .collect();
    for (attack, chunk) in ["fgsm", "pgd"].iter().zip(rows.chunks(eps.len())) {
        let mut previous = f64::INFINITY;
        for (row, e) in chunk.iter().zip(eps) {
            assert_eq!(row[0], *attack);
            assert_eq!(num(&row[1]), e);
            let expected = margins.iter().filter(|m| **m > e * (w[0].abs() + w[1].abs())).count() as f64 / 400.0;
            let accuracy = num(&row[3]);
            assert_eq!(accuracy, expected, "{attack} at ε = {e}");
            assert!(accuracy <= previous, "{attack}: accuracy rose at ε = {e}");
            previous = accuracy;
            assert_eq!(num(&row[8]), num(&chunk[0][3]), "the clean accuracy is the ε = 0 row's");
        }
        assert!(num(&chunk[0][3]) > 0.5 && num(&chunk[eps.len() - 1][3]) < num(&chunk[0][3]));
    }
    // The clean accuracy from the run's own outputs.
    let clean = fix.with_ctx(Split::Train, |ctx| {
        (0..d.len()).filter(|&i| (ctx.outputs[i] > 0.5) == (d.targets[i] == 1.0)).count() as f64 / 400.0
    });
    assert_eq!(num(&rows[eps.len()][3]), clean, "PGD at ε = 0");
}

/// On a small CNN (nearest-class-mean weights in the dense layer, seeded convs): the
/// accuracy never rises with ε for either attack, ε = 0 keeps the clean accuracy, the
/// perturbation stays within ε and [0, 1], and the same seed gives the same bytes.
#[test]
fn attacks_on_images_stay_in_budget_never_raise_accuracy_and_repeat_exactly() {
    let linear = fixture(&mnist_spec(300, 60, LINEAR), None);
    let given = class_means(&linear, 0.05);
    let fix = fixture(&mnist_spec(300, 60, LINEAR), Some(&given));
    let probe = ProbeSpec { images: Some(vec![0, 5, 7]), ..ProbeSpec::of(ProbeKind::Adversarial) };
    let files = fix.render(&probe, Split::Test).expect("the probe runs");
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["adversarial_test.csv", "adversarial_test.png", "adversarial_examples_test.png"]);
    let rows = csv_rows(&files, "adversarial_test.csv");
    assert_eq!(rows.len(), 14, "2 attacks × 7 default epsilons");
    for chunk in rows.chunks(7) {
        assert!(num(&chunk[0][3]) > 0.6, "the class means classify: {}", chunk[0][3]);
        assert_eq!(num(&chunk[0][3]), num(&chunk[0][8]));
        for pair in chunk.windows(2) {
            assert!(num(&pair[1][3]) <= num(&pair[0][3]), "accuracy rose: {pair:?}");
            assert!(num(&pair[1][7]) <= num(&pair[1][1]) + 1e-12, "L∞ within ε: {pair:?}");
        }
        assert!(num(&chunk[6][3]) < 0.2, "ε = 0.3 fools a linear model: {chunk:?}");
    }
    assert_eq!(files, fix.render(&probe, Split::Test).expect("the probe runs again"), "same seed, same bytes");

    let cnn = fixture(&mnist_spec(16, 40, SMALL_CNN), None);
    let probe = ProbeSpec { attacks: Some(vec![Attack::Pgd]), ..ProbeSpec::of(ProbeKind::Adversarial) };
    let rows = csv_rows(&cnn.render(&probe, Split::Test).expect("the probe runs"), "adversarial_test.csv");
    for pair in rows.windows(2) {
        assert!(num(&pair[1][3]) <= num(&pair[0][3]), "PGD accuracy rose on the CNN: {pair:?}");
    }
}

#[test]
fn bad_settings_are_errors_not_panics() {
    let fix = fixture(&mnist_spec(16, 8, LINEAR), None);
    let bad = [
        ProbeSpec { count: Some(9), ..ProbeSpec::of(ProbeKind::Adversarial) },
        ProbeSpec { epsilons: Some(vec![-0.1]), ..ProbeSpec::of(ProbeKind::Adversarial) },
        ProbeSpec { images: Some(vec![8]), ..ProbeSpec::of(ProbeKind::Adversarial) },
        ProbeSpec { steps: Some(0), ..ProbeSpec::of(ProbeKind::Adversarial) },
        ProbeSpec { step_size: Some(f64::NAN), ..ProbeSpec::of(ProbeKind::Adversarial) },
    ];
    for probe in bad {
        let e = fix.render(&probe, Split::Test).expect_err("a bad setting is refused");
        assert!(!e.is_empty());
    }
}

/// PGD on a CNN stays inside the ε-ball around each image and inside [0, 1], pixel by
/// pixel, at every ε of the sweep; a sample wrong at one ε stays wrong at every larger one.
#[test]
fn pgd_stays_in_the_ball_and_the_valid_range() {
    let fix = fixture(&mnist_spec(16, 24, SMALL_CNN), None);
    let inspector = fix.inspector();
    let d = fix.p.data.test.as_ref().expect("a test split");
    let scale = fix.p.data.scale;
    let setup = Setup { model: &inspector, scores: Scores::of(inspector.dag()), scale, mask: vec![true; 784] };
    let raw: Vec<f64> = d.inputs.iter().map(|v| scale.to_raw(v).clamp(0.0, 1.0)).collect();
    let labels: Vec<usize> = d.targets.iter().map(|t| *t as usize).collect();
    let eps = [0.3, 0.0, 0.1, 0.02];
    let pgd = Pgd { steps: 5, step_size: None, random_start: true };
    let out = setup.sweep(Attack::Pgd, &raw, &labels, &eps, pgd, &mut crate::rng::stream(2, "attack"));
    assert_eq!(out[1].adv, raw, "ε = 0 leaves the inputs");
    for (o, e) in out.iter().zip(eps) {
        for (k, (a, x)) in o.adv.iter().zip(&raw).enumerate() {
            assert!((a - x).abs() <= e + 1e-12 && (0.0..=1.0).contains(a), "ε = {e}, value {k}: {x} → {a}");
        }
    }
    let wrong = |o: &super::attack::Outcome| {
        crate::probes::scores::argmax_rows(&o.probs, 10).iter().zip(&labels).map(|(p, y)| p != y).collect::<Vec<_>>()
    };
    for (small, large) in [(1, 3), (3, 2), (2, 0)] {
        let (a, b) = (wrong(&out[small]), wrong(&out[large]));
        assert!(a.iter().zip(&b).all(|(a, b)| !a || *b), "wrong at ε = {} but right at ε = {}", eps[small], eps[large]);
    }
}

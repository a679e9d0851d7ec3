use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

const NINETY_TEN: &str = r#"
name: ninety-ten
requests:
  - name: allowed
    weight: 90
    method: POST
    path: /v1/runs
    headers: { content-type: application/json }
    body: '{"environment":"staging"}'
    token: $TOKEN
  - name: denied
    weight: 10
    path: /v1/admin
    expect: [403]
"#;

#[test]
fn seeded_picker_hits_weights_within_tolerance() {
    let mix = Mix::from_yaml(NINETY_TEN, &|_| Some("t0k".to_owned())).unwrap();
    let mut rng = Rng::new(7);
    let n = 100_000;
    let mut counts = [0u32; 2];
    for _ in 0..n {
        counts[mix.pick(&mut rng)] += 1;
    }
    let share = f64::from(counts[0]) / f64::from(n);
    assert!((share - 0.9).abs() < 0.01, "allowed share {share}");
}

#[test]
fn picker_is_repeatable_for_a_seed_and_covers_three_weights() {
    let text = r#"
requests:
  - { name: a, weight: 1, path: /a }
  - { name: b, weight: 2, path: /b }
  - { name: zero, weight: 0, path: /z }
  - { name: c, weight: 7, path: /c }
"#;
    let mix = Mix::from_yaml(text, &no_env).unwrap();
    assert_eq!(mix.templates.len(), 3, "zero-weight templates are dropped");
    let picks = |seed| {
        let mut rng = Rng::new(seed);
        (0..50_000).map(|_| mix.pick(&mut rng)).collect::<Vec<_>>()
    };
    let first = picks(42);
    assert_eq!(first, picks(42));
    for (i, want) in [(0, 0.1), (1, 0.2), (2, 0.7)] {
        let got = first.iter().filter(|&&p| p == i).count() as f64 / first.len() as f64;
        assert!((got - want).abs() < 0.01, "template {i}: {got} vs {want}");
    }
}

#[test]
fn token_and_headers_become_request_headers() {
    let mix = Mix::from_yaml(NINETY_TEN, &|v| (v == "TOKEN").then(|| "abc".to_owned())).unwrap();
    let t = &mix.templates[0];
    assert_eq!(t.method, Method::POST);
    assert!(
        t.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer abc")
    );
    assert!(t.is_expected(200) && !t.is_expected(403));
    assert!(mix.templates[1].is_expected(403) && !mix.templates[1].is_expected(200));
}

#[test]
fn bad_mixes_are_rejected_with_the_template_named() {
    let err = Mix::from_yaml(NINETY_TEN, &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "template `allowed`: environment variable `TOKEN` is not set"
    );
    let err = Mix::from_yaml("requests: [{name: x, path: nope}]", &no_env).unwrap_err();
    assert!(matches!(err, MixError::Path { .. }));
    let err = Mix::from_yaml("requests: [{name: x, path: /, weight: 0}]", &no_env).unwrap_err();
    assert!(matches!(err, MixError::Empty));
    let err = Mix::from_yaml("requests: [{name: x, path: /, wieght: 1}]", &no_env).unwrap_err();
    assert!(matches!(err, MixError::Parse(_)));
}

#[test]
fn shipped_mix_files_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mixes");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mix = Mix::from_yaml(&text, &|_| Some("token".to_owned()))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(mix.total_weight() > 0);
        seen += 1;
    }
    assert!(seen >= 3);
}

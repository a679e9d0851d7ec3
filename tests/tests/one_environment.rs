//! A property test over the real gateway: random interleavings of
//! `Connection` tokens, duplicate and variant environment keys, and
//! environment sources never produce a forwarded request whose environment
//! differs from the decision. Every request either is refused (and nothing
//! reaches the upstream) or reaches the upstream with the decided
//! environment — the one its route reads — in `x-reqflo-decided-environment`
//! and in every other place the request names one.
//!
//! The generator is a seeded xorshift, so a failure names a case that can be
//! replayed (`REQFLO_PROPERTY_SEED`, `REQFLO_PROPERTY_CASES`).

use reqflo_tests::raw::{self, Outcome};
use reqflo_tests::{Env, Recorded, bearer};
use serde_json::Value;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Where a route reads its environment.
#[derive(Clone, Copy, Debug)]
enum Source {
    Body,
    Query,
    Header,
    Path,
    None,
}

const ROUTES: &[(&str, &str, Source)] = &[
    (
        "POST",
        "/api/v1/orgs/acme/journeys/checkout-smoke/runs",
        Source::Body,
    ),
    (
        "GET",
        "/api/v1/orgs/acme/journeys/checkout-smoke/preview",
        Source::Query,
    ),
    (
        "POST",
        "/api/v1/orgs/acme/journeys/checkout-smoke/dry-runs",
        Source::Header,
    ),
    (
        "POST",
        "/api/v1/orgs/acme/environments/staging/journeys/checkout-smoke/runs",
        Source::Path,
    ),
    (
        "GET",
        "/api/v1/orgs/acme/journeys/checkout-smoke",
        Source::None,
    ),
];

const VALUES: &[&str] = &[
    "staging",
    "staging",
    "staging",
    "staging",
    "production",
    "qa",
];
/// The first is the query route's own key.
const QUERY_KEYS: &[&str] = &[
    "environment",
    "Environment",
    "environment[]",
    "environment%20",
    "ENVIRONMENT",
    "env",
    "environment%5B0%5D",
];
/// The first two are the route's own spelling (header routes read it once).
const HEADER_NAMES: &[&str] = &[
    "X-Reqflo-Environment",
    "x-reqflo-environment",
    "X_Reqflo_Environment",
    "X-Environment",
    "X-Env",
    "X-REQFLO-ENVIRONMENT",
];
/// The first is the body route's own key.
const BODY_KEYS: &[&str] = &[
    "environment",
    "Environment",
    " environment",
    "environment[]",
    "env",
    "ENVIRONMENT",
    "other",
];
const TOKENS: &[&str] = &[
    "keep-alive",
    "close",
    "te",
    "X-Reqflo-Environment",
    "Authorization",
    "x-reqflo-decided-environment",
    "Content-Type",
];

/// One random request, and the value its route would read (exactly spelled),
/// which is what a forwarded request must have been decided on. The route's
/// own occurrence comes first (usually present); each variant usually
/// repeats its value, sometimes names another.
fn case(rng: &mut Rng) -> (Vec<u8>, Option<String>) {
    let (method, path, source) = ROUTES[rng.below(ROUTES.len())];
    let own = rng.pick(VALUES).to_owned();
    let mut read: Option<String> = match source {
        Source::Path => Some("staging".to_owned()),
        Source::None => None,
        _ if rng.chance(85) => Some(own.clone()),
        _ => None,
    };
    let base = read.clone().unwrap_or_else(|| "staging".to_owned());
    let variant = |rng: &mut Rng| {
        if rng.chance(65) {
            base.clone()
        } else {
            rng.pick(VALUES).to_owned()
        }
    };
    let mut query = Vec::new();
    if let (Source::Query, Some(v)) = (source, &read) {
        query.push(format!("environment={v}"));
    }
    for _ in 0..rng.below(3) {
        query.push(format!("{}={}", rng.pick(&QUERY_KEYS[1..]), variant(rng)));
    }
    if query.len() > 1 {
        let i = rng.below(query.len());
        query.swap(0, i);
    }
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let mut headers = vec![format!("Authorization: {}", bearer("alice"))];
    let connection = |rng: &mut Rng| {
        let n = 1 + rng.below(2);
        let tokens: Vec<&str> = (0..n).map(|_| rng.pick(TOKENS)).collect();
        format!("Connection: {}", tokens.join(", "))
    };
    if rng.chance(30) {
        headers.push(connection(rng));
    }
    if let (Source::Header, Some(v)) = (source, &read) {
        headers.push(format!("X-Reqflo-Environment: {v}"));
    }
    let mut own_header = read.is_some() && matches!(source, Source::Header);
    for _ in 0..rng.below(3) {
        let (name, value) = (rng.pick(&HEADER_NAMES[2..]), variant(rng));
        // Header names are case-insensitive: on the header route this one is
        // the route's own header (a second one is a refused duplicate).
        if matches!(source, Source::Header)
            && name.eq_ignore_ascii_case("x-reqflo-environment")
            && !own_header
        {
            own_header = true;
            read = Some(value.clone());
        }
        headers.push(format!("{name}: {value}"));
    }
    if rng.chance(30) {
        headers.push(connection(rng));
    }
    let mut body = String::new();
    if method == "POST" && (matches!(source, Source::Body) || rng.chance(50)) {
        let mut fields = Vec::new();
        if let (Source::Body, Some(v)) = (source, &read) {
            fields.push(format!("\"environment\": {v:?}"));
        }
        let mut used = vec!["environment"];
        for _ in 0..rng.below(3) {
            let key = rng.pick(&BODY_KEYS[1..]);
            if used.contains(&key) {
                continue;
            }
            used.push(key);
            fields.push(format!("{key:?}: {:?}", variant(rng)));
        }
        if fields.len() > 1 {
            let i = rng.below(fields.len());
            fields.swap(0, i);
        }
        body = format!("{{{}}}", fields.join(", "));
        headers.push("Content-Type: application/json".to_owned());
    }
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    (
        raw::request(method, target.as_bytes(), &header_refs, body.as_bytes()),
        read,
    )
}

/// Whether a query or body key is read as an environment by a lenient backend.
fn names_env(key: &str) -> bool {
    matches!(&*reqflo_config::normalize_key(key), "environment" | "env")
}

/// Every environment the forwarded request names, with where.
fn named(got: &Recorded) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in [
        "x-reqflo-decided-environment",
        "x-reqflo-environment",
        "x-environment",
        "x-env",
        "x_reqflo_environment",
    ] {
        for v in got.header_all(name) {
            out.push((format!("header {name}"), v));
        }
    }
    let query = got.target.split_once('?').map_or("", |(_, q)| q);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if names_env(&k) {
            out.push((format!("query {k}"), v.into_owned()));
        }
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&got.body) {
        for (k, v) in map {
            if names_env(&k) {
                out.push((
                    format!("body {k}"),
                    v.as_str().unwrap_or("<not a string>").to_owned(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_forwarded_request_names_another_environment_than_the_decided_one() {
    let seed = std::env::var("REQFLO_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_u64);
    let cases = std::env::var("REQFLO_PROPERTY_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let env = Env::start().await;
    let mut rng = Rng(seed);
    let (mut forwarded, mut refused) = (0, 0);
    for n in 0..cases {
        let (bytes, read) = case(&mut rng);
        let shown = String::from_utf8_lossy(&bytes).replace(&bearer("alice"), "Bearer …");
        let outcome = raw::roundtrip(env.gateway.proxy, &bytes).await;
        let got = env.upstream.take();
        let status = match &outcome {
            Outcome::Response(r) => r.status,
            Outcome::Closed => 0,
        };
        if status != 200 {
            assert!(
                got.is_empty(),
                "case {n} (seed {seed}): refused with {status} but forwarded:\n{shown}"
            );
            refused += 1;
            continue;
        }
        let [got] = got.as_slice() else {
            panic!(
                "case {n} (seed {seed}): 200 with {} upstream requests:\n{shown}",
                got.len()
            );
        };
        forwarded += 1;
        let decided = got
            .header_all("x-reqflo-decided-environment")
            .into_iter()
            .next();
        assert_eq!(
            decided, read,
            "case {n} (seed {seed}): decided on {decided:?}, the route reads {read:?}:\n{shown}"
        );
        for (place, value) in named(got) {
            assert_eq!(
                Some(&value),
                decided.as_ref(),
                "case {n} (seed {seed}): {place} says {value:?}, decided {decided:?}:\n{shown}"
            );
        }
    }
    eprintln!("{cases} cases: {forwarded} forwarded, {refused} refused");
    assert!(
        forwarded >= cases / 10,
        "too few cases were forwarded ({forwarded}) to show anything"
    );
    assert!(
        refused >= cases / 10,
        "too few cases were refused ({refused})"
    );
}
